"""Wasted resources in the store as the projector leaves them, for the API's tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from projector.waste import fold_waste
from spendsense.events import WasteRecord


def waste_record(
    tenant_id: str,
    account_id: str,
    kind: str = "elastic-ip",
    resource_id: str | None = None,
    **fields: Any,
) -> WasteRecord:
    """A ``waste`` record of one resource found wasted a week ago (``fields`` override)."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "waste": True,
        "monthly_price_usd": 3.6,
        "reason": "not associated with anything for 7 days",
        "since": now - timedelta(days=7),
        "observed_at": now,
        "region": "us-east-1",
    }
    return WasteRecord(
        tenant_id=tenant_id,
        account_id=account_id,
        kind=kind,  # type: ignore[arg-type]
        resource_id=resource_id or f"eipalloc-{uuid.uuid4().hex[:17]}",
        **(values | fields),
    )


def seed_waste(db: Session, tenant_id: str, account_id: str, **kw: Any) -> str:
    """Fold one resource's record into the store; returns its id."""
    rec = waste_record(tenant_id, account_id, **kw)
    fold_waste(db, rec)
    db.commit()
    return rec.resource_id
