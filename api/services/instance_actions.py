"""A person's stop, start and "not idle" from the dashboard, through the actions package.

Stops and starts go through :class:`actions.stopping.StopExecutor` (safety rails,
AssumeRole, audit, the ``actions`` topic); "not idle" through
:func:`actions.feedback.not_idle`. The projection row is updated at once so the
dashboard shows ``stopping`` before the next inventory confirms it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from actions.audit import BestEffortSink, EventSink
from actions.feedback import not_idle
from actions.metrics import ActionsMetrics
from actions.stopping import StopExecutor, StopOutcome
from api.errors import ApiError
from api.metrics import ApiMetrics
from api.schemas.instances import ActionResult
from api.services.instances import get_instance
from spendsense.access import TenantSessions
from spendsense.aws import AwsFactory
from spendsense.metrics import CollectorRegistry
from spendsense.settings import Settings
from spendsense.store.models.api import InstanceView
from spendsense.store.models.base import utcnow

# What EC2 reports right after the call; the next inventory confirms it.
STATE_AFTER = {"stop": "stopping", "start": "pending"}
DONE = {"stop": "stopped", "start": "started"}


@dataclass
class InstanceActions:
    """The executor and sink one API process uses for people's actions."""

    executor: StopExecutor
    sink: EventSink
    sessions: sessionmaker[Session]
    metrics: ApiMetrics

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessions: sessionmaker[Session],
        factory: AwsFactory,
        registry: CollectorRegistry,
        metrics: ApiMetrics,
        events: EventSink,
    ) -> InstanceActions:
        """The executor and sink, publishing through ``events`` (best effort)."""
        sink = BestEffortSink(events)
        executor = StopExecutor(
            settings.actions,
            sessions,
            TenantSessions(factory),
            sink,
            ActionsMetrics(registry),
            default_region=settings.aws.region,
        )
        return cls(executor=executor, sink=sink, sessions=sessions, metrics=metrics)

    def execute(
        self,
        db: Session,
        tenant_id: str,
        actor: str,
        instance_id: str,
        verb: str,
        *,
        reason: str,
        decision_key: str,
        account_id: str | None,
        region: str | None,
    ) -> StopOutcome:
        """Stop or start through the executor, then show the result in the projection."""
        outcome: StopOutcome
        if verb == "stop":
            outcome = self.executor.stop(
                tenant_id,
                instance_id,
                actor,
                reason,
                decision_key,
                dry_run=False,
                account_id=account_id,
                region=region,
            )
        else:
            outcome = self.executor.start(
                tenant_id,
                instance_id,
                actor,
                reason,
                decision_key,
                account_id=account_id,
                region=region,
            )
        self.metrics.user_actions.labels(tenant=tenant_id, action=verb, result=outcome.result).inc()
        row = db.get(InstanceView, (tenant_id, instance_id))
        if row is not None:
            if outcome.result == DONE[verb]:
                row.state = STATE_AFTER[verb]
            row.last_action = f"{verb}:{outcome.result}"
            row.last_action_at = utcnow()
            db.commit()
        return outcome

    def run(
        self, db: Session, tenant_id: str, actor: str, instance_id: str, verb: str
    ) -> ActionResult:
        """A person's stop or start from the dashboard (404 unless the instance is theirs)."""
        row = get_instance(db, tenant_id, instance_id)
        outcome = self.execute(
            db,
            tenant_id,
            actor,
            instance_id,
            verb,
            reason=f"{verb} requested on the dashboard",
            decision_key=f"{tenant_id}/api/{verb}/{instance_id}/{uuid.uuid4().hex}",
            account_id=row.account_id,
            region=row.region,
        )
        if outcome.result == "failed":
            raise ApiError(502, "aws_failed", outcome.message)
        return ActionResult(
            instance_id=instance_id,
            action=verb,
            result=outcome.result,
            state=row.state,
            message=f"{instance_id}: {outcome.message}",
        )

    def mark_not_idle(
        self, db: Session, tenant_id: str, actor: str, instance_id: str
    ) -> ActionResult:
        """Record a person's word that the instance is not idle (the detector learns from it)."""
        row = get_instance(db, tenant_id, instance_id)
        not_idle(
            self.sessions,
            self.sink,
            tenant_id,
            instance_id,
            actor,
            reason="marked on the dashboard",
        )
        self.metrics.user_actions.labels(
            tenant=tenant_id, action="not-idle", result="recorded"
        ).inc()
        row.mark_not_idle()
        row.last_action = "not-idle:recorded"
        row.last_action_at = utcnow()
        db.commit()
        return ActionResult(
            instance_id=instance_id,
            action="not-idle",
            result="recorded",
            state=row.state,
            message=f"{instance_id}: marked not idle; alerts stay quiet for this idle episode",
        )
