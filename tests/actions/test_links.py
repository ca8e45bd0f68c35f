"""Signed links: expiry, tampering, replay, binding to tenant, instance and action."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous.url_safe import URLSafeTimedSerializer

from actions.links import LinkError, consume, link_url, sign, signing_key, verify
from spendsense.errors import ConfigError
from spendsense.settings import ActionsSettings, StoreSettings, load_settings
from spendsense.store import Store, create_tenant, open_store

KEY = b"0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
INSTANCE = "i-0abc12345678def01"


def _token(**kw: object) -> str:
    args = {"ttl_s": 86400, "now": NOW, "account_id": "111111111111", "region": "eu-west-1"}
    args.update(kw)
    return sign(KEY, "acme", INSTANCE, "stop", **args)  # type: ignore[arg-type]


def _reason(token: str, **kw: object) -> str:
    with pytest.raises(LinkError) as err:
        verify(KEY, token, **kw)  # type: ignore[arg-type]
    return err.value.reason


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    store = open_store(StoreSettings(url=f"sqlite:///{tmp_path / 'links.db'}"))
    with store.sessions.begin() as session:
        create_tenant(session, "Acme", tenant_id="acme")
    return store


def test_a_fresh_link_verifies_with_its_bindings() -> None:
    claims = verify(KEY, _token(), tenant_id="acme", instance_id=INSTANCE, action="stop", now=NOW)
    assert (claims.tenant_id, claims.instance_id, claims.action) == ("acme", INSTANCE, "stop")
    assert (claims.account_id, claims.region) == ("111111111111", "eu-west-1")
    assert claims.expires_at == NOW + timedelta(hours=24)


def test_expired_link_fails_after_its_ttl_only() -> None:
    token = _token(ttl_s=3600)
    assert verify(KEY, token, now=NOW + timedelta(minutes=59)).action == "stop"
    with pytest.raises(LinkError) as err:
        verify(KEY, token, now=NOW + timedelta(hours=1))
    assert err.value.reason == "expired"
    assert "2026-11-27 10:00 UTC" in err.value.message


def test_links_last_a_working_day_by_default() -> None:
    """Issue 13, item 4: an e-mailed link is a bearer token; by default it dies after 8 h."""
    ttl_s = ActionsSettings().link_ttl_s
    assert ttl_s == 8 * 3600
    token = _token(ttl_s=ttl_s)
    assert verify(KEY, token, now=NOW + timedelta(hours=7, minutes=59)).action == "stop"
    assert _reason(token, now=NOW + timedelta(hours=8)) == "expired"


def test_tampered_payload_or_signature_or_key_fails() -> None:
    token = _token()
    payload, stamp, signature = token.rsplit(".", 2)
    unsigned = URLSafeTimedSerializer(b"unused")  # reads and writes payloads only
    body = unsigned.load_payload(payload.encode())
    body["i"] = "i-0fff12345678def01"  # point the link at another instance
    forged = unsigned.dump_payload(body).decode()
    assert _reason(f"{forged}.{stamp}.{signature}", now=NOW) == "tampered"
    body["ttl"] = 10**8  # or make it last longer
    longer = unsigned.dump_payload(body).decode()
    assert _reason(f"{longer}.{stamp}.{signature}", now=NOW + timedelta(days=2)) == "tampered"
    assert _reason(f"{payload}.{stamp}.{signature[:-3]}AAA", now=NOW) == "tampered"
    with pytest.raises(LinkError) as err:
        verify(b"another-key-another-key-another-k", token, now=NOW)
    assert err.value.reason == "tampered"
    assert _reason("not-a-link", now=NOW) == "malformed"


def test_itsdangerous_errors_say_what_the_links_always_said() -> None:
    """Another key or any one character changed: itsdangerous's BadSignature or
    BadTimeSignature, said as "altered"; past its lifetime: SignatureExpired, said as
    "expired" with the moment (an expired link with a bad signature is "altered")."""
    token = _token(ttl_s=3600)
    for other in (b"k" * 32, KEY[:-1] + b"X"):
        with pytest.raises(LinkError) as err:
            verify(other, token, now=NOW)
        assert err.value.message == "this link was altered or was not made by SpendSense"
    # base64's last character carries unused bits: some changes there decode the same
    for i, char in enumerate(token[:-1]):
        if char != ".":
            altered = f"{token[:i]}{'B' if char == 'A' else 'A'}{token[i + 1 :]}"
            assert _reason(altered, now=NOW) == "tampered", i
    with pytest.raises(LinkError) as err:
        verify(KEY, token, now=NOW + timedelta(hours=3))
    assert (err.value.reason, err.value.message) == (
        "expired",
        "this link expired at 2026-11-27 10:00 UTC; use the newest alert email or the dashboard",
    )
    assert _reason(token[:-5] + "AAAAA", now=NOW + timedelta(hours=3)) == "tampered"


def test_a_link_signed_on_a_clock_ahead_verifies_until_its_expiry() -> None:
    """The alerts service signs at its clock; the API may run a little behind it."""
    token = _token(ttl_s=3600)
    assert verify(KEY, token, now=NOW - timedelta(minutes=10)).action == "stop"
    assert _reason(token, now=NOW + timedelta(hours=1)) == "expired"


def test_wrong_tenant_instance_or_action_fails() -> None:
    token = _token()
    assert _reason(token, tenant_id="globex", now=NOW) == "wrong-tenant"
    assert _reason(token, instance_id="i-0fff12345678def01", now=NOW) == "wrong-instance"
    assert _reason(token, action="not-idle", now=NOW) == "wrong-action"


def test_replayed_link_fails_once_consumed(sqlite_store: Store) -> None:
    token = _token()
    with sqlite_store.sessions.begin() as session:
        claims = verify(KEY, token, session=session, now=NOW)
        consume(session, claims, actor="ops@acme.test")
    with sqlite_store.sessions.begin() as session:
        assert _reason(token, session=session, now=NOW) == "used"
        with pytest.raises(LinkError) as err:
            consume(session, claims)
        assert err.value.reason == "used"
    other = _token()  # a second link for the same instance is its own
    with sqlite_store.sessions.begin() as session:
        consume(session, verify(KEY, other, session=session, now=NOW))


def test_signing_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = ActionsSettings()
    first = signing_key(settings, tmp_path)
    assert len(first) >= 32
    assert signing_key(settings, tmp_path) == first
    assert (tmp_path / "secrets" / "link-signing.key").stat().st_mode & 0o777 == 0o600
    configured = ActionsSettings(link_signing_key="x" * 40)  # type: ignore[arg-type]
    assert signing_key(configured, tmp_path) == b"x" * 40


def test_short_configured_key_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPENDSENSE_ACTIONS__LINK_SIGNING_KEY", "short")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert str(err.value).startswith("SPENDSENSE_ACTIONS__LINK_SIGNING_KEY: ")
    assert "32 characters" in str(err.value)


def test_link_url_points_at_the_confirmation_page() -> None:
    assert link_url("http://127.0.0.1:8000/", "a.b") == "http://127.0.0.1:8000/links/a.b"


def test_worker_with_a_short_key_stops_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY": "short"}
    env["SPENDSENSE_VAR_DIR"] = str(tmp_path)
    faust = str(Path(sys.executable).parent / "faust")
    done = subprocess.run(
        [faust, "-A", "actions.app", "worker"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "actions worker: SPENDSENSE_ACTIONS__LINK_SIGNING_KEY: Value error, must be at least "
        "32 characters (e.g. `openssl rand -hex 32`)"
    ]
