"""Profile, auto-stop policy, ceilings of rest and AWS accounts: validation with clear messages,
the role set-up, the ceilings' way to the detector."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from kafka.errors import KafkaTimeoutError

from spendsense.events import Event, TenantSettingsRecord
from spendsense.topics import TENANT_SETTINGS, topic_spec
from tests.api.conftest import User

ARN = "arn:aws:iam::123456789012:role/SpendSense"


@pytest.mark.parametrize(
    "role_arn",
    [
        "arn:aws:iam::12345678901:role/SpendSense",  # 11 digits
        "arn:aws:iam::123456789012:user/SpendSense",  # a user, not a role
        "arn:aws:s3:::bucket",
        "SpendSense",
        "arn:aws:iam::123456789012:role/",
    ],
)
def test_invalid_role_arns_are_rejected_with_a_clear_message(alice: User, role_arn: str) -> None:
    resp = alice.post("/api/accounts", json={"role_arn": role_arn})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["message"].startswith(
        "role_arn: must be an IAM role ARN like arn:aws:iam::123456789012:role/"
    )
    assert alice.client.get("/api/accounts").json() == []


def test_invalid_regions_are_named(alice: User) -> None:
    resp = alice.post("/api/accounts", json={"role_arn": ARN, "regions": ["us-east-1", "mars-1"]})
    assert resp.status_code == 422
    assert "'mars-1' is not an AWS region name" in resp.json()["error"]["message"]


@pytest.mark.parametrize("email", ["no-at-sign", "a@", "two@@example.com", "spaces in@example.com"])
def test_invalid_alert_emails_are_rejected_with_a_clear_message(alice: User, email: str) -> None:
    current = alice.client.get("/api/settings").json()
    resp = alice.client.put(
        "/api/settings",
        json={**current, "alert_email": email},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["fields"][0]["field"] == "alert_email"
    assert err["message"].startswith("alert_email: value is not a valid email address")
    assert alice.client.get("/api/settings").json() == current


def test_profile_and_policy_round_trip(alice: User) -> None:
    body = {
        "organisation": "Acme Robotics",
        "alert_email": "FinOps@Example.com",
        "autostop": {
            "enabled": True,
            "scope": "all",
            "dry_run": False,
            "grace_minutes": 30,
            "max_per_hour": 3,
        },
        "waste": {"enabled": True, "dry_run": False, "max_per_hour": 2},
    }
    # off and dry-run until the organisation turns it on
    assert alice.client.get("/api/settings").json()["waste"] == {
        "enabled": False,
        "dry_run": True,
        "max_per_hour": 5,
    }
    resp = alice.client.put("/api/settings", json=body, headers={"X-CSRF-Token": alice.csrf})
    assert resp.status_code == 200
    # the new alert address waits for its mailed link; alerts keep going to the confirmed one
    assert alice.client.get("/api/settings").json() == {
        **body,
        "alert_email": alice.email,
        "alert_email_pending": "finops@example.com",
    }
    bad = alice.client.put(
        "/api/settings",
        json={**body, "autostop": {**body["autostop"], "max_per_hour": 0}},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert (
        bad.status_code == 422
        and bad.json()["error"]["fields"][0]["field"] == "autostop.max_per_hour"
    )


def test_connect_shows_external_id_and_both_role_templates(alice: User, bob: User) -> None:
    created = alice.post("/api/accounts", json={"role_arn": ARN, "regions": ["eu-west-1"]})
    assert created.status_code == 201
    account = created.json()
    assert account["account_id"] == "123456789012" and account["status"] == "pending"
    assert len(account["external_id"]) >= 32
    # another tenant connecting the same AWS account gets its own ExternalId
    other = bob.post("/api/accounts", json={"role_arn": ARN}).json()
    assert other["external_id"] != account["external_id"]
    again = alice.post("/api/accounts", json={"role_arn": ARN})
    assert again.status_code == 409 and again.json()["error"]["code"] == "account_connected"

    setup = alice.client.get("/api/accounts/123456789012/setup").json()
    assert setup["external_id"] == account["external_id"]
    assert "ec2:StopInstances" in setup["stop_actions"]
    assert "ec2:StopInstances" not in setup["read_only_actions"]
    assert "cloudwatch:GetMetricData" in setup["read_only_actions"]
    template = json.loads(setup["cloudformation_template"])
    assert template["Parameters"]["ExternalId"]["Default"] == account["external_id"]
    assert {"ReadOnlyPolicy", "StopPolicy", "Role"} <= set(template["Resources"])
    assert "stacks/quickcreate" in setup["console_url"]
    assert account["external_id"] in setup["terraform"]
    assert 'resource "aws_iam_role_policy" "spendsense_stop"' in setup["terraform"]


def test_role_arn_change_must_stay_in_the_account(alice: User) -> None:
    alice.post("/api/accounts", json={"role_arn": ARN})
    moved = alice.client.patch(
        "/api/accounts/123456789012",
        json={"role_arn": "arn:aws:iam::999999999999:role/SpendSense"},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert (
        moved.status_code == 422
        and "must be in account 123456789012" in moved.json()["error"]["message"]
    )
    renamed = alice.client.patch(
        "/api/accounts/123456789012",
        json={"role_arn": "arn:aws:iam::123456789012:role/path/Other"},
        headers={"X-CSRF-Token": alice.csrf},
    )
    assert renamed.status_code == 200 and renamed.json()["role_arn"].endswith("role/path/Other")


class Published:
    """Stands in for the API's Kafka sink: keeps what is sent, or fails like a broker that is down."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Event]] = []
        self.down = False

    def send(self, topic: str, record: Event) -> None:
        if self.down:
            raise KafkaTimeoutError("Failed to update metadata after 10.0 secs.")
        self.sent.append((topic, topic_spec(topic).key_of(record), record))

    def settings(self) -> list[tuple[str, TenantSettingsRecord]]:
        """(key, record) of what went to ``tenant-settings``."""
        out = []
        for topic, key, record in self.sent:
            assert topic == TENANT_SETTINGS and isinstance(record, TenantSettingsRecord)
            out.append((key, record))
        return out


