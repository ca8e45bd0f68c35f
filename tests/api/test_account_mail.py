"""Security issue 13, item 7: sign-up and password mail that reveal nothing, single-use
expiring links, new passwords and "log out everywhere" that end every session, alert
addresses confirmed before digests go to them, a demo mail view of verified addresses.

On PostgreSQL (the suite's app); the mail goes through the sandbox's SES and is read back
from its mail log, as a person reads their inbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.app import create_app
from api.mail import UNSENT
from api.services.auth import MAILS_PER_ADDRESS
from sandbox.mail import sent_messages
from spendsense.logs import redact
from spendsense.metrics import CollectorRegistry
from spendsense.settings import ApiSettings, KafkaSettings, Settings, StoreSettings
from spendsense.store.models import EmailToken, Tenant, utcnow
from spendsense.store.models import User as UserRow
from tests.api.conftest import (
    PASSWORD,
    User,
    anonymous_csrf,
    mail_endpoint,
    mailed_link,
    mailed_links,
    new_client,
    open_link,
    request_signup,
    sign_up,
)
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox

NEW_PASSWORD = "a brand new passphrase"


def _someone() -> str:
    return f"m{uuid.uuid4().hex[:10]}@example.com"


def _inbox(app: FastAPI, email: str) -> list[str]:
    """The subjects mailed to ``email``."""
    return [m.subject for m in sent_messages(mail_endpoint(app)) if email in m.to]


def _status(app: FastAPI, user: User) -> int:
    """``/api/auth/me`` for a fresh client presenting only this user's session cookie."""
    cookie = user.client.cookies.get("spendsense_session")
    return (
        new_client(app)
        .get("/api/auth/me", headers={"Cookie": f"spendsense_session={cookie}"})
        .status_code
    )


def _second_session(app: FastAPI, user: User, password: str = PASSWORD) -> User:
    client = new_client(app)
    resp = client.post(
        "/api/auth/login",
        json={"email": user.email, "password": password},
        headers={"X-CSRF-Token": anonymous_csrf(client)},
    )
    assert resp.status_code == 200, resp.text
    return User(client, user.email, user.tenant_id, resp.json()["csrf_token"])


def _login_status(app: FastAPI, email: str, password: str) -> int:
    client = new_client(app)
    return client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        headers={"X-CSRF-Token": anonymous_csrf(client)},
    ).status_code


