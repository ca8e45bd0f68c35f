"""Durations and thresholds in words, for verdict reasons a person reads.

>>> duration(85 * 60), duration(23 * 3600 + 1800), duration(6 * 86_400 + 20 * 3600)
('85 minutes', '23.5 hours', '6.8 days')
>>> rate(5_000.0)
'5 KB/s'
"""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``seconds`` as minutes (under 2 hours), hours (under 2 days) or days."""
    if seconds < 7_200:
        return f"{round(seconds / 60)} minutes"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86_400:.1f} days"


def rate(bytes_per_second: float) -> str:
    """A network rate in B/s, KB/s or MB/s (decimal units, as CloudWatch counts bytes)."""
    for unit, size in (("MB/s", 1e6), ("KB/s", 1e3)):
        if bytes_per_second >= size:
            return f"{bytes_per_second / size:g} {unit}"
    return f"{bytes_per_second:g} B/s"
