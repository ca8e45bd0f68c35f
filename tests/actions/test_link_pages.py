"""The links in a real alert email, opened in the API as a person would: GET shows a
confirmation page and changes nothing, POST acts once (an anomaly's "Expected" publishes
its feedback on the real broker); replayed, expired and other organisations' links get a
page that says why."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from actions.links import link_url, sign
from api.app import create_app
from spendsense.metrics import CollectorRegistry
from spendsense.settings import KafkaSettings
from spendsense.store import list_audit
from spendsense.store.models import AnomalyAlertState
from spendsense.topics import FEEDBACK, FEEDBACK_SPEC
from tests.actions.conftest import KEY, Rig
from tests.api.conftest import anomaly_record, sign_up
from tests.fixtures.detector import consume

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(rig: Rig, kafka: KafkaSettings, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(rig.api_settings(kafka, tmp_path), registry=CollectorRegistry())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app.state.spendsense.engine.dispose()


def _path(url: str) -> str:
    return urlparse(url).path


def _message(page: str) -> str:
    found = re.search(r'id="link-message">([^<]*)<', page)
    assert found, page
    return html.unescape(found.group(1))


def test_stop_link_confirms_then_stops_once(rig: Rig, client: TestClient) -> None:
    iid = rig.run_instance()
    rig.runtime.handle(rig.detection(iid))
    (mail,) = rig.mail_to(rig.recipient)
    stop_url = next(u for u in (mail.text or "").split() if "/links/" in u)
    assert rig.claims(stop_url).action == "stop"
    assert "Stop asks you to log in" in (mail.text or "")

    rig.log_in(client)  # a Stop link acts for a member of its organisation only
    page = client.get(_path(stop_url))
    assert page.status_code == 200
    assert f"Stop instance {iid}?" in page.text
    assert rig.state(iid) == "running"  # opening the link changed nothing

    csrf = CSRF.search(page.text)
    assert csrf is not None
    done = client.post(_path(stop_url), data={"csrf_token": csrf.group(1)})
    assert done.status_code == 200, done.text
    assert f"Stop {iid}: stopped" in done.text
    assert rig.state(iid) == "stopped"

    rig.executor.start("acme", iid, "ops@acme.test", "needed it", "acme/test/start")
    replay = client.post(_path(stop_url), data={"csrf_token": csrf.group(1)})
    assert replay.status_code == 410
    assert "already used" in _message(replay.text)
    assert rig.state(iid) == "running"
    assert client.get(_path(stop_url)).status_code == 410


def test_expired_tampered_and_other_organisation_links_fail_with_a_clear_page(
    rig: Rig, client: TestClient
) -> None:
    iid = "i-0abc12345678def01"
    old = sign(
        KEY.encode(), "acme", iid, "stop", ttl_s=3600, now=datetime.now(UTC) - timedelta(hours=2)
    )
    expired = client.get(_path(link_url(rig.settings.public_base_url, old)))
    assert expired.status_code == 410
    assert "expired" in _message(expired.text)

    fresh = sign(KEY.encode(), "acme", iid, "not-idle", ttl_s=3600)
    tampered = client.get(f"/links/{fresh[:-4]}AAAA")
    assert tampered.status_code == 400
    assert "altered" in _message(tampered.text)

    stranger = sign_up(client.app)  # type: ignore[arg-type]  # signed in to another organisation
    other = stranger.client.get(f"/links/{fresh}")
    assert other.status_code == 403
    assert "another organisation" in _message(other.text)


def test_expected_link_confirms_then_publishes_the_feedback_once(
    rig: Rig, client: TestClient, kafka: KafkaSettings
) -> None:
    iid = "i-0abc12345678def77"
    surge = anomaly_record(
        "acme", iid, rig.clock() - timedelta(minutes=15), account_id=rig.accounts["acme"].account_id
    )
    assert rig.runtime.handle_anomaly(surge) == "emailed"
    (mail,) = rig.mail_to(rig.recipient)
    (url,) = [
        u
        for u in (mail.text or "").split()
        if "/links/" in u and rig.claims(u).action == "anomaly-expected"
    ]
    anonymous = client.get(_path(url))  # a forwarded mail cannot silence the detector
    assert "Log in to mark" in html.unescape(anonymous.text)
    assert "csrf_token" not in anonymous.text
    rig.log_in(client)
    page = client.get(_path(url))
    assert page.status_code == 200
    assert f"Was the change of {iid}'s Network out expected?" in html.unescape(page.text)
    assert consume(kafka, FEEDBACK, 1, 2) == []  # opening the link changed nothing

    csrf = CSRF.search(page.text)
    assert csrf is not None
    done = client.post(_path(url), data={"csrf_token": csrf.group(1)})
    assert done.status_code == 200, done.text
    assert "change marked expected" in done.text
    (raw,) = consume(kafka, FEEDBACK, 1, 30)
    feedback = FEEDBACK_SPEC.parse(raw)
    assert (feedback.tenant_id, feedback.instance_id, feedback.verdict) == (
        "acme",
        iid,
        "anomaly-expected",
    )
    assert (feedback.incident_id, feedback.metric) == (surge.incident_id, "network_out_bytes")
    assert feedback.actor.startswith("member-")  # the logged-in person who said so

    replay = client.post(_path(url), data={"csrf_token": csrf.group(1)})
    assert replay.status_code == 410
    assert "already used" in _message(replay.text)
    assert len(consume(kafka, FEEDBACK, 2, 3)) == 1  # published once
    with rig.store.sessions() as session:
        (entry,) = [e for e in list_audit(session, "acme") if e.action == "anomaly-expected"]
        state = session.get(AnomalyAlertState, ("acme", surge.incident_id))
    assert entry.instance_id == iid and entry.details["incident_id"] == surge.incident_id
    assert state is not None and state.expected_at is not None and not state.pending