def _expire(db: Session, email: str, purpose: str) -> None:
    db.execute(
        update(EmailToken)
        .where(EmailToken.email == email, EmailToken.purpose == purpose)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()


# -- sign-up --------------------------------------------------------------------------


def test_signup_does_not_reveal_existing_address(
    api_app: FastAPI, alice: User, db: Session
) -> None:
    fresh = _someone()
    links_before = mailed_links(mail_endpoint(api_app), alice.email)  # her own sign-up's
    new = request_signup(new_client(api_app), fresh)
    known = request_signup(new_client(api_app), alice.email, "another long password")
    assert (new.status_code, new.json()) == (known.status_code, known.json())
    assert new.status_code == 202 and "check your e-mail" in new.json()["message"]
    assert {h.split("=")[0] for h in new.headers.get_list("set-cookie")} == {
        h.split("=")[0] for h in known.headers.get_list("set-cookie")
    }
    # the new address gets a link; the known one a notice, and no link that makes anything
    assert len(mailed_links(mail_endpoint(api_app), fresh)) == 1
    assert mailed_links(mail_endpoint(api_app), alice.email) == links_before
    assert "Someone tried to sign up" in _inbox(api_app, alice.email)[-1]
    assert db.scalar(select(UserRow.id).where(UserRow.email == fresh)) is None  # not yet
    assert _login_status(api_app, alice.email, "another long password") == 401


def test_an_unconfirmed_signup_squats_no_address(api_app: FastAPI, db: Session) -> None:
    email = _someone()
    assert request_signup(new_client(api_app), email).status_code == 202
    assert db.scalar(select(UserRow.id).where(UserRow.email == email)) is None
    assert _login_status(api_app, email, PASSWORD) == 401
    stored = db.scalar(select(EmailToken).where(EmailToken.email == email))
    assert stored is not None and stored.purpose == "signup"
    link = mailed_link(mail_endpoint(api_app), email)
    assert link.rsplit("/", 1)[1] not in stored.token_hash  # only a keyed hash is kept
    assert stored.password_hash and stored.password_hash.startswith("$argon2id$")


def test_confirmation_link_is_single_use(api_app: FastAPI) -> None:
    email = _someone()
    client = new_client(api_app)
    assert request_signup(client, email).status_code == 202
    link = mailed_link(mail_endpoint(api_app), email)
    # the GET only shows the page (mail scanners open links): nothing is made yet
    assert client.get(link).status_code == 200
    assert _login_status(api_app, email, PASSWORD) == 401
    assert open_link(client, link).status_code == 303
    assert client.get("/api/auth/me").json()["email"] == email
    again = new_client(api_app).get(link)
    assert again.status_code == 410 and "used already" in again.text
    replay = new_client(api_app)
    csrf = anonymous_csrf(replay)
    posted = replay.post(link, data={"csrf_token": csrf}, follow_redirects=False)
    assert posted.status_code == 410 and "spendsense_session" not in posted.cookies


def test_confirmation_link_expires(api_app: FastAPI, db: Session) -> None:
    email = _someone()
    assert request_signup(new_client(api_app), email).status_code == 202
    link = mailed_link(mail_endpoint(api_app), email)
    _expire(db, email, "signup")
    page = new_client(api_app).get(link)
    assert page.status_code == 410 and "expired" in page.text
    client = new_client(api_app)
    posted = client.post(link, data={"csrf_token": anonymous_csrf(client)}, follow_redirects=False)
    assert posted.status_code == 410
    assert db.scalar(select(UserRow.id).where(UserRow.email == email)) is None


def test_a_link_for_an_address_taken_meanwhile_says_so(api_app: FastAPI, db: Session) -> None:
    email = _someone()
    assert request_signup(new_client(api_app), email).status_code == 202
    assert request_signup(new_client(api_app), email).status_code == 202
    first, second = mailed_links(mail_endpoint(api_app), email)
    assert open_link(new_client(api_app), first).status_code == 303
    late = open_link(new_client(api_app), second)
    assert late.status_code == 409 and "has an account already" in late.text
    assert len(db.scalars(select(UserRow).where(UserRow.email == email)).all()) == 1


def test_signup_mails_to_one_address_are_limited(api_app: FastAPI) -> None:
    email = _someone()
    codes = [
        request_signup(new_client(api_app), email).status_code for _ in range(MAILS_PER_ADDRESS + 1)
    ]
    assert codes == [202] * MAILS_PER_ADDRESS + [429]
    assert len(_inbox(api_app, email)) == MAILS_PER_ADDRESS


def test_an_ses_error_is_one_clear_503_and_makes_nothing(
    api_app: FastAPI, sandbox_faults: Sandbox, db: Session
) -> None:
    email = _someone()
    sandbox_faults.set_faults(services=["ses"], error_rate=1.0)
    refused = request_signup(new_client(api_app), email)
    sandbox_faults.clear_faults()
    assert refused.status_code == 503
    assert refused.json()["error"] == {"code": "mail_unavailable", "message": UNSENT, "fields": []}
    assert db.scalar(select(EmailToken).where(EmailToken.email == email)) is None
    assert db.scalar(select(UserRow.id).where(UserRow.email == email)) is None


# -- passwords and sessions -----------------------------------------------------------


def test_password_change_ends_every_session(api_app: FastAPI, alice: User) -> None:
    other = _second_session(api_app, alice)
    wrong = alice.post(
        "/api/auth/password", json={"current_password": "not it", "new_password": NEW_PASSWORD}
    )
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"  # type: ignore[attr-defined]
    old = alice.client.cookies.get("spendsense_session")
    changed = alice.post(
        "/api/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200  # type: ignore[attr-defined]
    fresh = changed.cookies.get("spendsense_session")  # type: ignore[attr-defined]
    assert fresh and fresh != old
    assert _status(api_app, other) == 401
    stale = new_client(api_app).get("/api/auth/me", headers={"Cookie": f"spendsense_session={old}"})
    assert stale.status_code == 401
    assert _status(api_app, alice) == 200  # the caller's fresh session
    assert _login_status(api_app, alice.email, PASSWORD) == 401
    assert _login_status(api_app, alice.email, NEW_PASSWORD) == 200


def test_password_change_counts_toward_the_login_limit(api_app: FastAPI, alice: User) -> None:
    codes = [
        alice.post(
            "/api/auth/password",
            json={"current_password": f"guess {n}", "new_password": NEW_PASSWORD},
        ).status_code  # type: ignore[attr-defined]
        for n in range(6)
    ]
    assert codes == [403] * 5 + [429]  # the suite's login_max_failures is 5
    assert _login_status(api_app, alice.email, PASSWORD) == 429


def _forgot(app: FastAPI, email: str) -> httpx.Response:
    client = new_client(app)
    return client.post(
        "/api/auth/password/forgot",
        json={"email": email},
        headers={"X-CSRF-Token": anonymous_csrf(client)},
    )


def _reset(client: httpx.Client, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    csrf = client.cookies.get("spendsense_csrf") or anonymous_csrf(client)  # type: ignore[arg-type]
    return client.post(
        "/api/auth/password/reset",
        json={"token": token, "password": password},
        headers={"X-CSRF-Token": csrf},
    )


def test_forgot_password_does_not_reveal_existing_address(api_app: FastAPI, alice: User) -> None:
    nobody = _someone()
    known, unknown = _forgot(api_app, alice.email), _forgot(api_app, nobody)
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202
    assert len(mailed_links(mail_endpoint(api_app), alice.email, "/reset/")) == 1
    assert mailed_links(mail_endpoint(api_app), nobody, "/reset/") == []
    assert "no account" in _inbox(api_app, nobody)[-1]


def test_password_reset_ends_every_session(api_app: FastAPI, alice: User) -> None:
    other = _second_session(api_app, alice)
    assert _forgot(api_app, alice.email).status_code == 202
    link = mailed_link(mail_endpoint(api_app), alice.email, "/reset/")
    browser = new_client(api_app)
    page = browser.get(link)  # shows the form, changes nothing
    assert page.status_code == 200 and alice.email in page.text
    assert _status(api_app, alice) == 200
    reset = _reset(browser, link.rsplit("/", 1)[1])
    assert reset.status_code == 200, reset.text
    assert reset.json()["email"] == alice.email
    assert _status(api_app, alice) == 401 and _status(api_app, other) == 401
    assert browser.get("/api/auth/me").status_code == 200  # logged in afresh
    assert _login_status(api_app, alice.email, NEW_PASSWORD) == 200
    assert _login_status(api_app, alice.email, PASSWORD) == 401


def test_reset_link_is_single_use_and_expires(api_app: FastAPI, alice: User, db: Session) -> None:
    assert _forgot(api_app, alice.email).status_code == 202
    used = mailed_link(mail_endpoint(api_app), alice.email, "/reset/").rsplit("/", 1)[1]
    assert _reset(new_client(api_app), used).status_code == 200
    again = _reset(new_client(api_app), used, "yet another password")
    assert again.status_code == 410 and again.json()["error"]["code"] == "link_used"
    assert _forgot(api_app, alice.email).status_code == 202
    late = mailed_link(mail_endpoint(api_app), alice.email, "/reset/")
    _expire(db, alice.email, "reset")
    assert new_client(api_app).get(late).status_code == 410
    expired = _reset(new_client(api_app), late.rsplit("/", 1)[1], "yet another password")
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "link_expired"
    assert _login_status(api_app, alice.email, NEW_PASSWORD) == 200


def test_logout_everywhere(api_app: FastAPI, alice: User, bob: User) -> None:
    other = _second_session(api_app, alice)
    done = alice.post("/api/auth/logout-all")
    assert done.status_code == 200  # type: ignore[attr-defined]
    assert _status(api_app, alice) == 401 and _status(api_app, other) == 401
    assert _status(api_app, bob) == 200  # someone else's sessions stay


def test_mailed_link_tokens_are_masked_in_logs() -> None:
    for path in ("/verify/abcDEF_123-x", "/reset/abcDEF_123-x", "/login?next=/verify/abcDEF"):
        assert "abcDEF" not in redact(f"GET {path} HTTP/1.1")


# -- alert address --------------------------------------------------------------------


def _settings_with_alert(user: User, address: str | None) -> httpx.Response:
    current = user.client.get("/api/settings").json()
    current.pop("alert_email_pending")
    return user.client.put(
        "/api/settings",
        json={**current, "alert_email": address},
        headers={"X-CSRF-Token": user.csrf},
    )


def test_a_new_alert_address_waits_for_its_link(api_app: FastAPI, alice: User, db: Session) -> None:
    address = _someone()
    saved = _settings_with_alert(alice, address.upper())
    assert saved.status_code == 200, saved.text
    assert (saved.json()["alert_email"], saved.json()["alert_email_pending"]) == (
        alice.email,
        address,
    )
    tenant = db.get(Tenant, alice.tenant_id)
    assert tenant is not None and tenant.alert_email == alice.email  # digests still go here
    # saving the form again sends no second link while the first waits
    assert _settings_with_alert(alice, address).status_code == 200
    (link,) = mailed_links(mail_endpoint(api_app), address)
    page = new_client(api_app).get(link)
    assert page.status_code == 200 and address in page.text
    done = open_link(new_client(api_app), link)  # the address's owner, not logged in
    assert done.status_code == 200 and "confirmed" in done.text
    after = alice.client.get("/api/settings").json()
    assert (after["alert_email"], after["alert_email_pending"]) == (address, None)


def test_an_alert_link_for_a_replaced_address_does_nothing(api_app: FastAPI, alice: User) -> None:
    first, second = _someone(), _someone()
    assert _settings_with_alert(alice, first).status_code == 200
    assert _settings_with_alert(alice, second).status_code == 200
    page = new_client(api_app).get(mailed_link(mail_endpoint(api_app), first))
    assert page.status_code == 404  # replaced: its link was withdrawn
    assert _settings_with_alert(alice, alice.email).status_code == 200  # back: none pending
    page = new_client(api_app).get(mailed_link(mail_endpoint(api_app), second))
    assert page.status_code == 404
    after = alice.client.get("/api/settings").json()
    assert (after["alert_email"], after["alert_email_pending"]) == (alice.email, None)


# -- the demo mail view -----------------------------------------------------------------


@pytest.fixture
def demo_app(
    postgres_server: PostgresServer, sandbox: Sandbox, tmp_path: Path
) -> Iterator[FastAPI]:
    """An app in demo mode (its mail view on), the sandbox's SES, no broker."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        var_dir=tmp_path,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        aws=sandbox.aws_settings(),
        store=StoreSettings(url=postgres_server.create_database()),
        api=ApiSettings(
            session_secret=SecretStr("d" * 48), vendor_account_id="210987654321", demo_mode=True
        ),
    )
    app = create_app(settings, registry=CollectorRegistry())
    with new_client(app):
        yield app
    app.state.spendsense.engine.dispose()


def _demo_mail_to(user: User) -> set[str]:
    resp = user.client.get("/api/demo/mail")
    assert resp.status_code == 200, resp.text
    return {to for m in resp.json()["messages"] for to in m["to"]}


def test_demo_mail_view_shows_only_verified_addresses(demo_app: FastAPI) -> None:
    alice, bob = sign_up(demo_app), sign_up(demo_app)
    pending = _someone()
    assert _settings_with_alert(alice, pending).status_code == 200
    assert mailed_links(mail_endpoint(demo_app), pending)  # the confirmation went out...
    shown = _demo_mail_to(alice)
    assert alice.email in shown  # her own sign-up confirmation
    assert pending not in shown  # ...but a pending address's mail is never shown
    assert bob.email not in shown  # nor another organisation's
    assert (
        open_link(new_client(demo_app), mailed_link(mail_endpoint(demo_app), pending)).status_code
        == 200
    )
    assert pending in _demo_mail_to(alice)  # confirmed: now a verified address
    assert pending not in _demo_mail_to(bob)
