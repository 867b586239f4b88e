"""What every benchmark reports: throughput, latency percentiles and the machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys


def percentile_ms(latencies_s: list[float], fraction: float) -> float:
    """The nearest-rank percentile of latencies given in seconds, in milliseconds."""
    if not latencies_s:
        return 0.0
    ordered = sorted(latencies_s)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000, 3)


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "implementation": sys.implementation.name,
    }
