"""Alert emails through the sandbox's SES: one digest per cooldown, working links, SES
errors retried or recorded, a kill during the send never duplicates."""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from actions import feedback
from actions.alerts import AlertService
from actions.links import LinkError, consume, verify
from spendsense.events import FeedbackRecord
from spendsense.settings import StoreSettings
from spendsense.store import list_audit, open_store
from spendsense.store.models import EmailOutbox, InstanceAlertState
from spendsense.topics import FEEDBACK
from tests.actions.conftest import KEY, Rig, TenantAccount, make_rig, make_store

if TYPE_CHECKING:
    from tests.fixtures.sandbox import Sandbox

LINK = re.compile(r"https?://\S+/links/[A-Za-z0-9_\-.]+")


def _links(text: str) -> list[str]:
    return LINK.findall(text)


def _suppressed(rig: Rig, reason: str) -> float:
    value = rig.metrics.registry.get_sample_value(
        "spendsense_actions_alerts_suppressed_total", {"tenant": "acme", "reason": reason}
    )
    return value or 0.0


def test_detection_sends_one_digest_with_working_links_and_cooldown_holds(rig: Rig) -> None:
    to_stop, to_keep = rig.run_instance(), rig.run_instance()
    assert rig.runtime.handle(rig.detection(to_stop)) == "emailed"
    # the second arrives inside the cooldown: it waits for the next digest
    assert rig.runtime.handle(rig.detection(to_keep)) == "cooldown"
    rig.clock.advance(minutes=5)  # detections keep coming: one suppression, not one each
    assert rig.runtime.handle(rig.detection(to_keep)) == "cooldown"
    (mail,) = rig.mail_to(rig.recipient)
    assert mail.source == rig.settings.sender
    assert mail.text is not None and mail.html is not None
    for part in (mail.text, mail.html):
        for fact in (f"box-{to_stop[-4:]}", to_stop, "us-east-1", "m5.large", "$69.12"):
            assert fact in part
        assert "CPU under 1% and no network for 2 days" in part
    stop_url, not_idle_url = _links(mail.text)
    assert _links(mail.html) == [stop_url, not_idle_url]
    assert _suppressed(rig, "cooldown") == 1.0

    # Stop link: verify (GET shows the page), then confirm: consume and stop
    token = stop_url.rsplit("/", 1)[1]
    with rig.store.sessions.begin() as session:
        claims = verify(KEY.encode(), token, tenant_id="acme", action="stop", session=session)
        consume(session, claims, actor=rig.recipient)
    assert claims.instance_id == to_stop
    outcome = rig.executor.stop(
        "acme", claims.instance_id, rig.recipient, "Stop link", claims.decision_key, False
    )
    assert outcome.result == "stopped"
    assert rig.state(to_stop) == "stopped"
    with rig.store.sessions() as session, pytest.raises(LinkError) as err:
        verify(KEY.encode(), token, session=session)
    assert err.value.reason == "used"

    # the cooldown ends: the next digest lists only what is new (to_keep)
    rig.clock.advance(hours=1, seconds=1)
    rig.runtime.tick()
    _, second = rig.mail_to(rig.recipient)
    assert to_keep in (second.text or "") and to_stop not in (second.text or "")
    (not_idle_url,) = [u for u in _links(second.text or "") if rig.claims(u).action == "not-idle"]

    # Not idle link: marks the instance and feeds the detector
    with rig.store.sessions.begin() as session:
        claims = verify(KEY.encode(), not_idle_url.rsplit("/", 1)[1], session=session)
        consume(session, claims, actor=rig.recipient)
    feedback.not_idle(
        rig.store.sessions,
        rig.sink,
        "acme",
        claims.instance_id,
        rig.recipient,
        decision_key=claims.decision_key,
    )
    sent = [(t, k, r) for t, k, r in rig.sink.sent if t == FEEDBACK]
    assert [(k, type(r)) for _, k, r in sent] == [(to_keep, FeedbackRecord)]
    # same idle episode after the mark: no alert, even when the cooldown allows one
    rig.clock.advance(hours=2)
    assert rig.alerts.observe(rig.detection(to_keep)) == "not-idle"
    rig.runtime.tick()
    assert len(rig.mail_to(rig.recipient)) == 2
    with rig.store.sessions() as session:
        actions = sorted(e.action for e in list_audit(session, "acme"))
    assert actions == ["email", "email", "not-idle", "stop"]


def test_each_instance_in_the_digest_links_to_its_page_on_the_dashboard(rig: Rig) -> None:
    first, second = "i-0aa11bb22cc33dd55", "i-0aa11bb22cc33dd66"
    rig.alerts.observe(rig.detection(first))
    assert rig.runtime.handle(rig.detection(second)) == "emailed"
    (mail,) = rig.mail_to(rig.recipient)
    base = rig.settings.public_base_url.rstrip("/")
    for iid in (first, second):
        page = f"{base}/instances/{iid}"
        assert page in (mail.text or "")
        assert f'href="{page}"' in (mail.html or "")


