"""An instance list as CSV: the same view (filters, search, sort) without pages, read and
sent in chunks so a large fleet never sits in memory at once.

Cells a spreadsheet would take for a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) get a leading apostrophe, as OWASP advises for CSV exports.

>>> safe_cell("=SUM(A1:A9)"), safe_cell("@cmd"), safe_cell("web-1")
("'=SUM(A1:A9)", "'@cmd", 'web-1')
>>> tags_cell({"team": "data", "env": "prod"})
'env=prod;team=data'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy.orm import Session

from api.services.instance_query import View, page_rows
from spendsense.store.models.api import InstanceView

COLUMNS = (
    "instance_id",
    "name",
    "account_id",
    "region",
    "instance_type",
    "state",
    "verdict",
    "confidence",
    "idle_since",
    "monthly_waste_usd",
    "tags",
)
CHUNK_ROWS = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never run as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def tags_cell(tags: dict[str, str]) -> str:
    """Tags as ``key=value`` pairs joined by ``;``, by key."""
    return ";".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _when(at: datetime | None) -> str:
    return at.isoformat() if at else ""


def csv_row(row: InstanceView) -> list[str]:
    """One instance's cells, in :data:`COLUMNS` order."""
    cells = [
        row.instance_id,
        row.name,
        row.account_id,
        row.region,
        row.instance_type,
        row.state,
        row.status,
        "" if row.confidence is None else f"{row.confidence:.2f}",
        _when(row.idle_since),
        f"{row.monthly_waste_usd or 0.0:.2f}",
        tags_cell(row.tags or {}),
    ]
    return [safe_cell(c) for c in cells]


def csv_lines(rows: Iterable[Iterable[str]]) -> str:
    """Rows as CSV text, CRLF-terminated (RFC 4180)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def csv_chunks(
    sessions: Callable[[], AbstractContextManager[Session]], view: View
) -> Iterator[str]:
    """The header, then the view's rows ``CHUNK_ROWS`` at a time, each chunk read on a
    short session of its own (keyset: no row skipped or repeated between chunks)."""
    yield csv_lines([list(COLUMNS)])
    after: list[object] | None = None
    while True:
        with sessions() as db:
            chunk = page_rows(db, view, after, CHUNK_ROWS)
        yield csv_lines([csv_row(r) for r, _ in chunk.rows])
        after = chunk.last
        if after is None:
            return
