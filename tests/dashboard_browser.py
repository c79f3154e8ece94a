"""Headless Chromium against a real `mismartera serve` process, for the dashboard's browser test
(tests/e2e/test_dashboard_browser.py), the README's screenshot and the first-paint benchmark.

Importable as `dashboard_browser` (tests/ is on sys.path). Run it to remake docs/dashboard.png:

    python tests/dashboard_browser.py docs/dashboard.png

Uses Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver) through
Selenium; `.ci/run` installs them when they are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "config/example_session.json"
DESKTOP = (1280, 800)
PHONE = (390, 844)


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed, else None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/lib/chromium/chromedriver" if os.path.exists("/usr/lib/chromium/chromedriver") else None)
    return (browser, driver) if browser and driver else None


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if chromium_paths() is None:
        return "Chromium and its driver are not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    return None


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[Any]:
    """A headless Chromium driven by Selenium, the window `size` (width, height) in CSS pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    assert paths is not None, missing_browser()
    browser, driver_path = paths
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tempfile.mkdtemp(prefix="mismartera-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
                 f"--window-size={size[0]},{size[1]}", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.set_page_load_timeout(30)
        # The viewport itself at `size` (the window size includes the browser's own frame).
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_"))}
    env.update({"MISMARTERA_HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
    return env


def seed_example(home: Path) -> Path:
    """Demo bars for config/example_session.json in `home`'s database (as the `example_bars` fixture)."""
    from mismartera.data.bar_store import BarStore
    from mismartera.data.database import Database
    from mismartera.data.demo import seed_demo
    from mismartera.timekeeping.calendar import TimeManager

    (home / "data").mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{home / 'data' / 'mismartera.db'}")
    try:
        seed_demo(BarStore(db), TimeManager(), ["AAPL", "MSFT"], date(2024, 11, 25), 4, 7)
    finally:
        db.dispose()
    return home


class Served:
    """A `mismartera serve CONFIG --speed N` process; its API and dashboard URLs from its first lines."""

    def __init__(self, home: Path, speed: float, config: str = CONFIG) -> None:
        self.home = home
        self.ended: tuple[int, str, str] | None = None
        self.proc = subprocess.Popen([sys.executable, "-m", "mismartera", "serve", config, "--speed", str(speed)],
                                     cwd=ROOT, env=environment(home), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().strip()
        second = self.proc.stdout.readline().strip()
        if not first.startswith("mismartera serve: control API at "):
            self.end()
            raise AssertionError(f"serve did not start: {first!r} {second!r}")
        self.api_url = first.split(" at ", 1)[1].split(" ", 1)[0]
        assert second.startswith("dashboard: "), second
        self.dashboard_url = second.split(" ", 1)[1]
        self.output: list[str] = []   # the log serve writes to stdout, drained so the pipe never fills
        self._drain = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._drain.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A one-shot `mismartera ARGS` in another process, against this host."""
        return subprocess.run([sys.executable, "-m", "mismartera", *args], cwd=ROOT, env=environment(self.home),
                              capture_output=True, text=True, timeout=timeout)

    def end(self, timeout: float = 30) -> tuple[int, str, str]:
        """SIGTERM, wait, and (exit code, stdout, stderr); once ended, the same answer again."""
        if self.ended is not None:
            return self.ended
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain.join(5)
        err = self.proc.stderr.read() if self.proc.stderr is not None else ""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self.ended = (self.proc.returncode, "".join(self.output), err)
        return self.ended


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 30.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def open_dashboard(driver: Any, url: str) -> None:
    """Load the page at `url` and wait until the first status has arrived (the run id is shown)."""
    driver.get(url)
    wait_until(lambda: text_of(driver, "run").startswith("run ") and text_of(driver, "run") != "run —",
               "the first status on the page")


def first_paint_ms(driver: Any) -> float | None:
    """The page's first paint (ms from navigation start), from the browser's performance timing."""
    value = driver.execute_script(
        "const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint')"
        " || performance.getEntriesByType('paint').find(e => e.name === 'first-paint');"
        "return p ? p.startTime : null;")
    return float(value) if value is not None else None


def screenshot(driver: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    return path


def distinct_colours(path: Path) -> int:
    """How many different colours a PNG holds (a blank page has one or two)."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    return len(colours or ())


def make_screenshot(target: Path, speed: float = 600, days_done: int = 2) -> Path:
    """The README's screenshot: a paced example backtest after `days_done` days, at 1280×800."""
    with tempfile.TemporaryDirectory(prefix="mismartera-shot-") as folder:
        home = seed_example(Path(folder) / "home")
        served = Served(home, speed)
        try:
            with chromium(DESKTOP) as driver:
                open_dashboard(driver, served.dashboard_url)
                wait_until(lambda: int(text_of(driver, "day").split("(")[1].split(" ")[0]) > days_done,
                           f"{days_done} finished days", timeout=120, step=0.5)
                served.cli("system", "pause")
                time.sleep(1.0)   # the paused status reaches the page
                return screenshot(driver, target)
        finally:
            served.end()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))   # run as a script from anywhere: the worktree's package
    out = make_screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "dashboard.png"))
    print(f"wrote {out} ({distinct_colours(out)} colours)")