@pytest.fixture
def published(api_app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Published]:
    sink = Published()
    monkeypatch.setattr(api_app.state.spendsense, "events", sink)
    yield sink


DEFAULTS = {
    "cpu_percent": None,
    "network_bps": None,
    "default_cpu_percent": 10.0,
    "default_network_bps": 10_000.0,
}


def put_ceilings(user: User, body: dict[str, object], csrf: str | None = None) -> object:
    return user.client.put(
        "/api/settings/ceilings", json=body, headers={"X-CSRF-Token": csrf or user.csrf}
    )


def test_ceilings_are_saved_read_back_and_sent_to_the_detector(
    alice: User, bob: User, published: Published
) -> None:
    assert alice.client.get("/api/settings/ceilings").json() == DEFAULTS
    saved = put_ceilings(alice, {"cpu_percent": 4.5, "network_bps": None})
    assert saved.status_code == 200, saved.text
    mine = {**DEFAULTS, "cpu_percent": 4.5}
    assert saved.json() == mine
    assert alice.client.get("/api/settings/ceilings").json() == mine
    [(key, record)] = published.settings()
    assert key == record.tenant_id == alice.tenant_id
    assert (record.ceiling_cpu_percent, record.ceiling_network_bps) == (4.5, None)
    assert record.actor == alice.email

    # another organisation neither sees nor changes them
    assert bob.client.get("/api/settings/ceilings").json() == DEFAULTS
    assert put_ceilings(bob, {"network_bps": 2_000}).status_code == 200
    assert alice.client.get("/api/settings/ceilings").json() == mine
    assert bob.client.get("/api/settings/ceilings").json() == {**DEFAULTS, "network_bps": 2_000.0}
    assert [k for k, _ in published.settings()] == [alice.tenant_id, bob.tenant_id]
    # the profile and policy are another resource: their PUT leaves the ceilings alone
    profile = alice.client.get("/api/settings").json()
    alice.client.put("/api/settings", json=profile, headers={"X-CSRF-Token": alice.csrf})
    assert alice.client.get("/api/settings/ceilings").json() == mine

    # empty: back to the defaults, and the detector is told so
    assert put_ceilings(alice, {}).json() == DEFAULTS
    key, record = published.settings()[-1]
    assert key == alice.tenant_id
    assert (record.ceiling_cpu_percent, record.ceiling_network_bps) == (None, None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cpu_percent": 0.4}, "cpu_percent: must be from 0.5 to 100 (% CPU), or null for"),
        ({"cpu_percent": 100.5}, "cpu_percent: must be from 0.5 to 100 (% CPU), or null for"),
        ({"network_bps": 99}, "network_bps: must be from 100 B/s to 100 MB/s"),
        ({"network_bps": 100_000_001}, "network_bps: must be from 100 B/s to 100 MB/s"),
        ({"cpu_percent": "lots"}, "cpu_percent: Input should be a valid number"),
    ],
)
def test_ceilings_out_of_bounds_say_what_to_enter_and_change_nothing(
    alice: User, published: Published, body: dict[str, object], message: str
) -> None:
    assert put_ceilings(alice, {"cpu_percent": 5}).status_code == 200
    resp = put_ceilings(alice, {"cpu_percent": 5, **body})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "invalid_request" and err["message"].startswith(message)
    assert "\n" not in err["message"]
    assert err["fields"][0]["field"] == next(iter(body))
    assert alice.client.get("/api/settings/ceilings").json()["cpu_percent"] == 5.0
    assert len(published.sent) == 1


