"""The per-tenant auto-stop policy: off by default, dry-run by default, with a grace period.

For a tenant that turned it on (``Tenant.autostop_*``), each idle detection of an instance
in scope (``scope="tag"``: the instance carries ``spendsense:auto-stop=true``; ``"all"``:
every instance) that no person marked "not idle" starts a grace period: the instance is tagged ``spendsense:stop-after=<UTC
deadline>`` (in dry-run only the store remembers it: dry-run changes nothing in AWS), and
the alert email mentions it. When a later detection still finds it idle after the
deadline, the stop executor is asked to stop it under the decision key
``<tenant>/auto-stop/<instance>/<deadline>`` with the tenant's dry-run flag and hourly
cap, and every safety rail still applies. A busy detection ends the grace period.

>>> parse_deadline("2026-11-27T10:00:00Z")
datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.timezone.utc)
>>> parse_deadline("soon") is None
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from actions.stopping import InstanceFacts, StopExecutor, StopOutcome
from spendsense.errors import NotFound, TenantAccessError
from spendsense.events import DetectionRecord
from spendsense.settings import ActionsSettings
from spendsense.store import get_tenant
from spendsense.store.models import InstanceAlertState, Tenant

log = logging.getLogger(__name__)

POLICY_ACTOR = "policy:auto-stop"
OPT_IN_VALUES = frozenset({"true", "yes", "1", "on"})


def format_deadline(at: datetime) -> str:
    """The grace tag's value: UTC, ISO 8601, seconds precision."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_deadline(value: str | None) -> datetime | None:
    """A grace tag's deadline, or None when it is missing or not a date."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PolicyOutcome:
    """What the policy did with one detection.

    ``what``: ``grace-started``, ``waiting``, ``grace-cleared``, ``out-of-scope``,
    ``not-idle`` (a person said so), ``refused`` (a rail: ``rail`` and ``message`` say which
    and why), ``unreachable`` or ``stop`` (``stop`` holds the executor's outcome).
    """

    what: str
    deadline: datetime | None = None
    stop: StopOutcome | None = None
    rail: str | None = None
    message: str = ""


class AutoStopPolicy:
    """Applies each tenant's auto-stop settings to its detections."""

    def __init__(
        self,
        settings: ActionsSettings,
        sessions: sessionmaker[Session],
        executor: StopExecutor,
        sink: EventSink,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.executor = executor
        self.sink = sink
        self.clock = clock

    def apply(self, det: DetectionRecord) -> PolicyOutcome | None:
        """Act on one detection; None when the tenant's policy is off."""
        with self.sessions() as session:
            tenant = get_tenant(session, det.tenant_id)
            state = session.get(InstanceAlertState, (det.tenant_id, det.instance_id))
            if tenant is None or not tenant.autostop_enabled:
                return None
        deadline = state.stop_after if state is not None else None
        if not det.idle:
            if deadline is None:
                return PolicyOutcome("waiting")
            return self._clear(tenant, det, deadline)
        if state is not None and state.marked_not_idle:
            return self._respect_not_idle(tenant, det, deadline)
        facts = self._describe(det)
        if facts is None:
            return PolicyOutcome("unreachable")
        if not self._in_scope(tenant, facts):
            return PolicyOutcome("out-of-scope")
        try:
            refusal = self.executor.refusal(det.tenant_id, facts)
        except TenantAccessError as exc:
            log.warning("auto-stop: cannot check %s: %s", det.instance_id, exc.message)
            return PolicyOutcome("unreachable")
        if refusal is not None:
            return PolicyOutcome("refused", rail=refusal[0], message=refusal[1])
        deadline = deadline or parse_deadline(facts.tags.get(self.settings.grace_tag))
        if deadline is None:
            return self._start_grace(tenant, facts)
        if self.clock() < deadline:
            self._remember(det.tenant_id, det.instance_id, det.account_id, det.region, deadline)
            return PolicyOutcome("waiting", deadline)
        since = state.idle_since if state is not None and state.idle_since else det.timestamp
        outcome = self.executor.stop(
            det.tenant_id,
            det.instance_id,
            POLICY_ACTOR,
            f"idle since {since:%Y-%m-%d %H:%M} UTC ({det.reason or 'no useful work'}); "
            f"grace period ended {format_deadline(deadline)}",
            f"{det.tenant_id}/auto-stop/{det.instance_id}/{format_deadline(deadline)}",
            tenant.autostop_dry_run,
            account_id=facts.account_id,
            region=facts.region,
            max_per_hour=tenant.autostop_max_per_hour,
        )
        return PolicyOutcome("stop", deadline, outcome)

    def _respect_not_idle(
        self, tenant: Tenant, det: DetectionRecord, deadline: datetime | None
    ) -> PolicyOutcome:
        """A person said this idle episode is not idle: end any grace period, never stop."""
        if deadline is None and not tenant.autostop_dry_run:
            facts = self._describe(det)
            if facts is None:
                return PolicyOutcome("not-idle")
            deadline = parse_deadline(facts.tags.get(self.settings.grace_tag))
        if deadline is not None:
            self._clear(tenant, det, deadline)
        return PolicyOutcome("not-idle", deadline)

    def _describe(self, det: DetectionRecord) -> InstanceFacts | None:
        """The detected instance as EC2 describes it now; None (logged) when it cannot."""
        try:
            return self.executor.describe(
                det.tenant_id, det.instance_id, account_id=det.account_id, region=det.region
            )
        except (NotFound, TenantAccessError) as exc:
            log.warning("auto-stop: cannot describe %s: %s", det.instance_id, exc)
            return None

    def _in_scope(self, tenant: Tenant, facts: InstanceFacts) -> bool:
        if tenant.autostop_scope == "all":
            return True
        return facts.tags.get(self.settings.optin_tag, "").strip().lower() in OPT_IN_VALUES

    def _remember(
        self,
        tenant_id: str,
        instance_id: str,
        account_id: str,
        region: str,
        deadline: datetime | None,
    ) -> None:
        with self.sessions.begin() as session:
            state = session.get(InstanceAlertState, (tenant_id, instance_id))
            if state is None:
                state = InstanceAlertState(
                    tenant_id=tenant_id,
                    instance_id=instance_id,
                    account_id=account_id,
                    region=region,
                )
                session.add(state)
            state.stop_after = deadline

    def _start_grace(self, tenant: Tenant, facts: InstanceFacts) -> PolicyOutcome:
        deadline = self.clock() + timedelta(minutes=tenant.autostop_grace_minutes)
        value = format_deadline(deadline)
        if not tenant.autostop_dry_run:
            try:
                self.executor.tag(tenant.id, facts, set_tags={self.settings.grace_tag: value})
            except TenantAccessError as exc:
                log.warning("auto-stop: cannot tag %s: %s", facts.instance_id, exc.message)
                return PolicyOutcome("unreachable")
        self._remember(tenant.id, facts.instance_id, facts.account_id, facts.region, deadline)
        self._audit(
            tenant,
            facts.instance_id,
            facts.account_id,
            "grace-started",
            f"idle; will be stopped after {value} if still idle",
            f"{tenant.id}/grace/{facts.instance_id}/{value}",
        )
        return PolicyOutcome("grace-started", deadline)

    def _clear(self, tenant: Tenant, det: DetectionRecord, deadline: datetime) -> PolicyOutcome:
        if not tenant.autostop_dry_run:
            try:
                facts = self.executor.describe(
                    det.tenant_id, det.instance_id, account_id=det.account_id, region=det.region
                )
                if self.settings.grace_tag in facts.tags:
                    self.executor.tag(tenant.id, facts, remove=[self.settings.grace_tag])
            except (NotFound, TenantAccessError) as exc:
                log.warning("auto-stop: cannot untag %s: %s", det.instance_id, exc)
        self._remember(det.tenant_id, det.instance_id, det.account_id, det.region, None)
        value = format_deadline(deadline)
        self._audit(
            tenant,
            det.instance_id,
            det.account_id,
            "grace-cleared",
            "busy again; the grace period ended without a stop",
            f"{tenant.id}/grace-cleared/{det.instance_id}/{value}",
        )
        return PolicyOutcome("grace-cleared", deadline)

    def _audit(
        self,
        tenant: Tenant,
        instance_id: str,
        account_id: str | None,
        result: str,
        reason: str,
        key: str,
    ) -> None:
        with self.sessions.begin() as session:
            record, created = audit(
                session,
                tenant.id,
                actor=POLICY_ACTOR,
                action="tag",
                result=result,
                reason=reason,
                account_id=account_id,
                instance_id=instance_id,
                dry_run=tenant.autostop_dry_run,
                decision_key=key,
            )
        if created:
            publish_action(self.sink, record)
