"""Usage anomalies in the alert digest, through the sandbox's SES: their own section, under
the same per-recipient cooldown and outbox as idle instances, filtered by the
organisation's setting (all, above a dollar rate, none)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from actions.links import LinkError, verify
from spendsense.events import AnomalyRecord
from spendsense.store import get_tenant
from spendsense.store.models import AnomalyAlertState, EmailOutbox
from tests.actions.conftest import KEY, Rig
from tests.api.conftest import RUNAWAY_CPU, anomaly_record

LINK = re.compile(r"https?://\S+/links/[A-Za-z0-9_\-.]+")


def _anomaly(rig: Rig, instance_id: str, **kw: object) -> AnomalyRecord:
    since = kw.pop("since", rig.clock() - timedelta(minutes=10))
    return anomaly_record(
        "acme",
        instance_id,
        since,
        account_id=rig.accounts["acme"].account_id,
        **kw,  # type: ignore[arg-type]
    )


def _set_mode(rig: Rig, mode: str, min_usd_per_hour: float = 0.0) -> None:
    with rig.store.sessions.begin() as session:
        tenant = get_tenant(session, "acme")
        assert tenant is not None
        tenant.anomaly_alerts = mode
        tenant.anomaly_alert_min_usd_per_hour = min_usd_per_hour


def _expected_links(rig: Rig, text: str) -> list[str]:
    return [u for u in LINK.findall(text) if rig.claims(u).action == "anomaly-expected"]


def test_one_email_per_cooldown_holds_both_sections(rig: Rig) -> None:
    first, idle, surging = "i-0aa11bb22cc33ee01", "i-0aa11bb22cc33ee02", "i-0aa11bb22cc33ee03"
    assert rig.runtime.handle(rig.detection(first)) == "emailed"
    rig.clock.advance(minutes=5)
    # inside the cooldown: a newly idle instance and an egress surge both wait
    assert rig.runtime.handle(rig.detection(idle)) == "cooldown"
    surge = _anomaly(rig, surging)
    assert rig.runtime.handle_anomaly(surge) == "cooldown"
    assert rig.runtime.handle_anomaly(surge) == "stale"  # a replay of the same record
    assert len(rig.mail_to(rig.recipient)) == 1

    rig.clock.advance(hours=1)
    rig.runtime.tick()
    _, mail = rig.mail_to(rig.recipient)
    assert mail.subject == (
        "SpendSense: 1 idle EC2 instance, about $69/month; 1 usage anomaly, $2.70/hour"
    )
    text, html = mail.text or "", mail.html or ""
    for part in (text, html):
        assert idle in part and first not in part  # the idle section: only what is new
        assert surging in part and "Network out up" in part
        assert "8.3 MB/s" in part  # observed: 2.5 GB in 5 minutes
        assert "333.3 B/s to 16.7 KB/s" in part  # the expected range, per second
        assert "$2.70/hour (about $1,971/month)" in part
        assert "data transfer out at $0.09/GB (us-east-1)" in part
        assert f"/instances/{surging}" in part
    (expected_url,) = _expected_links(rig, text)
    assert _expected_links(rig, html) == [expected_url]
    claims = rig.claims(expected_url)
    assert (claims.instance_id, claims.incident_id, claims.metric) == (
        surging,
        surge.incident_id,
        "network_out_bytes",
    )
    with rig.store.sessions() as session:
        row = session.scalars(select(EmailOutbox).order_by(EmailOutbox.id.desc())).first()
        assert row is not None
        # only the idle section's instances: a refused email puts exactly these back
        assert row.instance_ids == [idle] and row.incident_ids == [surge.incident_id]

    # the incident ends: kept, but never in a second email
    rig.clock.advance(hours=2)
    ended = _anomaly(rig, surging, since=surge.since, status="closed")
    assert rig.runtime.handle_anomaly(ended) == "closed"
    assert rig.runtime.handle_anomaly(ended) == "stale"
    rig.runtime.tick()
    assert len(rig.mail_to(rig.recipient)) == 2


def test_an_incident_that_ended_before_the_digest_is_still_told(rig: Rig) -> None:
    iid = "i-0aa11bb22cc33ee04"
    since = rig.clock() - timedelta(hours=3)
    assert rig.runtime.handle_anomaly(_anomaly(rig, iid, since=since, status="closed")) == "emailed"
    (mail,) = rig.mail_to(rig.recipient)
    assert mail.subject == "SpendSense: 1 usage anomaly"  # it no longer costs
    assert "idle EC2" not in (mail.text or "")
    assert "ended " in (mail.text or "")
    assert "$2.70/hour while it lasted" in (mail.text or "")
    assert "/month" not in (mail.text or "")


@pytest.mark.parametrize(
    ("mode", "min_usd", "alerting"),
    [
        ("priced", 0.0, {"dear", "cheap"}),  # the default: every anomaly with a direct cost
        ("priced", 0.5, {"dear"}),
        ("all", 0.0, {"dear", "cheap", "unpriced"}),
        ("none", 0.0, set()),
    ],
)
def test_the_setting_chooses_which_anomalies_alert(
    rig: Rig, mode: str, min_usd: float, alerting: set[str]
) -> None:
    _set_mode(rig, mode, min_usd)
    iids = {
        "dear": "i-0aa11bb22cc33ff01",
        "cheap": "i-0aa11bb22cc33ff02",
        "unpriced": "i-0aa11bb22cc33ff03",
    }
    records = {
        "dear": _anomaly(rig, iids["dear"]),
        "cheap": _anomaly(rig, iids["cheap"], dollars_per_hour=0.2),
        "unpriced": _anomaly(
            rig,
            iids["unpriced"],
            **RUNAWAY_CPU,
        ),
    }
    for rec in records.values():
        assert rig.alerts.observe_anomaly(rec) == "pending"
    flushed = rig.alerts.flush("acme")
    mails = rig.mail_to(rig.recipient)
    if not alerting:
        assert flushed.suppressed == "nothing-pending" and mails == []
    else:
        (mail,) = mails
        told = {k for k, iid in iids.items() if iid in (mail.text or "")}
        assert told == alerting
        assert len(_expected_links(rig, mail.text or "")) == len(alerting)
    # nothing is left waiting: what the setting excludes is not sent later either
    assert rig.alerts.pending_tenants() == []
    with rig.store.sessions() as session:
        alerted = {
            s.instance_id
            for s in session.scalars(select(AnomalyAlertState)).all()
            if s.alerted_at is not None
        }
    assert alerted == {iids[k] for k in alerting}


def test_an_expected_link_is_bound_to_its_incident(rig: Rig) -> None:
    iid = "i-0aa11bb22cc33ee05"
    assert rig.runtime.handle_anomaly(_anomaly(rig, iid)) == "emailed"
    (mail,) = rig.mail_to(rig.recipient)
    (url,) = _expected_links(rig, mail.text or "")
    token = url.rsplit("/", 1)[1]
    with pytest.raises(LinkError) as err:
        verify(KEY.encode(), token, action="not-idle")
    assert err.value.reason == "wrong-action"