def test_ceilings_bounds_are_inclusive(alice: User, published: Published) -> None:
    for body in (
        {"cpu_percent": 0.5, "network_bps": 100},
        {"cpu_percent": 100, "network_bps": 1e8},
    ):
        resp = put_ceilings(alice, body)
        assert resp.status_code == 200, resp.text
        assert {k: resp.json()[k] for k in body} == body


def test_ceilings_need_the_callers_csrf_token(alice: User, bob: User, published: Published) -> None:
    for csrf in ("", "forged", bob.csrf):
        resp = alice.client.put(
            "/api/settings/ceilings",
            json={"cpu_percent": 3},
            headers={"X-CSRF-Token": csrf} if csrf else {},
        )
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_failed"
    assert alice.client.get("/api/settings/ceilings").json() == DEFAULTS
    assert published.sent == []


def test_ceilings_are_not_saved_when_the_detector_cannot_be_told(
    alice: User, published: Published
) -> None:
    assert put_ceilings(alice, {"cpu_percent": 5}).status_code == 200
    published.down = True
    resp = put_ceilings(alice, {"cpu_percent": 2})
    assert resp.status_code == 503
    err = resp.json()["error"]
    assert err["code"] == "broker_unavailable" and "save again" in err["message"]
    assert alice.client.get("/api/settings/ceilings").json()["cpu_percent"] == 5.0


def test_settings_page_shows_the_ceilings_defaults_and_what_they_mean(alice: User) -> None:
    page = alice.client.get("/settings")
    assert page.status_code == 200
    html = page.text
    assert 'id="ceilings-form"' in html
    assert "default 10 %, the ceiling of AWS Trusted Advisor's low-utilisation check" in html
    assert "default 10 KB/s, twice what an idle machine's agents send" in html
    assert 'id="ceiling_cpu_percent" type="number" step="any" min="0.5" max="100"' in html
    assert 'id="ceiling_network_kbps" type="number" step="any" min="0.1" max="100000"' in html
