"""The waste executor: one action on one wasted resource, safely and once per decision.

:meth:`WasteExecutor.act` is what every action on a resource goes through (a person on the
dashboard, a policy):

1. the decision is recorded under its ``decision_key`` before anything else; a key carried
   out before returns ``replayed`` with the first result and acts no more (one still in
   flight returns ``in-progress``);
2. the resource is described fresh through the tenant's role (AssumeRole with the
   account's ExternalId); one that no longer exists is ``skipped``;
3. the rails: never a resource with the protect tag, nor one the action's own check
   forbids (an attached volume, an associated address, a database not available); a
   policy only runs actions that allow it (:attr:`~actions.waste_actions.WasteAction.policy`),
   capped per hour and dry-run first (``refused``, ``skipped``, ``dry-run``);
4. an irreversible action needs the person to type the resource's id, name or public IP
   (``confirm-required``: nothing changes);
5. the action, then the outcome in the audit log (same ``decision_key``, the resource in
   ``details``), on the resource's row, and on the ``actions`` topic.

A failure, a refusal, a missing confirmation or the cap is not final: the same decision may
be tried again (its audit entry does not take the key), once the tag is gone, the right
words typed or the hour over.

>>> protected(ResourceFacts("ebs-volume", "vol-1", "available", {"spendsense:protect": ""}),
...           "spendsense:protect")
'it carries the spendsense:protect tag'
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from actions.audit import EventSink, audit, publish_action
from actions.stopping import POLICY_ACTOR_PREFIX
from actions.waste_actions import ResourceFacts, WasteAction, find_action
from spendsense.access import AccountRef, TenantSessions
from spendsense.errors import NotFound, TenantAccessError
from spendsense.settings import ActionsSettings
from spendsense.store import get_aws_account
from spendsense.store.models.waste import WasteDecision, WasteResource

log = logging.getLogger(__name__)

NOT_FINAL = frozenset({"failed", "confirm-required", "refused"})
PENDING_LEASE = timedelta(minutes=15)
"""A decision left ``pending`` this long died with its process (the longest action, a
snapshot's wait, takes 10 minutes at most): the next try takes it again."""
CHANGED = frozenset({"deleted", "released", "tagged", "stopped"})


@dataclass(frozen=True)
class WasteRequest:
    """What is asked: one action on one resource, by whom, why, under which key."""

    tenant_id: str
    kind: str
    resource_id: str
    action: str
    actor: str
    decision_key: str
    account_id: str
    region: str
    reason: str = ""
    confirm: str | None = None
    dry_run: bool = False
    max_per_hour: int | None = None


@dataclass(frozen=True)
class WasteOutcome:
    """What the request ended as.

    ``result``: what the action did (``deleted``, ``released``, ``tagged``, ``stopped``),
    ``dry-run``, ``refused`` (a rail), ``skipped`` (gone, or the cap), ``confirm-required``,
    ``failed`` (AWS said no), ``replayed`` (``previous`` is the first result) or
    ``in-progress``.
    """

    result: str
    message: str
    decision_key: str
    details: dict[str, Any] = field(default_factory=dict)
    previous: str | None = None


class Earlier(NamedTuple):
    """An earlier request under the same key: ``done`` (its result stands) or ``pending``."""

    status: str
    result: str
    details: dict[str, Any]


def protected(facts: ResourceFacts, protect_tag: str) -> str | None:
    """Why the protect tag forbids acting on the resource, or None."""
    return f"it carries the {protect_tag} tag" if protect_tag in facts.tags else None


class WasteExecutor:
    """Acts on wasted resources in customer accounts, safely and once per decision."""

    def __init__(
        self,
        settings: ActionsSettings,
        sessions: sessionmaker[Session],
        tenants: TenantSessions,
        sink: EventSink,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.tenants = tenants
        self.sink = sink
        self.clock = clock

    def act(self, req: WasteRequest) -> WasteOutcome:
        """Carry out ``req`` if every rail allows it; idempotent on its ``decision_key``."""
        plugin = find_action(req.kind, req.action)
        if plugin is None:
            raise NotFound(f"{req.kind} has no action {req.action!r}")
        earlier = self._reserve(req)
        if earlier is not None and earlier.status == "done":
            return WasteOutcome(
                "replayed",
                f"this decision was already carried out ({earlier.result})",
                req.decision_key,
                earlier.details,
                previous=earlier.result,
            )
        if earlier is not None:
            return WasteOutcome(
                "in-progress", "this decision is being carried out", req.decision_key
            )
        result, message, details = self._judge_and_run(plugin, req)
        return self._finish(req, result, message, details)

    # -- deciding ---------------------------------------------------------------------

    def _reserve(self, req: WasteRequest) -> Earlier | None:
        """Record the decision; None when this request is to act, else what the earlier
        one came to. A decision that was not final, or left pending by a process that died
        (:data:`PENDING_LEASE`), is taken again by compare-and-set, so of two retries one
        acts."""
        with self.sessions() as session:
            try:
                with session.begin():
                    session.add(
                        WasteDecision(
                            decision_key=req.decision_key,
                            tenant_id=req.tenant_id,
                            kind=req.kind,
                            resource_id=req.resource_id,
                            action=req.action,
                            actor=req.actor,
                            dry_run=req.dry_run,
                            decided_at=self.clock(),
                            status="pending",
                        )
                    )
                return None
            except IntegrityError:
                pass
        with self.sessions.begin() as session:
            taken = session.execute(
                update(WasteDecision)
                .where(
                    WasteDecision.decision_key == req.decision_key,
                    WasteDecision.tenant_id == req.tenant_id,
                    (WasteDecision.status == "retry")
                    | (
                        (WasteDecision.status == "pending")
                        & (WasteDecision.decided_at < self.clock() - PENDING_LEASE)
                    ),
                )
                .values(status="pending", decided_at=self.clock(), actor=req.actor)
            ).rowcount  # type: ignore[attr-defined]
            row = session.get(WasteDecision, req.decision_key)
            if row is None or row.tenant_id != req.tenant_id:
                raise NotFound(f"decision key {req.decision_key!r} belongs to another tenant")
            if taken:
                return None
            return Earlier(row.status, row.result or "", dict(row.details or {}))

    def _judge_and_run(
        self, plugin: type[WasteAction], req: WasteRequest
    ) -> tuple[str, str, dict[str, Any]]:
        try:
            misplaced = plugin.misplaced(req.resource_id, req.account_id, req.region)
            if misplaced is not None:
                return "refused", f"not done: {misplaced}", {}
            account = self._account(req.tenant_id, req.account_id)
            client = self.tenants.client(account, plugin.service, req.region)
            facts = self._describe(plugin, account, client, req)
            if facts is None:
                return "skipped", "nothing to do: it no longer exists", {"gone": True}
            refusal = protected(facts, self.settings.protect_tag) or plugin.refusal(facts)
            if refusal is not None:
                return "refused", f"not done: {refusal}", {}
            if req.actor.startswith(POLICY_ACTOR_PREFIX):
                held = self._policy_rails(plugin, req)
                if held is not None:
                    return held
            elif plugin.confirm and (req.confirm or "").strip() not in facts.confirm_with:
                what = " or ".join(facts.confirm_with)
                return "confirm-required", f"not done: type {what} to confirm", {}
            if req.dry_run:
                return "dry-run", f"dry run: would {req.action} it; nothing was changed", {}
            with self.tenants.guard(account, req.region, plugin.act_op):
                return plugin.run(client, facts, self.clock())
        except (NotFound, TenantAccessError) as exc:
            return "failed", str(exc), {}
        except ClientError as exc:
            err = exc.response.get("Error", {})
            return "failed", f"AWS refused: {err.get('Code')}: {err.get('Message')}", {}
        except BotoCoreError as exc:  # no answer, a timeout, a snapshot that never completed
            return "failed", f"AWS did not finish: {exc}", {}

    def _account(self, tenant_id: str, account_id: str) -> AccountRef:
        with self.sessions() as session:
            account = get_aws_account(session, tenant_id, account_id)
            if account is None:
                raise NotFound(f"tenant {tenant_id} has no AWS account {account_id}")
            return AccountRef.of(account)

    def _describe(
        self, plugin: type[WasteAction], account: AccountRef, client: Any, req: WasteRequest
    ) -> ResourceFacts | None:
        try:
            with self.tenants.guard(account, req.region, plugin.describe_op):
                return plugin.describe(client, req.resource_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in plugin.not_found:
                return None
            raise

    def _policy_rails(
        self, plugin: type[WasteAction], req: WasteRequest
    ) -> tuple[str, str, dict[str, Any]] | None:
        """A policy runs only what allows it, and no more than its cap an hour."""
        if not plugin.policy:
            return "refused", f"not done: {req.kind} {req.action} is never run by a policy", {}
        if req.max_per_hour is not None and self._policy_done_last_hour(req) >= req.max_per_hour:
            cap = f"not done: the cap of {req.max_per_hour} an hour is reached"
            return "skipped", cap, {"rail": "cap"}
        return None

    def _policy_done_last_hour(self, req: WasteRequest) -> int:
        since = self.clock() - timedelta(hours=1)
        done = ["dry-run"] if req.dry_run else sorted(CHANGED)
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(WasteDecision)
                    .where(
                        WasteDecision.tenant_id == req.tenant_id,
                        WasteDecision.decision_key != req.decision_key,
                        WasteDecision.actor.startswith(POLICY_ACTOR_PREFIX),
                        WasteDecision.decided_at >= since,
                        WasteDecision.result.in_(done) | (WasteDecision.status == "pending"),
                    )
                )
                or 0
            )

    # -- recording --------------------------------------------------------------------

    def _finish(
        self, req: WasteRequest, result: str, message: str, details: dict[str, Any]
    ) -> WasteOutcome:
        final = result not in NOT_FINAL and details.get("rail") != "cap"
        now = self.clock()
        with self.sessions() as session, session.begin():
            row = session.get(WasteDecision, req.decision_key)
            assert row is not None
            row.status = "done" if final else "retry"
            row.result = result
            row.message = message
            row.details = details
            record, _ = audit(
                session,
                req.tenant_id,
                actor=req.actor,
                action=f"{req.kind}:{req.action}",
                result=result,
                reason=req.reason,
                account_id=req.account_id,
                dry_run=req.dry_run,
                decision_key=req.decision_key if final else None,
                details={
                    "kind": req.kind,
                    "resource_id": req.resource_id,
                    "region": req.region,
                    "message": message,
                    **details,
                },
                at=now,
            )
            shown = session.get(WasteResource, (req.tenant_id, req.kind, req.resource_id))
            if shown is not None:
                shown.last_action = f"{req.action}:{result}"
                shown.last_action_at = now
        publish_action(self.sink, record)
        log.info(
            "%s %s %s/%s by %s: %s (%s)",
            req.action,
            req.tenant_id,
            req.kind,
            req.resource_id,
            req.actor,
            result,
            message,
        )
        return WasteOutcome(result, message, req.decision_key, details)
