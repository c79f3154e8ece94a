"""Peak resident memory of the calling process, for the benchmark children to report on themselves.

Each engine runs in a process of its own and reads its own high-water mark, so the figures are not
mixed (RUSAGE_CHILDREN in the parent would give the largest child of all, not each one's).
"""

from __future__ import annotations

import resource
import sys


def peak_rss_mb() -> float:
    """Peak RSS in MiB: VmHWM from /proc on Linux, else getrusage (kilobytes on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
