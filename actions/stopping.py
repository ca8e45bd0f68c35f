"""The stop executor: safety rails, idempotent decisions, AssumeRole, audit.

:meth:`StopExecutor.stop` is what every stop goes through (a person in the API, a
signed link, the auto-stop policy):

1. the decision is recorded under its ``decision_key`` before anything else; a key seen
   before returns ``replayed`` and acts no more (a replayed record never stops twice);
2. the instance is described fresh through the tenant's role (AssumeRole with the
   account's ExternalId, :class:`~spendsense.access.TenantSessions`);
3. if someone started it after the decision was taken (a later ``start`` decision, or
   EC2's launch time after it), nothing is done (``skipped``);
4. the rails: never an instance with the protect tag, a member of a group that manages
   its instances' lifecycle (an Auto Scaling group, an EKS node group, a Karpenter node
   pool, an EMR cluster: recognised by the tags they put on their instances), an
   instance-store root, a spot instance, one with stop protection, or one whose type
   has instance-store volumes (i3, m5d, c6gd...: a stop erases their data; EC2's
   ``DescribeInstanceTypes``, cached per region and type) (``refused``). A start goes
   through the protect checks (the tag, the managed groups) the same way;
5. the policy's hourly cap, dry-run (``dry-run``: nothing changes), then StopInstances;
6. the outcome goes to the audit log (same ``decision_key``) and the ``actions`` topic.

>>> rails(InstanceFacts("i-0abc1234", "111111111111", "us-east-1", "running",
...                     tags={"spendsense:protect": "yes"}), "spendsense:protect")
('protected', 'it carries the spendsense:protect tag')
>>> rails(InstanceFacts("i-0abc1234", "111111111111", "us-east-1", "running",
...                     lifecycle="spot"), "spendsense:protect")
('spot', 'spot instances cannot be stopped safely')
>>> rails(InstanceFacts("i-0abc1234", "111111111111", "us-east-1", "running",
...                     tags={"karpenter.sh/nodepool": "default"}), "spendsense:protect")
('karpenter', 'it belongs to Karpenter node pool default, which would replace it')
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from actions.metrics import ActionsMetrics
from actions.registry import ACTIONS
from spendsense.access import AccountRef, TenantSessions
from spendsense.errors import NotFound, TenantAccessError
from spendsense.settings import ActionsSettings
from spendsense.store import get_aws_account, list_aws_accounts
from spendsense.store.models import InstanceAlertState, StopDecision, utcnow

log = logging.getLogger(__name__)

POLICY_ACTOR_PREFIX = "policy:"
STORAGE_RAIL = "instance-store-volumes"

Refusal = tuple[str, str]
"""(rail, why) of a rail that forbids the action."""


@dataclass(frozen=True)
class Manager:
    """Something that owns its instances' lifecycle, recognised by the tags it puts on them.

    ``keys``: tag keys (``*`` wildcards allowed), the first present names the group.
    """

    rail: str
    what: str
    keys: tuple[str, ...]
    consequence: str = "which would replace it"

    def group(self, tags: dict[str, str]) -> str | None:
        for key in self.keys:
            for tag, value in tags.items():
                if fnmatch.fnmatchcase(tag, key):
                    return value
        return None


MANAGERS = (
    Manager("asg", "Auto Scaling group", ("aws:autoscaling:groupName",)),
    Manager("eks", "EKS node group", ("eks:nodegroup-name", "eks:cluster-name")),
    Manager(
        "karpenter",
        "Karpenter node pool",
        ("karpenter.sh/nodepool", "karpenter.sh/provisioner-name"),
    ),
    Manager(
        "emr",
        "EMR cluster",
        ("aws:elasticmapreduce:job-flow-id", "aws:elasticmapreduce:*"),
        "which would count it lost and may fail the cluster",
    ),
)
"""Auto Scaling tags its members ``aws:autoscaling:groupName``; an EKS managed node group
``eks:cluster-name`` and ``eks:nodegroup-name``; Karpenter ``karpenter.sh/nodepool``
(``karpenter.sh/provisioner-name`` before v0.32); EMR ``aws:elasticmapreduce:job-flow-id``
and ``aws:elasticmapreduce:instance-group-role``."""


@dataclass(frozen=True)
class InstanceFacts:
    """An instance as EC2 described it just now, with what the rails look at."""

    instance_id: str
    account_id: str
    region: str
    state: str
    tags: dict[str, str] = field(default_factory=dict)
    lifecycle: str = "on-demand"
    root_device_type: str = "ebs"
    stop_protection: bool = False
    launch_time: datetime | None = None
    name: str = ""
    instance_type: str = ""


@dataclass(frozen=True)
class StopOutcome:
    """What a stop or start request ended as.

    ``result``: ``stopped``, ``started``, ``dry-run``, ``refused`` (a rail, in ``rail``),
    ``skipped`` (nothing to do: already stopped, started again by a person, cap reached),
    ``replayed`` (this decision was taken before; ``previous`` is its result) or
    ``failed`` (AWS said no; ``message`` says why).
    """

    result: str
    message: str
    decision_key: str
    instance_id: str
    dry_run: bool = False
    rail: str | None = None
    previous: str | None = None


Verdict = tuple[str, str, str | None]
"""(result, message, rail) of one judged decision."""


@dataclass(frozen=True)
class Decision:
    """What is asked: one action on one instance, by whom, why, under which key."""

    tenant_id: str
    instance_id: str
    action: str
    actor: str
    reason: str
    key: str
    dry_run: bool


def managed_by(tags: dict[str, str]) -> Refusal | None:
    """The group that owns an instance with these tags, as ``(rail, why)``, or None."""
    for manager in MANAGERS:
        group = manager.group(tags)
        if group is not None:
            return manager.rail, f"it belongs to {manager.what} {group}, {manager.consequence}"
    return None


def protect_rails(facts: InstanceFacts, protect_tag: str) -> Refusal | None:
    """What forbids stopping or starting: the protect tag, a managed group."""
    if protect_tag in facts.tags:
        return "protected", f"it carries the {protect_tag} tag"
    return managed_by(facts.tags)


def rails(facts: InstanceFacts, protect_tag: str) -> Refusal | None:
    """The first safety rail that ``facts`` show forbids stopping, as ``(rail, why)``, or None.

    Whether its type has instance-store volumes needs EC2: :meth:`StopExecutor.refusal`.
    """
    protected = protect_rails(facts, protect_tag)
    if protected is not None:
        return protected
    if facts.root_device_type == "instance-store":
        return "instance-store", "its root volume is instance store, which cannot be stopped"
    if facts.lifecycle == "spot":
        return "spot", "spot instances cannot be stopped safely"
    if facts.stop_protection:
        return "stop-protection", "stop protection (DisableApiStop) is on"
    return None


class StopExecutor:
    """Stops and starts instances in customer accounts, safely and once per decision."""

    def __init__(
        self,
        settings: ActionsSettings,
        sessions: sessionmaker[Session],
        tenants: TenantSessions,
        sink: EventSink,
        metrics: ActionsMetrics,
        *,
        default_region: str = "us-east-1",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.tenants = tenants
        self.sink = sink
        self.metrics = metrics
        self.default_region = default_region
        self.clock = clock
        self._storage: dict[tuple[str, str], bool | None] = {}

    # -- finding and describing -------------------------------------------------------

    def _account(self, session: Session, tenant_id: str, account_id: str) -> AccountRef:
        account = get_aws_account(session, tenant_id, account_id)
        if account is None:
            raise NotFound(f"tenant {tenant_id} has no AWS account {account_id}")
        return AccountRef.of(account)

    def _candidates(
        self, tenant_id: str, instance_id: str, account_id: str | None, region: str | None
    ) -> list[tuple[AccountRef, str]]:
        with self.sessions() as session:
            if account_id is None or region is None:
                known = session.get(InstanceAlertState, (tenant_id, instance_id))
                if known is not None:
                    account_id = account_id or known.account_id
                    region = region or known.region
            if account_id is not None and region is not None:
                return [(self._account(session, tenant_id, account_id), region)]
            out: list[tuple[AccountRef, str]] = []
            for acc in list_aws_accounts(session, tenant_id):
                if account_id is not None and acc.account_id != account_id:
                    continue
                ref = AccountRef.of(acc)
                out.extend(
                    (ref, r) for r in ([region] if region else acc.regions or [self.default_region])
                )
            return out

    def describe(
        self,
        tenant_id: str,
        instance_id: str,
        *,
        account_id: str | None = None,
        region: str | None = None,
    ) -> InstanceFacts:
        """Describe the instance now, through the tenant's role; NotFound if it is nowhere."""
        for account, where in self._candidates(tenant_id, instance_id, account_id, region):
            ec2 = self.tenants.client(account, "ec2", where)
            try:
                with self.tenants.guard(account, where, "DescribeInstances"):
                    resp = ec2.describe_instances(InstanceIds=[instance_id])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidInstanceID.NotFound":
                    continue
                raise
            found = [i for r in resp.get("Reservations", []) for i in r.get("Instances", [])]
            if not found:
                continue
            with self.tenants.guard(account, where, "DescribeInstanceAttribute"):
                attr = ec2.describe_instance_attribute(
                    InstanceId=instance_id, Attribute="disableApiStop"
                )
            return _facts(found[0], account.account_id, where, attr)
        raise NotFound(f"instance {instance_id} was not found in tenant {tenant_id}'s accounts")

    def instance_storage(self, tenant_id: str, facts: InstanceFacts) -> bool | None:
        """Whether the instance's type has instance-store volumes (None: EC2 does not know
        the type), asked of EC2 through the tenant's role once per region and type."""
        key = (facts.region, facts.instance_type)
        if key not in self._storage:
            with self.sessions() as session:
                account = self._account(session, tenant_id, facts.account_id)
            ec2 = self.tenants.client(account, "ec2", facts.region)
            try:
                with self.tenants.guard(account, facts.region, "DescribeInstanceTypes"):
                    resp = ec2.describe_instance_types(InstanceTypes=[facts.instance_type])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidInstanceType":
                    raise
                resp = {}
            found = resp.get("InstanceTypes", [])
            self._storage[key] = bool(found[0].get("InstanceStorageSupported")) if found else None
        return self._storage[key]

    def refusal(self, tenant_id: str, facts: InstanceFacts) -> Refusal | None:
        """The first rail that forbids stopping: :func:`rails`, then the type's
        instance-store volumes. Raises TenantAccessError when the type cannot be read."""
        refused = rails(facts, self.settings.protect_tag)
        if refused is not None:
            return refused
        storage = self.instance_storage(tenant_id, facts)
        if storage is None:
            return STORAGE_RAIL, (
                f"EC2 does not describe its type {facts.instance_type!r}, so it may have "
                f"instance-store volumes, whose data a stop erases"
            )
        if storage:
            return STORAGE_RAIL, (
                f"its type {facts.instance_type} has instance-store volumes, whose data a stop "
                f"erases"
            )
        return None

    # -- stop and start ---------------------------------------------------------------

    def _reserve(self, wanted: Decision) -> tuple[StopDecision, bool]:
        """Record the decision; returns (row, fresh). A finished row is a replay."""
        with self.sessions() as session:
            try:
                with session.begin():
                    row = StopDecision(
                        decision_key=wanted.key,
                        tenant_id=wanted.tenant_id,
                        instance_id=wanted.instance_id,
                        action=wanted.action,
                        actor=wanted.actor,
                        reason=wanted.reason,
                        dry_run=wanted.dry_run,
                        decided_at=self.clock(),
                        status="pending",
                    )
                    session.add(row)
                return row, True
            except IntegrityError:
                pass
            existing = session.get(StopDecision, wanted.key)
            if existing is None or existing.tenant_id != wanted.tenant_id:
                raise NotFound(f"decision key {wanted.key!r} belongs to another tenant")
            return existing, False

    def _started_since(self, decision: StopDecision, facts: InstanceFacts) -> bool:
        if facts.launch_time is not None and facts.launch_time > decision.decided_at:
            return True
        with self.sessions() as session:
            later = session.scalar(
                select(func.count())
                .select_from(StopDecision)
                .where(
                    StopDecision.tenant_id == decision.tenant_id,
                    StopDecision.instance_id == decision.instance_id,
                    StopDecision.action == "start",
                    StopDecision.result == "started",
                    StopDecision.decided_at > decision.decided_at,
                )
            )
        return bool(later)

    def _policy_stops_last_hour(self, decision: StopDecision) -> int:
        """The policy's stops of this tenant in the last hour, counting those in flight.

        Decisions still ``pending`` (another worker acting right now) count too, so two
        workers racing under the cap err on the side of stopping less.
        """
        since = self.clock() - timedelta(hours=1)
        done = "dry-run" if decision.dry_run else "stopped"
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(StopDecision)
                    .where(
                        StopDecision.tenant_id == decision.tenant_id,
                        StopDecision.decision_key != decision.decision_key,
                        StopDecision.action == "stop",
                        StopDecision.actor.startswith(POLICY_ACTOR_PREFIX),
                        StopDecision.dry_run == decision.dry_run,
                        or_(
                            and_(StopDecision.result == done, StopDecision.finished_at >= since),
                            and_(
                                StopDecision.status == "pending", StopDecision.decided_at >= since
                            ),
                        ),
                    )
                )
                or 0
            )

    def stop(
        self,
        tenant_id: str,
        instance_id: str,
        actor: str,
        reason: str,
        decision_key: str,
        dry_run: bool,
        *,
        account_id: str | None = None,
        region: str | None = None,
        max_per_hour: int | None = None,
    ) -> StopOutcome:
        """Stop one instance if every rail allows it; idempotent on ``decision_key``.

        ``actor``: the person's email, or ``policy:<name>`` for the auto-stop policy.
        ``max_per_hour``: the tenant's cap (the policy passes it; people are not capped).
        """

        def judge(decision: StopDecision, facts: InstanceFacts) -> Verdict:
            try:
                refusal = self.refusal(tenant_id, facts)
            except TenantAccessError as exc:
                why = f"not stopped: its instance type could not be checked: {exc.message}"
                return "failed", why, None
            if refusal is not None:
                return "refused", f"not stopped: {refusal[1]}", refusal[0]
            if self._started_since(decision, facts):
                return "skipped", "not stopped: it was started again after this decision", None
            if facts.state in {"stopped", "stopping", "shutting-down", "terminated"}:
                return "skipped", f"nothing to do: the instance is {facts.state}", None
            if max_per_hour is not None and self._policy_stops_last_hour(decision) >= max_per_hour:
                cap = f"not stopped: the cap of {max_per_hour} stops per hour is reached"
                return "skipped", cap, "cap"
            if dry_run:
                return "dry-run", "dry run: would stop it; nothing was changed", None
            return self._call(facts, tenant_id, "stop")

        decision = Decision(tenant_id, instance_id, "stop", actor, reason, decision_key, dry_run)
        return self._decide(decision, judge, account_id, region)

    def start(
        self,
        tenant_id: str,
        instance_id: str,
        actor: str,
        reason: str,
        decision_key: str,
        *,
        account_id: str | None = None,
        region: str | None = None,
        dry_run: bool = False,
    ) -> StopOutcome:
        """Start a stopped instance again (a person's undo, a schedule's period) unless the
        protect checks forbid it; idempotent on ``decision_key``. ``dry_run``: audit only."""

        def judge(decision: StopDecision, facts: InstanceFacts) -> Verdict:
            refusal = protect_rails(facts, self.settings.protect_tag)
            if refusal is not None:
                return "refused", f"not started: {refusal[1]}", refusal[0]
            if dry_run:
                return "dry-run", f"dry run: would start it (it is {facts.state})", None
            if facts.state in {"running", "pending"}:
                return "skipped", f"nothing to do: the instance is {facts.state}", None
            return self._call(facts, tenant_id, "start")

        decision = Decision(tenant_id, instance_id, "start", actor, reason, decision_key, dry_run)
        return self._decide(decision, judge, account_id, region)

    def _decide(
        self,
        wanted: Decision,
        judge: Callable[[StopDecision, InstanceFacts], Verdict],
        account_id: str | None,
        region: str | None,
    ) -> StopOutcome:
        """Record the decision, describe the instance fresh, let ``judge`` act, record it."""
        decision, fresh = self._reserve(wanted)
        if not fresh and decision.status == "done":
            return self._replayed(decision)
        try:
            facts = self.describe(
                wanted.tenant_id, wanted.instance_id, account_id=account_id, region=region
            )
        except (NotFound, TenantAccessError) as exc:
            return self._finish(decision, "failed", str(exc), account_id=account_id)
        result, message, rail = judge(decision, facts)
        return self._finish(
            decision, result, message, rail=rail, account_id=facts.account_id, region=facts.region
        )

    def tag(
        self,
        tenant_id: str,
        facts: InstanceFacts,
        *,
        set_tags: dict[str, str] | None = None,
        remove: list[str] | None = None,
    ) -> None:
        """Set or remove tags on the instance through the tenant's role (the ``tag`` action)."""
        plugin: Any = ACTIONS["tag"]
        params = plugin.Params(set=set_tags or {}, remove=remove or [])
        with self.sessions() as session:
            account = self._account(session, tenant_id, facts.account_id)
        ec2 = self.tenants.client(account, "ec2", facts.region)
        with self.tenants.guard(account, facts.region, "CreateTags"):
            plugin.run(ec2, facts.instance_id, params)

    def _call(self, facts: InstanceFacts, tenant_id: str, verb: str) -> Verdict:
        plugin: Any = ACTIONS["stop"]
        with self.sessions() as session:
            account = self._account(session, tenant_id, facts.account_id)
        ec2 = self.tenants.client(account, "ec2", facts.region)
        operation = "StopInstances" if verb == "stop" else "StartInstances"
        try:
            with self.tenants.guard(account, facts.region, operation):
                state = (
                    plugin.run(ec2, facts.instance_id)
                    if verb == "stop"
                    else plugin.undo(ec2, facts.instance_id)
                )
        except TenantAccessError as exc:
            return "failed", exc.message, None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            return (
                "failed",
                f"AWS refused {operation}: {err.get('Code')}: {err.get('Message')}",
                None,
            )
        done = "stopped" if verb == "stop" else "started"
        return done, f"{done} (EC2 reports {state})", None

    def _replayed(self, decision: StopDecision) -> StopOutcome:
        self.metrics.stops.labels(
            tenant=decision.tenant_id, action=decision.action, outcome="replayed"
        ).inc()
        return StopOutcome(
            result="replayed",
            message=f"this decision was already carried out ({decision.result})",
            decision_key=decision.decision_key,
            instance_id=decision.instance_id,
            dry_run=decision.dry_run,
            previous=decision.result,
        )

    def _finish(
        self,
        decision: StopDecision,
        result: str,
        message: str,
        *,
        rail: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
    ) -> StopOutcome:
        with self.sessions() as session, session.begin():
            row = session.get(StopDecision, decision.decision_key)
            assert row is not None
            # A failure or the hourly cap is not final: the same decision may be tried
            # again (throttling, a role fixed, the next hour), so its audit entry does not
            # take the decision key.
            final = result != "failed" and rail != "cap"
            row.status = "done" if final else "failed"
            row.result = result
            row.finished_at = utcnow()
            row.account_id = account_id
            row.region = region
            record, _ = audit(
                session,
                decision.tenant_id,
                actor=decision.actor,
                action=decision.action,
                result=result,
                reason=decision.reason,
                account_id=account_id,
                instance_id=decision.instance_id,
                dry_run=decision.dry_run,
                decision_key=decision.decision_key if final else None,
                details={"message": message, **({"rail": rail} if rail else {})},
            )
        self.metrics.stops.labels(
            tenant=decision.tenant_id, action=decision.action, outcome=result
        ).inc()
        publish_action(self.sink, record)
        log.info(
            "%s %s %s by %s: %s (%s)",
            decision.action,
            decision.tenant_id,
            decision.instance_id,
            decision.actor,
            result,
            message,
        )
        return StopOutcome(
            result=result,
            message=message,
            decision_key=decision.decision_key,
            instance_id=decision.instance_id,
            dry_run=decision.dry_run,
            rail=rail,
        )


def _facts(
    raw: dict[str, Any], account_id: str, region: str, attr: dict[str, Any]
) -> InstanceFacts:
    tags = {t["Key"]: t.get("Value", "") for t in raw.get("Tags", [])}
    launch = raw.get("LaunchTime")
    if isinstance(launch, datetime) and launch.tzinfo is None:
        launch = launch.replace(tzinfo=UTC)
    return InstanceFacts(
        instance_id=raw["InstanceId"],
        account_id=account_id,
        region=region,
        state=raw.get("State", {}).get("Name", "unknown"),
        tags=tags,
        lifecycle=raw.get("InstanceLifecycle") or "on-demand",
        root_device_type=raw.get("RootDeviceType", "ebs"),
        stop_protection=bool(attr.get("DisableApiStop", {}).get("Value", False)),
        launch_time=launch if isinstance(launch, datetime) else None,
        name=tags.get("Name", ""),
        instance_type=raw.get("InstanceType", ""),
    )
