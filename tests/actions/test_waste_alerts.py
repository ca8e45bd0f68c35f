"""Wasted resources in the alert digest, through the sandbox's SES: grouped by kind with each
kind's count and dollars a month, under the same cooldown and outbox as idle instances;
only ``waste`` findings (never provisional ones), each once per finding."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from spendsense.events import WasteRecord
from spendsense.store.models import EmailOutbox
from spendsense.store.models.waste import WasteAlertState
from tests.actions.conftest import REGION, Rig, make_rig
from tests.fixtures.sandbox import Sandbox


def finding(rig: Rig, kind: str, resource_id: str, price: float, **kw: Any) -> WasteRecord:
    fields: dict[str, Any] = {
        "tenant_id": "acme",
        "account_id": rig.accounts["acme"].account_id,
        "region": REGION,
        "kind": kind,
        "resource_id": resource_id,
        "waste": True,
        "monthly_price_usd": price,
        "reason": f"{kind} unused for 9 days",
        "since": rig.clock() - timedelta(days=9),
        "observed_at": rig.clock(),
    }
    return WasteRecord(**(fields | kw))


def test_the_digest_groups_findings_by_kind_once_each(rig: Rig) -> None:
    vol_a, vol_b, eip = "vol-0aaa0000000000001", "vol-0aaa0000000000002", "eipalloc-0bbb0001"
    assert rig.runtime.handle_waste(finding(rig, "ebs-volume", vol_a, 40.0)) == "emailed"
    first = rig.mail_to(rig.recipient)[-1]
    assert first.subject == "SpendSense: 1 wasted resource, about $40/month"
    assert "EBS volumes: 1, about $40.00 per month" in (first.text or "")
    assert f"/waste/ebs-volume/{vol_a}" in (first.html or "")

    rig.clock.advance(minutes=5)  # inside the cooldown: these wait
    assert rig.runtime.handle_waste(finding(rig, "ebs-volume", vol_b, 8.0)) == "cooldown"
    assert rig.runtime.handle_waste(finding(rig, "elastic-ip", eip, 3.6)) == "cooldown"
    # provisional (grace period, half-seen history) never alerts
    early = finding(rig, "nat-gateway", "nat-0ccc0001", 32.85, waste=False, provisional=True)
    assert rig.runtime.handle_waste(early) == "not-waste"
    # the first one seen again: the same finding, already told
    rig.clock.advance(minutes=1)
    assert rig.runtime.handle_waste(finding(rig, "ebs-volume", vol_a, 40.0)) == "already-alerted"

    rig.clock.advance(hours=1)
    rig.runtime.tick()
    second = rig.mail_to(rig.recipient)[-1]
    assert second.subject == "SpendSense: 2 wasted resources, about $12/month"
    for part in (second.text or "", second.html or ""):
        assert "EBS volumes: 1, about $8.00 per month" in part
        assert "Elastic IPs: 1, about $3.60 per month" in part
        assert part.index("EBS volumes") < part.index("Elastic IPs")  # costliest kind first
        assert vol_b in part and eip in part
        assert vol_a not in part and "nat-0ccc0001" not in part
    rig.clock.advance(hours=2)
    rig.runtime.tick()
    assert len(rig.mail_to(rig.recipient)) == 2  # nothing new: no third email


def test_instances_come_first_then_waste_in_one_email(rig: Rig) -> None:
    iid = "i-0ddd00000000000a1"
    # the instance's digest goes out first; within its cooldown a wasted volume waits
    assert rig.runtime.handle(rig.detection(iid)) == "emailed"
    rig.clock.advance(minutes=1)
    idle = "i-0ddd00000000000a2"
    assert rig.runtime.handle(rig.detection(idle)) == "cooldown"
    assert rig.runtime.handle_waste(finding(rig, "rds-instance", "reports-db", 120.0)) == "cooldown"
    rig.clock.advance(hours=1)
    rig.runtime.tick()
    mail = rig.mail_to(rig.recipient)[-1]
    assert mail.subject == (
        "SpendSense: 1 idle EC2 instance, about $69/month; 1 wasted resource, about $120/month"
    )
    text = mail.text or ""
    assert text.index(idle) < text.index("RDS databases: 1, about $120.00 per month")
    with rig.store.sessions() as session:
        row = session.scalars(select(EmailOutbox).order_by(EmailOutbox.id.desc())).first()
        assert row is not None and row.instance_ids == [idle]


def test_a_finding_of_an_unknown_tenant_is_reported(rig: Rig) -> None:
    stray = finding(rig, "elastic-ip", "eipalloc-0eee0001", 3.6, tenant_id="nobody")
    assert rig.runtime.handle_waste(stray) == "unknown-tenant"


def test_a_refused_digest_puts_its_findings_back(
    sandbox: Sandbox, tenant_accounts: Any, store: Any
) -> None:
    rig = make_rig(sandbox, tenant_accounts, store, sender="nobody@unverified.test")
    vol = "vol-0aaa0000000000009"
    assert rig.runtime.handle_waste(finding(rig, "ebs-volume", vol, 40.0)) == "emailed"
    assert rig.mail_to(rig.recipient) == []  # SES refused the sender
    with rig.store.sessions() as session:
        (row,) = session.scalars(select(EmailOutbox)).all()
        state = session.get(WasteAlertState, ("acme", "ebs-volume", vol))
    assert (row.status, row.waste_keys) == ("failed", [f"ebs-volume/{vol}"])
    assert state is not None and state.pending  # the next window names it again
    # and the same finding seen again waits for that window instead of being "already told"
    assert rig.runtime.handle_waste(finding(rig, "ebs-volume", vol, 40.0)) != "already-alerted"
