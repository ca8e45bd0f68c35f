"""The auto-stop policy: off by default, opt-in scope, grace period, dry-run."""

from __future__ import annotations

from typing import Any

from actions import feedback
from spendsense.store import get_tenant, list_audit
from tests.actions.conftest import Rig

OPT_IN = {"spendsense:auto-stop": "true"}


def _tagged(tags: dict[str, str]) -> dict[str, Any]:
    return {
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    }


def _policy(rig: Rig, **fields: Any) -> None:
    with rig.store.sessions.begin() as session:
        tenant = get_tenant(session, "acme")
        assert tenant is not None
        for name, value in fields.items():
            setattr(tenant, f"autostop_{name}", value)


def _audit(rig: Rig) -> list[tuple[str, str, bool]]:
    with rig.store.sessions() as session:
        return [(e.action, e.result, e.dry_run) for e in reversed(list_audit(session, "acme"))]


def test_policy_is_off_by_default(rig: Rig) -> None:
    iid = rig.run_instance(**_tagged(OPT_IN))
    assert rig.policy.apply(rig.detection(iid)) is None
    rig.clock.advance(days=1)
    assert rig.policy.apply(rig.detection(iid)) is None
    assert rig.state(iid) == "running"


def test_grace_period_then_stop_for_opted_in_instances_only(rig: Rig) -> None:
    _policy(rig, enabled=True, dry_run=False, grace_minutes=30, scope="tag")
    opted, other = rig.run_instance(**_tagged(OPT_IN)), rig.run_instance()

    assert rig.runtime.handle(rig.detection(opted)) == "emailed"
    deadline = rig.tags(opted)["spendsense:stop-after"]
    (mail,) = rig.mail_to(rig.recipient)
    assert "will be stopped after" in (mail.text or "")
    assert rig.policy.apply(rig.detection(other)).what == "out-of-scope"  # type: ignore[union-attr]

    rig.clock.advance(minutes=20)  # still inside the grace period
    assert rig.policy.apply(rig.detection(opted)).what == "waiting"  # type: ignore[union-attr]
    assert rig.state(opted) == "running"

    rig.clock.advance(minutes=11)
    outcome = rig.policy.apply(rig.detection(opted))
    assert outcome is not None and outcome.stop is not None
    assert outcome.stop.result == "stopped"
    assert outcome.stop.decision_key == f"acme/auto-stop/{opted}/{deadline}"
    assert rig.state(opted) == "stopped"
    assert rig.state(other) == "running"
    assert "spendsense:stop-after" not in rig.tags(other)
    assert _audit(rig) == [
        ("tag", "grace-started", False),
        ("email", "sent", False),
        ("stop", "stopped", False),
    ]
    # the same decision replayed (a detection re-read after a restart) does nothing more
    again = rig.policy.apply(rig.detection(opted))
    assert again is not None and again.stop is not None and again.stop.result == "replayed"


def test_busy_instance_ends_the_grace_period(rig: Rig) -> None:
    _policy(rig, enabled=True, dry_run=False, grace_minutes=30, scope="all")
    iid = rig.run_instance()
    assert rig.policy.apply(rig.detection(iid)).what == "grace-started"  # type: ignore[union-attr]
    assert "spendsense:stop-after" in rig.tags(iid)
    rig.clock.advance(minutes=10)
    assert rig.policy.apply(rig.detection(iid, idle=False)).what == "grace-cleared"  # type: ignore[union-attr]
    assert "spendsense:stop-after" not in rig.tags(iid)
    rig.clock.advance(minutes=40)  # past the old deadline: idle again starts a new grace
    assert rig.policy.apply(rig.detection(iid)).what == "grace-started"  # type: ignore[union-attr]
    assert rig.state(iid) == "running"


def test_dry_run_policy_changes_nothing_in_aws_and_audits(rig: Rig) -> None:
    _policy(rig, enabled=True, grace_minutes=15, scope="tag")  # dry-run stays on by default
    iid = rig.run_instance(**_tagged(OPT_IN))
    before = rig.tags(iid)
    assert rig.policy.apply(rig.detection(iid)).what == "grace-started"  # type: ignore[union-attr]
    rig.clock.advance(minutes=16)
    outcome = rig.policy.apply(rig.detection(iid))
    assert outcome is not None and outcome.stop is not None
    assert outcome.stop.result == "dry-run"
    assert rig.state(iid) == "running"
    assert rig.tags(iid) == before
    assert _audit(rig) == [("tag", "grace-started", True), ("stop", "dry-run", True)]


def test_not_idle_from_a_person_ends_the_grace_and_is_never_overridden(rig: Rig) -> None:
    _policy(rig, enabled=True, dry_run=False, grace_minutes=30, scope="all")
    iid = rig.run_instance()
    assert rig.runtime.handle(rig.detection(iid)) == "emailed"
    assert "spendsense:stop-after" in rig.tags(iid)
    feedback.not_idle(rig.store.sessions, rig.sink, "acme", iid, rig.recipient)
    rig.clock.advance(minutes=45)  # past the deadline, the detector still says idle
    assert rig.runtime.handle(rig.detection(iid)) == "not-idle"
    assert rig.state(iid) == "running"
    assert "spendsense:stop-after" not in rig.tags(iid)
    assert ("stop", "stopped", False) not in _audit(rig)
