"""Folding the ``waste`` topic into ``waste_resources``: one row per tenant, kind and resource.

A record moves its row forward only (an older ``observed_at`` than the row holds is
ignored), so replaying the compacted topic changes nothing; a ``gone`` record marks the
row ``gone`` and its waste 0 (the row stays: its audit and last action still show).

>>> from datetime import UTC, datetime
>>> rec = WasteRecord(tenant_id="t1", account_id="111111111111", region="us-east-1",
...     kind="ebs-volume", resource_id="vol-0abc", waste=True, monthly_price_usd=40.0,
...     reason="unattached for 9 days", observed_at=datetime(2026, 11, 27, tzinfo=UTC))
>>> row = WasteResource(tenant_id="t1", kind="ebs-volume", resource_id="vol-0abc")
>>> apply_waste(row, rec), row.verdict, row.monthly_waste_usd
(True, 'waste', 40.0)
>>> apply_waste(row, rec.model_copy(update={"observed_at": datetime(2026, 11, 26, tzinfo=UTC)}))
False
>>> gone = rec.model_copy(update={"gone": True, "observed_at": datetime(2026, 11, 28, tzinfo=UTC)})
>>> apply_waste(row, gone), row.verdict, row.monthly_waste_usd
(True, 'gone', 0.0)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from spendsense.events import WasteRecord
from spendsense.store.models.waste import WasteResource


def verdict_of(rec: WasteRecord) -> str:
    """``gone``, ``waste``, ``provisional`` or ``ok``."""
    if rec.gone:
        return "gone"
    if rec.waste:
        return "waste"
    return "provisional" if rec.provisional else "ok"


def apply_waste(row: WasteResource, rec: WasteRecord) -> bool:
    """Move the row to the record, unless the row holds something newer."""
    if row.observed_at is not None and rec.observed_at < row.observed_at:
        return False
    row.account_id = rec.account_id
    row.region = rec.region
    row.verdict = verdict_of(rec)
    row.observed_at = rec.observed_at
    row.monthly_waste_usd = 0.0 if rec.gone else rec.monthly_waste_usd
    if rec.gone:
        return True  # the last facts seen stay on the page
    row.name = rec.name or rec.tags.get("Name", "")
    row.state = rec.state
    row.reason = rec.reason
    row.monthly_price_usd = rec.monthly_price_usd
    row.since = rec.since
    row.tags = dict(rec.tags)
    row.details = dict(rec.details)
    return True


def fold_waste(session: Session, rec: WasteRecord) -> str:
    """Apply one record to its row (created when new); ``applied`` or ``stale``."""
    row = session.get(WasteResource, (rec.tenant_id, rec.kind, rec.resource_id))
    if row is None:
        row = WasteResource(tenant_id=rec.tenant_id, kind=rec.kind, resource_id=rec.resource_id)
        session.add(row)
    return "applied" if apply_waste(row, rec) else "stale"
