"""The parts of the actions worker wired together: what each detection, each anomaly record,
each waste record and each tick does.

:class:`ActionsRuntime` is plain synchronous code (SQLAlchemy, boto3); the Faust app runs
it in a thread so the event loop keeps serving the consumer. It is built from settings
when the worker starts (:func:`build_runtime`), never at import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import OperationalError

from actions.alerts import PENDING, AlertService
from actions.audit import BestEffortSink, EventSink, KafkaEventSink
from actions.channels.dispatch import ChannelDispatcher
from actions.links import signing_key
from actions.metrics import ActionsMetrics
from actions.policy import AutoStopPolicy, PolicyOutcome
from actions.stopping import StopExecutor
from actions.waste_alerts import observe_waste
from actions.waste_executor import WasteExecutor
from actions.waste_policy import WastePolicy
from spendsense.access import TenantSessions
from spendsense.aws import AwsFactory, SesClient
from spendsense.errors import TenantAccessError
from spendsense.events import ActionRecord, AnomalyRecord, DetectionRecord, WasteRecord
from spendsense.metrics import CollectorRegistry
from spendsense.settings import Settings
from spendsense.store import Store, open_store

log = logging.getLogger(__name__)

STORE_RETRY_S = (0.5, 1, 2, 5, 10, 30)


@dataclass
class ActionsRuntime:
    """Alerts, the auto-stop policy and the stop executor over one store and one sink."""

    store: Store
    alerts: AlertService
    policy: AutoStopPolicy
    executor: StopExecutor
    sink: EventSink
    metrics: ActionsMetrics
    close: Callable[[], None] = lambda: None
    channels: ChannelDispatcher | None = None
    waste_policy: WastePolicy | None = None

    def handle_action(self, rec: ActionRecord) -> str:
        """Send one ``actions`` record to the notification channels subscribed to it
        (once per record); retried like :meth:`handle`."""
        channels = self.channels
        if channels is None:
            return "no-channels"
        return self._retrying(lambda: f"notified {len(channels.action(rec))}")

    def handle(self, det: DetectionRecord) -> str:
        """Process one detection: alert state, auto-stop policy, then the digest if due.

        While the store is unreachable it waits and retries (no offset moves past the
        record); an AWS error in the policy is logged and the next detection tries again.
        """
        return self._retrying(lambda: self._handle(det))

    def handle_anomaly(self, rec: AnomalyRecord) -> str:
        """Process one anomaly record: the incident's alert state, then the digest if due
        (the same cooldown and outbox as idle instances); retried like :meth:`handle`."""
        return self._retrying(lambda: self._handle_anomaly(rec))

    def handle_waste(self, rec: WasteRecord) -> str:
        """Process one waste record: the resource's alert state (only ``waste``, never
        provisional, alerts), then the digest if due; retried like :meth:`handle`."""
        return self._retrying(lambda: self._handle_waste(rec))

    def _handle_waste(self, rec: WasteRecord) -> str:
        verdict = observe_waste(self.store.sessions, rec)
        if verdict in {"stale", "unknown-tenant"}:
            return verdict
        if self.waste_policy is not None:
            try:
                outcome = self.waste_policy.consider(rec)
            except (ClientError, BotoCoreError, TenantAccessError) as exc:
                log.warning("waste policy for %s failed this time: %s", rec.resource_id, exc)
            else:
                if outcome is not None:
                    log.info("waste policy on %s: %s", rec.resource_id, outcome.result)
        return self._flush_new(rec.tenant_id, verdict)

    def _handle_anomaly(self, rec: AnomalyRecord) -> str:
        return self._flush_new(rec.tenant_id, self.alerts.observe_anomaly(rec))

    def _flush_new(self, tenant_id: str, verdict: str) -> str:
        """The digest if something newly pending made it due (the cooldown counted)."""
        if verdict != "pending":
            return verdict
        flushed = self.alerts.flush(tenant_id)
        if flushed.reserved:
            return "emailed"
        if flushed.suppressed == "cooldown":
            self.metrics.alerts_suppressed.labels(tenant=tenant_id, reason="cooldown").inc()
            return "cooldown"
        return flushed.suppressed or verdict

    def _retrying(self, step: Callable[[], str]) -> str:
        """``step``, retried while the store is unreachable."""
        for pause in (*STORE_RETRY_S, None):
            try:
                return step()
            except OperationalError as exc:
                if pause is None:
                    raise
                log.warning(
                    "store unavailable (%s); retrying in %ss", exc.__class__.__name__, pause
                )
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _handle(self, det: DetectionRecord) -> str:
        verdict = self.alerts.observe(det)
        if verdict in {"stale", "unknown-tenant"}:
            return verdict
        outcome = self._policy(det)
        if outcome is not None and outcome.what == "grace-started":
            log.info("auto-stop grace started for %s until %s", det.instance_id, outcome.deadline)
        if verdict in PENDING:
            flushed = self.alerts.flush(det.tenant_id)
            if flushed.reserved:
                return "emailed"
            if flushed.suppressed == "cooldown":
                if verdict == "pending":  # counted once per instance, not per detection
                    self.metrics.alerts_suppressed.labels(
                        tenant=det.tenant_id, reason="cooldown"
                    ).inc()
                return "cooldown"
        return verdict

    def _policy(self, det: DetectionRecord) -> PolicyOutcome | None:
        try:
            return self.policy.apply(det)
        except (ClientError, BotoCoreError, TenantAccessError) as exc:
            log.warning("auto-stop for %s failed this time: %s", det.instance_id, exc)
            return None

    def tick(self) -> None:
        """The timer: reconcile, retry due emails, send digests whose cooldown ended."""
        try:
            self.alerts.tick()
            if self.channels is not None:
                self.channels.tick()
        except OperationalError as exc:
            log.warning("store unavailable during tick: %s", exc.__class__.__name__)


def build_runtime(settings: Settings, registry: CollectorRegistry) -> ActionsRuntime:
    """Open the store (migrating it), build AWS access, the Kafka sink and the services."""
    key = signing_key(settings.actions, settings.var_dir)
    store = open_store(settings.store)
    factory = AwsFactory(settings.aws)
    metrics = ActionsMetrics(registry)
    kafka_sink = KafkaEventSink(settings.kafka)
    sink = BestEffortSink(
        kafka_sink, lambda topic: metrics.publish_errors.labels(topic=topic).inc()
    )
    tenants = TenantSessions(factory)
    executor = StopExecutor(
        settings.actions,
        store.sessions,
        tenants,
        sink,
        metrics,
        default_region=settings.aws.region,
    )
    ses = SesClient(factory, settings.actions.ses_region)
    alerts = AlertService(settings.actions, store.sessions, ses, key, sink, metrics)
    policy = AutoStopPolicy(settings.actions, store.sessions, executor, sink)
    channels = ChannelDispatcher(settings.channels, settings.actions, store.sessions, sink)
    alerts.after_flush = channels.digest
    waste = WastePolicy(
        store.sessions, WasteExecutor(settings.actions, store.sessions, tenants, sink)
    )

    def close() -> None:
        channels.close()
        kafka_sink.close()
        store.dispose()

    return ActionsRuntime(store, alerts, policy, executor, sink, metrics, close, channels, waste)
