"""Every action lands twice: in the store's audit log and on the ``actions`` topic.

:func:`audit` appends the entry inside the caller's transaction (idempotent on its
``decision_key``); once that transaction committed, :meth:`ActionSink.publish` puts the
same facts on the ``actions`` topic (key: tenant id) for the API's live feed.

>>> entry = AuditEntry(tenant_id="acme", actor="policy:auto-stop", action="stop",
...                    instance_id="i-0abc1234", reason="idle 3 days", result="dry-run",
...                    dry_run=True, at=datetime(2026, 11, 27, tzinfo=UTC))
>>> to_record(entry).result
'dry-run'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from spendsense.events import ActionRecord
from spendsense.settings import KafkaSettings
from spendsense.store import append_audit
from spendsense.store.models import AuditEntry
from spendsense.topics import ACTIONS, topic_name

log = logging.getLogger(__name__)


class ActionSink(Protocol):
    """Where action records go after the audit entry committed."""

    def publish(self, record: ActionRecord) -> None: ...


def to_record(entry: AuditEntry) -> ActionRecord:
    """The wire record mirroring an audit entry."""
    return ActionRecord(
        tenant_id=entry.tenant_id,
        account_id=entry.account_id,
        instance_id=entry.instance_id,
        action=entry.action,
        actor=entry.actor,
        reason=entry.reason or "",
        result=entry.result,
        dry_run=bool(entry.dry_run),
        at=entry.at or datetime.now(UTC),
    )


def audit(
    session: Session,
    tenant_id: str,
    *,
    actor: str,
    action: str,
    result: str,
    reason: str = "",
    account_id: str | None = None,
    instance_id: str | None = None,
    dry_run: bool = False,
    decision_key: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> ActionRecord:
    """Append an audit entry in ``session``; returns the record to publish after commit."""
    entry, _ = append_audit(
        session,
        tenant_id,
        actor=actor,
        action=action,
        result=result,
        reason=reason,
        account_id=account_id,
        instance_id=instance_id,
        dry_run=dry_run,
        decision_key=decision_key,
        details=details,
    )
    return to_record(entry)


class KafkaActionSink:
    """Publishes action records to the ``actions`` topic and waits for the broker's ack."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 10.0) -> None:
        self.topic = topic_name(kafka, ACTIONS)
        self.kafka = kafka
        self.timeout_s = timeout_s
        self._producer: Any = None

    def _get(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(
                bootstrap_servers=self.kafka.bootstrap_servers,
                acks="all",
                client_id="spendsense-actions",
            )
        return self._producer

    def publish(self, record: ActionRecord) -> None:
        self._get().send(self.topic, key=record.tenant_id.encode(), value=record.to_bytes()).get(
            timeout=self.timeout_s
        )

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self.timeout_s)
            self._producer = None
