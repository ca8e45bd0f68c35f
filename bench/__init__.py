"""Benchmarks run by ``make bench-*``; each writes its figures as JSON under ``bench/results/``.

:func:`write_result` adds the machine and the date to a result so figures can be compared
across runs and machines.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What the figures were measured on.

    >>> sorted(machine())
    ['cpu', 'cpus', 'memory_gb', 'os', 'python']
    """
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        model = names[0] if names else model
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gb": round(pages * os.sysconf("SC_PAGE_SIZE") / 2**30, 1) if pages else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def quantile(values: Sequence[float], q: float) -> float | None:
    """The value at quantile ``q`` (0.5 median, 0.9 p90), interpolated between the two
    nearest values; ``None`` without values.

    >>> quantile([10.0, 20.0, 30.0, 40.0], 0.5), quantile([7.0], 0.9), quantile([], 0.5)
    (25.0, 7.0, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """``rows`` under ``headers``: a markdown table, or text with aligned columns (the first
    left-aligned, the others right-aligned).

    >>> print(format_table(["kind", "n"], [["web", "12"], ["batch", "3"]], markdown=False))
    kind    n
    web    12
    batch   3
    >>> print(format_table(["kind", "n"], [["web", "12"]], markdown=True))
    | kind | n |
    |---|---:|
    | web | 12 |
    """
    if markdown:
        rule = "|---|" + "---:|" * (len(headers) - 1)
        lines = ["| " + " | ".join(cells) + " |" for cells in [headers, *rows]]
        return "\n".join([lines[0], rule, *lines[1:]])
    widths = [max(len(r[n]) for r in [headers, *rows]) for n in range(len(headers))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if n == 0 else cell.rjust(width)
            for n, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()
        for cells in [headers, *rows]
    )


def write_result(path: Path, benchmark: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` as JSON at ``path`` with the benchmark's name, machine and date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": benchmark,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **figures,
    }
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path
