"""Prices of the resource kinds by region, from ``data/waste_prices.csv`` (sources and how to
regenerate it: ``data/waste_prices.md``).

Each row is one item in one region: a price per ``GB-Mo`` (EBS volumes by type, snapshots)
or per hour (``Hrs``: a public IPv4 address, a NAT gateway, a load balancer by type, an RDS
instance class by engine, single-AZ). A month is 730 hours.

>>> book = PriceBook.load()
>>> book.monthly("us-east-1", "ebs:gp3", 500)
40.0
>>> round(book.monthly("us-east-1", "nat-gateway"), 2)
32.85
>>> round(book.monthly("eu-west-1", "public-ipv4"), 2)
3.65
>>> book.monthly("us-east-1", "rds:db.x99.huge:mysql") is None
True
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PRICE_FILE = Path(__file__).resolve().parent / "data" / "waste_prices.csv"
FIELDS = ("region", "item", "unit", "usd", "source", "date")
HOURS_PER_MONTH = 730.0
UNITS = ("GB-Mo", "Hrs")


@dataclass(frozen=True)
class PriceRow:
    """One price: ``usd`` per ``unit`` of ``item`` in ``region``, with its source and date."""

    region: str
    item: str
    unit: str
    usd: float
    source: str
    date: str


class PriceBook:
    """The prices, looked up by region and item."""

    def __init__(self, rows: Iterable[PriceRow]) -> None:
        self._rows = {(r.region, r.item): r for r in rows}

    @classmethod
    def load(cls, path: Path = PRICE_FILE) -> PriceBook:
        return _cached(path)

    def row(self, region: str, item: str) -> PriceRow | None:
        return self._rows.get((region, item))

    def monthly(self, region: str, item: str, quantity: float = 1.0) -> float | None:
        """A month of ``quantity`` (GB for ``GB-Mo`` items, units for hourly ones); None
        when the book lacks the item in that region."""
        row = self.row(region, item)
        if row is None:
            return None
        per_month = row.usd if row.unit == "GB-Mo" else row.usd * HOURS_PER_MONTH
        return round(per_month * quantity, 4)

    def regions(self) -> list[str]:
        return sorted({region for region, _ in self._rows})


@lru_cache(maxsize=4)
def _cached(path: Path) -> PriceBook:
    return PriceBook(read_rows(path))


def read_rows(path: Path) -> list[PriceRow]:
    """The price file's rows (a bad unit fails with the line to fix)."""
    rows = []
    with path.open(newline="") as fh:
        for line, raw in enumerate(csv.DictReader(fh), start=2):
            if raw["unit"] not in UNITS:
                raise ValueError(f"{path.name} line {line}: unit must be one of {UNITS}")
            rows.append(PriceRow(**{**raw, "usd": float(raw["usd"])}))  # type: ignore[arg-type]
    return rows


def write_rows(rows: Iterable[PriceRow], path: Path = PRICE_FILE) -> int:
    """Write the price file (sorted by region and item); returns the rows written."""
    ordered = sorted(rows, key=lambda r: (r.region, r.item))
    with path.open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(FIELDS)
        for r in ordered:
            out.writerow([r.region, r.item, r.unit, f"{r.usd:g}", r.source, r.date])
    _cached.cache_clear()
    return len(ordered)
