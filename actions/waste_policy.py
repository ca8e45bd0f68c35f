"""The per-tenant waste policy: off by default, dry-run by default, capped per hour.

For a tenant that turned it on (``Tenant.waste_policy_*``), each ``waste`` record (never a
provisional one: the kind's grace period and history come first) of a kind with an action a
policy may run (:attr:`~actions.waste_actions.WasteAction.policy`: a volume's
snapshot-then-delete, a database's stop) asks the waste executor to run it under the
decision key ``<tenant>/waste-policy/<kind>/<resource>/<action>/<since>`` (``/dry-run`` appended in a
dry run): once per finding and mode,
with the tenant's dry-run flag and hourly cap, every rail still applying (the protect tag
first). Releasing an address or deleting a gateway, balancer or snapshot is never a policy's.
Nor is a finding whose quiet *hums* (detail ``quiet_above_rest_level``: its connections or
traffic sat at a background above zero): one connection a day is a monitoring agent's or a
small report's, and only a person can tell, so it is alerted and left to them; a policy
stops only a database that was silent.

>>> policy_action("ebs-volume"), policy_action("rds-instance"), policy_action("elastic-ip")
('snapshot-then-delete', 'stop', None)
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from actions.waste_actions import plugins
from actions.waste_executor import WasteExecutor, WasteOutcome, WasteRequest
from spendsense.events import WasteRecord
from spendsense.resources.registry import HUMS
from spendsense.store.models import Tenant

POLICY_ACTOR = "policy:waste"


def policy_action(kind: str) -> str | None:
    """The action a policy may run on ``kind``, if any."""
    return next((p.action for p in plugins() if p.kind == kind and p.policy), None)


def decision_key(rec: WasteRecord, action: str, dry_run: bool) -> str:
    """One decision per finding (a resource wasted since a moment), action and mode: a dry
    run is told once, and turning dry-run off then acts once."""
    since = rec.since.isoformat() if rec.since is not None else "-"
    mode = "/dry-run" if dry_run else ""
    return f"{rec.tenant_id}/waste-policy/{rec.kind}/{rec.resource_id}/{action}/{since}{mode}"


class WastePolicy:
    """Runs the tenant's waste policy on one record through the executor."""

    def __init__(self, sessions: sessionmaker[Session], executor: WasteExecutor) -> None:
        self.sessions = sessions
        self.executor = executor

    def consider(self, rec: WasteRecord) -> WasteOutcome | None:
        """The executor's outcome, or None when the policy does not apply."""
        action = policy_action(rec.kind)
        if not rec.waste or rec.gone or action is None or rec.details.get(HUMS):
            return None
        with self.sessions() as session:
            tenant = session.get(Tenant, rec.tenant_id)
            if tenant is None or not tenant.waste_policy_enabled:
                return None
            dry_run, cap = tenant.waste_policy_dry_run, tenant.waste_policy_max_per_hour
        return self.executor.act(
            WasteRequest(
                tenant_id=rec.tenant_id,
                kind=rec.kind,
                resource_id=rec.resource_id,
                action=action,
                actor=POLICY_ACTOR,
                decision_key=decision_key(rec, action, dry_run),
                account_id=rec.account_id,
                region=rec.region,
                reason=f"waste policy: {rec.reason}" if rec.reason else "waste policy",
                dry_run=dry_run,
                max_per_hour=cap,
            )
        )
