"""The web dashboard's first paint, from the browser's own performance timing (target: at most 1 s).

    python benchmarks/dashboard_paint.py [--loads 10] [--speed 300]

Starts `mismartera serve config/example_session.json --speed N` on seeded demo bars in a throwaway
home, opens the dashboard in headless Chromium (Debian's, through tests/dashboard_browser.py), and
navigates to it `--loads` times (the first load is a cold one: nothing cached yet). For each load it reads
`first-contentful-paint` (ms from navigation start) and the time until the first status is on the
page. Prints the median and every load's figure, and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import dashboard_browser as browser  # noqa: E402

TARGET_MS = 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10, help="page loads to measure (default 10)")
    parser.add_argument("--speed", type=float, default=300, help="replay speed of the served backtest")
    args = parser.parse_args(argv)
    if reason := browser.missing_browser():
        print(f"dashboard_paint: cannot run: {reason}", file=sys.stderr)
        return 1
    paints: list[float] = []
    ready: list[float] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mm-paint-") as folder:
        home = browser.seed_example(Path(folder) / "home")
        served = browser.Served(home, args.speed)
        try:
            with browser.chromium() as driver:
                for _ in range(args.loads):
                    driver.get("about:blank")
                    began = time.perf_counter()
                    browser.open_dashboard(driver, served.dashboard_url)
                    ready.append((time.perf_counter() - began) * 1000)
                    paint = browser.first_paint_ms(driver)
                    assert paint is not None, "the browser reported no paint"
                    paints.append(paint)
        finally:
            served.end()
    median = statistics.median(paints)
    print(f"dashboard first paint: {median:.0f} ms median of {len(paints)} loads (target <= {TARGET_MS:.0f} ms); "
          f"every load: {', '.join(f'{x:.0f}' for x in paints)} ms")
    print(f"first status on the page: {statistics.median(ready):.0f} ms median; every load: "
          f"{', '.join(f'{x:.0f}' for x in ready)} ms")
    print(f"load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores, shared)")
    return 0 if median <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
