"""Attempts counted per key in a fixed window, taken atomically (the log-in limits).

:func:`take` counts one attempt against each :class:`Budget` before the attempt is made,
so attempts running in parallel are all counted: each counter moves by one statement
(``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), whose row lock makes concurrent
takers of one key wait for each other's commit, on PostgreSQL across any number of
processes. When any budget is over its limit the whole take is rolled back (nothing is
counted) and the wait until its window ends is returned. Counters are taken in the order
of their keys, so two takes never wait for each other in a cycle.

A key is the SHA-256 of what is counted (``"log-in e-mail:alice@example.com"``): any value
fits the column, none is kept in clear.

>>> from datetime import timedelta
>>> from spendsense.settings import StoreSettings
>>> from spendsense.store.engine import make_engine, session_factory
>>> from spendsense.store.migrate import ensure_schema
>>> engine = make_engine(StoreSettings(url="sqlite://"))
>>> _ = ensure_schema(engine)
>>> now = utcnow()
>>> budgets = [Budget("e-mail", "a@example.com", 2), Budget("client", "192.0.2.1", 5)]
>>> with session_factory(engine)() as session:
...     waits = [take(session, budgets, 900, now=now) for _ in range(3)]
...     give_back(session, budgets[1])
...     later = take(session, budgets, 900, now=now + timedelta(seconds=901))
>>> waits
[None, None, 900.0]
>>> later is None  # a new window
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from spendsense.store.models import AttemptCounter, UtcDateTime, utcnow


@dataclass(frozen=True)
class Budget:
    """At most ``limit`` attempts per window for ``value`` (of the kind ``scope`` names)."""

    scope: str
    value: str
    limit: int

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.scope}:{self.value}".encode()).hexdigest()


def _count_one(session: Session, key: str, window_s: int, now: datetime) -> tuple[int, datetime]:
    """Add one to ``key``'s counter (a new window once the old one ended); its count and
    window start after the change."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    ended = AttemptCounter.window_start <= now - timedelta(seconds=window_s)
    statement = (
        insert(AttemptCounter)
        .values(key=key, window_start=now, count=1)
        .on_conflict_do_update(
            index_elements=[AttemptCounter.key],
            set_={
                "count": case((ended, 1), else_=AttemptCounter.count + 1),
                "window_start": case(
                    (ended, literal(now, UtcDateTime())), else_=AttemptCounter.window_start
                ),
            },
        )
        .returning(AttemptCounter.count, AttemptCounter.window_start)
    )
    count, start = session.execute(statement).one()
    return int(count), start


def take(
    session: Session, budgets: Sequence[Budget], window_s: int, *, now: datetime | None = None
) -> float | None:
    """Count one attempt against every budget and commit; ``None`` when all are within
    their limits, else roll back (nothing counted) and return the seconds until the
    window of the budget that is over ends. Call it before anything else in ``session``."""
    now = now or utcnow()
    wait: float | None = None
    for budget in sorted(budgets, key=lambda b: b.key):
        count, start = _count_one(session, budget.key, window_s, now)
        if count > budget.limit:
            left = (start + timedelta(seconds=window_s) - now).total_seconds()
            wait = max(wait or 0.0, left)
    if wait is None:
        session.commit()
    else:
        session.rollback()
    return wait


def give_back(session: Session, budget: Budget) -> None:
    """Return one attempt (one that turned out not to count, a log-in that succeeded)."""
    session.execute(
        update(AttemptCounter)
        .where(AttemptCounter.key == budget.key, AttemptCounter.count > 0)
        .values(count=AttemptCounter.count - 1)
    )


def forget(session: Session, budget: Budget, window_s: int) -> None:
    """Clear ``budget``'s counter, and every counter whose window has ended."""
    ended = utcnow() - timedelta(seconds=window_s)
    session.execute(
        delete(AttemptCounter).where(
            (AttemptCounter.key == budget.key) | (AttemptCounter.window_start <= ended)
        )
    )
