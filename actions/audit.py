"""Every action lands twice: in the store's audit log and on the ``actions`` topic.

:func:`audit` appends the entry inside the caller's transaction (idempotent on its
``decision_key``); once that transaction committed, :func:`publish_action` puts the
same facts on the ``actions`` topic (key: tenant id) for the API's live feed, through an
:class:`EventSink` (:class:`KafkaEventSink` in the worker and the API; wrapped in
:class:`BestEffortSink` where a broker outage must not cost the action).

>>> entry = AuditEntry(tenant_id="acme", actor="policy:auto-stop", action="stop",
...                    instance_id="i-0abc1234", reason="idle 3 days", result="dry-run",
...                    dry_run=True, at=datetime(2026, 11, 27, tzinfo=UTC))
>>> to_record(entry).result
'dry-run'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from kafka.errors import KafkaError
from sqlalchemy.orm import Session

from spendsense.errors import ServiceError
from spendsense.events import ActionRecord, Event
from spendsense.producer import make_producer
from spendsense.settings import KafkaSettings
from spendsense.store import append_audit
from spendsense.store.models import AuditEntry
from spendsense.topics import ACTIONS, topic_name, topic_spec

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where records go once the store transaction that decided them committed."""

    def send(self, topic: str, record: Event) -> None:
        """Put ``record`` on the project topic named ``topic`` (short name), keyed and
        serialised as the topic's :class:`~spendsense.topics.TopicSpec` says."""


def publish_action(sink: EventSink, record: ActionRecord) -> None:
    """An action record on the ``actions`` topic (keyed by tenant)."""
    sink.send(ACTIONS, record)


def to_record(entry: AuditEntry) -> ActionRecord:
    """The wire record mirroring an audit entry."""
    details = entry.details or {}
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
        decision_key=entry.decision_key,
        audit_id=entry.id,
        # a resource other than an instance (a waste action) is named in the details
        resource_kind=details.get("kind"),
        resource_id=details.get("resource_id"),
    )


def audit(session: Session, tenant_id: str, **entry: Any) -> tuple[ActionRecord, bool]:
    """Append an audit entry in ``session`` (the fields of
    :func:`~spendsense.store.append_audit`); returns the record to publish after commit and
    whether it is new (False: its ``decision_key`` was recorded before)."""
    row, created = append_audit(session, tenant_id, **entry)
    return to_record(row), created


class KafkaEventSink:
    """Sends records to the project's topics and waits for the broker's acknowledgement."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 10.0) -> None:
        self.kafka = kafka
        self.timeout_s = timeout_s
        self._producer: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._producer is None:
                self._producer = make_producer(self.kafka, client_id="spendsense-actions")
            return self._producer

    def send(self, topic: str, record: Event) -> None:
        key, value = topic_spec(topic).encode(record)
        self._get().send(topic_name(self.kafka, topic), key=key, value=value).get(
            timeout=self.timeout_s
        )

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self.timeout_s)
            self._producer = None


class BestEffortSink:
    """Publishes through ``inner``; a broker error is logged (and counted through
    ``on_error``, given the topic's short name), never raised.

    The store's audit log already holds every action when this is called, so a broker
    outage costs the live feed an event, not the action (nor the worker its agent, nor a
    person's stop or start from the dashboard).
    """

    def __init__(self, inner: EventSink, on_error: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.on_error = on_error

    def send(self, topic: str, record: Event) -> None:
        try:
            self.inner.send(topic, record)
        except (KafkaError, ServiceError) as exc:
            if self.on_error is not None:
                self.on_error(topic)
            log.warning("could not publish to %s (%s); the audit log has it", topic, exc)