def test_an_alerted_instance_alerts_again_only_after_being_busy(rig: Rig) -> None:
    iid = "i-0aa11bb22cc33dd44"
    assert rig.runtime.handle(rig.detection(iid)) == "emailed"
    rig.clock.advance(hours=2)
    assert rig.runtime.handle(rig.detection(iid)) == "already-alerted"
    rig.runtime.tick()
    assert len(rig.mail_to(rig.recipient)) == 1
    rig.clock.advance(minutes=5)
    assert rig.runtime.handle(rig.detection(iid, idle=False)) == "busy"
    rig.clock.advance(hours=1)
    again = rig.detection(iid, idle_since=rig.clock())
    assert rig.runtime.handle(again) == "emailed"
    assert len(rig.mail_to(rig.recipient)) == 2


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_workers_racing_send_one_email(
    backend: str,
    sandbox: Sandbox,
    tenant_accounts: dict[str, TenantAccount],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    """Two workers (their own engines) flush the same tenant at the same moment."""
    url = postgres_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'store.db'}"
    store = make_store(url, tenant_accounts, f"race-{uuid.uuid4().hex[:8]}@acme.test")
    rig = make_rig(sandbox, tenant_accounts, store)
    other_store = open_store(StoreSettings(url=url))
    other = make_rig(sandbox, tenant_accounts, other_store, rig.clock)
    try:
        for n, worker in enumerate((rig, other)):
            assert worker.alerts.observe(rig.detection(f"i-0{n}b11bb22cc33dd44")) == "pending"
        barrier = threading.Barrier(2)
        results: list[Any] = []

        def flush(service: AlertService) -> None:
            barrier.wait()
            results.append(service.flush("acme"))

        threads = [threading.Thread(target=flush, args=(w.alerts,)) for w in (rig, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # the loser finds the cooldown taken, or (queued behind the winner) nothing left
        outcomes = sorted(r.suppressed or "sent" for r in results)
        assert outcomes in (["cooldown", "sent"], ["nothing-pending", "sent"])
        (mail,) = rig.mail_to(rig.recipient)
        assert "i-00b11bb22cc33dd44" in (mail.text or "")
        assert "i-01b11bb22cc33dd44" in (mail.text or "")
    finally:
        other_store.dispose()
        store.dispose()


def test_ses_throttling_is_retried_and_sends_once(rig: Rig, sandbox_faults: Sandbox) -> None:
    sandbox_faults.set_faults(services=["ses"], throttle_rate=1.0)
    assert rig.runtime.handle(rig.detection("i-0cc11bb22cc33dd44")) == "emailed"
    assert rig.mail_to(rig.recipient) == []
    with rig.store.sessions() as session:
        (row,) = session.scalars(select(EmailOutbox)).all()
    assert row.status == "retry"
    assert row.error_code in {"Throttling", "ThrottlingException"}
    assert rig.metrics.registry.get_sample_value(
        "spendsense_actions_ses_errors_total", {"tenant": "acme", "code": row.error_code}
    )
    sandbox_faults.clear_faults()
    rig.runtime.tick()  # not due yet
    assert rig.mail_to(rig.recipient) == []
    rig.clock.advance(minutes=1)
    # two workers' timers find the same due email: one claims and sends it
    other_store = open_store(StoreSettings(url=rig.store.engine.url.render_as_string(False)))
    other = make_rig(sandbox_faults, rig.accounts, other_store, rig.clock)
    barrier = threading.Barrier(2)

    def tick(worker: Rig) -> None:
        barrier.wait()
        worker.runtime.tick()

    threads = [threading.Thread(target=tick, args=(w,)) for w in (rig, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other_store.dispose()
    rig.runtime.tick()
    assert len(rig.mail_to(rig.recipient)) == 1
    with rig.store.sessions() as session:
        assert session.scalars(select(EmailOutbox.status)).all() == ["sent"]


def test_unverified_sender_is_recorded_and_the_alert_kept(
    sandbox: Sandbox, tenant_accounts: Any, store: Any
) -> None:
    rig = make_rig(sandbox, tenant_accounts, store, sender="nobody@unverified.test")
    iid = "i-0dd11bb22cc33dd44"
    rig.runtime.handle(rig.detection(iid))
    assert rig.mail_to(rig.recipient) == []
    with rig.store.sessions() as session:
        (row,) = session.scalars(select(EmailOutbox)).all()
        (entry,) = list_audit(session, "acme")
        state = session.get(InstanceAlertState, ("acme", iid))
    assert (row.status, row.error_code) == ("failed", "MessageRejected")
    assert (entry.action, entry.result) == ("email", "failed")
    assert "MessageRejected" in entry.details["detail"]
    assert state is not None and state.pending  # the next window includes it again
    assert [r.result for r in rig.sink.records] == ["failed"]


def test_worker_killed_during_the_send_never_sends_a_duplicate(
    rig: Rig, sandbox: Sandbox, tenant_accounts: Any
) -> None:
    class Killed(BaseException):
        pass

    def dies() -> Any:
        raise Killed  # the process dies while SES is being called

    doomed = AlertService(
        rig.settings, rig.store.sessions, dies, KEY.encode(), rig.sink, rig.metrics, clock=rig.clock
    )
    doomed.observe(rig.detection("i-0ee11bb22cc33dd44"))
    with pytest.raises(Killed):
        doomed.flush("acme")
    # restarted worker: inside the lease the row is left alone, inside the cooldown no email
    rig.runtime.tick()
    rig.runtime.handle(rig.detection("i-0ff11bb22cc33dd44"))
    rig.clock.advance(seconds=rig.settings.email_lease_s + 1)
    rig.runtime.tick()
    assert rig.mail_to(rig.recipient) == []
    with rig.store.sessions() as session:
        (row,) = session.scalars(select(EmailOutbox)).all()
        entries = list_audit(session, "acme")
    assert row.status == "unknown"
    assert [(e.action, e.result) for e in entries] == [("email", "unknown")]
