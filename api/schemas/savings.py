"""The savings ledger: money saved by stops, schedules and deletions, and its entries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SavedBy(BaseModel):
    """Money saved under one label (a month ``YYYY-MM``, a kind of action, an actor)."""

    key: str
    saved_usd: float


class SavingsItem(BaseModel):
    """One ledger entry: what was stopped or removed, how, by whom, from when at what hourly
    price, until when (None: still saving) and why it ended; ``hours`` and ``saved_usd``
    count up to now while it saves."""

    id: int
    resource_kind: str
    resource_id: str
    account_id: str | None
    action_kind: str
    actor: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str
    hourly_price_usd: float | None
    hours: float
    saved_usd: float


class SavingsSummary(BaseModel):
    """Money saved (computed from prices and durations, up to ``as_of``): this calendar
    month (UTC), in total, by month (oldest first), by kind of action and by actor (most
    first); then a page of entries, newest first (``before_id`` = ``next_before_id`` for
    the next). ``saving_per_hour_usd`` is what the entries saving now save an hour."""

    as_of: datetime
    this_month_usd: float
    total_usd: float
    saving_per_hour_usd: float
    by_month: list[SavedBy]
    by_action_kind: list[SavedBy]
    by_actor: list[SavedBy]
    items: list[SavingsItem]
    next_before_id: int | None
