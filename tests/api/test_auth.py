"""Sign-up, log-in, log-out, sessions, CSRF and the log-in rate limit."""

from __future__ import annotations

from fastapi import FastAPI

from tests.api.conftest import (
    PASSWORD,
    User,
    anonymous_csrf,
    mail_endpoint,
    mailed_link,
    new_client,
    open_link,
    request_signup,
    sign_up,
)


def test_confirmed_signup_logs_in_with_httponly_samesite_cookie(api_app: FastAPI) -> None:
    client = new_client(api_app)
    asked = request_signup(client, "Carol.Example@example.com")
    assert asked.status_code == 202
    assert "spendsense_session" not in asked.headers.get("set-cookie", "")
    confirmed = open_link(client, mailed_link(mail_endpoint(api_app), "carol.example@example.com"))
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/"
    cookie = next(
        h for h in confirmed.headers.get_list("set-cookie") if h.startswith("spendsense_session=")
    )
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    me = client.get("/api/auth/me").json()
    assert me["email"] == "carol.example@example.com"


def test_password_is_stored_as_argon2(alice: User, db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from spendsense.store.models import User as UserRow

    stored = db.scalar(select(UserRow.password_hash).where(UserRow.email == alice.email))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def _me_with(api_app: FastAPI, session_cookie: str) -> int:
    """The status of /api/auth/me for a fresh client presenting only this session cookie."""
    client = new_client(api_app)
    resp = client.get("/api/auth/me", headers={"Cookie": f"spendsense_session={session_cookie}"})
    return resp.status_code


def test_login_rotates_the_session_and_logout_ends_it(api_app: FastAPI, alice: User) -> None:
    old_cookie = alice.client.cookies.get("spendsense_session")
    assert _me_with(api_app, old_cookie) == 200
    resp = alice.post("/api/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert resp.status_code == 200
    new_cookie = resp.cookies.get("spendsense_session")
    assert new_cookie and new_cookie != old_cookie
    assert _me_with(api_app, new_cookie) == 200
    # the old session id no longer opens anything (no fixation, no reuse)
    assert _me_with(api_app, old_cookie) == 401
    csrf = resp.json()["csrf_token"]
    assert alice.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert _me_with(api_app, new_cookie) == 401


def test_session_id_planted_before_login_is_not_adopted(api_app: FastAPI, alice: User) -> None:
    client = new_client(api_app)
    client.cookies.set("spendsense_session", "planted-by-attacker")
    resp = client.post(
        "/api/auth/login",
        json={"email": alice.email, "password": PASSWORD},
        headers={"X-CSRF-Token": anonymous_csrf(client)},
    )
    assert resp.status_code == 200
    issued = resp.cookies.get("spendsense_session")
    assert issued and issued != "planted-by-attacker"


def test_wrong_password_is_refused_in_the_error_shape(api_app: FastAPI, alice: User) -> None:
    client = new_client(api_app)
    resp = client.post(
        "/api/auth/login",
        json={"email": alice.email, "password": "not the password"},
        headers={"X-CSRF-Token": anonymous_csrf(client)},
    )
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {"code": "bad_credentials", "message": "wrong e-mail or password", "fields": []}
    }


def test_login_is_rate_limited_after_repeated_failures(api_app: FastAPI, alice: User) -> None:
    client = new_client(api_app)
    csrf = anonymous_csrf(client)
    codes = [
        client.post(
            "/api/auth/login",
            json={"email": alice.email, "password": f"guess {i}"},
            headers={"X-CSRF-Token": csrf},
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    # even the right password waits out the window
    right = client.post(
        "/api/auth/login",
        json={"email": alice.email, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert right.status_code == 429 and "Retry-After" in right.headers
    assert right.json()["error"]["code"] == "rate_limited"


def test_bad_signup_input_is_clear(api_app: FastAPI) -> None:
    client = new_client(api_app)
    csrf = anonymous_csrf(client)
    bad = client.post(
        "/api/auth/signup",
        json={"email": "not-an-email", "password": "short"},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    fields = {f["field"] for f in bad.json()["error"]["fields"]}
    assert fields == {"email", "password"}
    assert bad.json()["error"]["message"].startswith("email: ")


def test_two_users_get_two_tenants(api_app: FastAPI) -> None:
    a, b = sign_up(api_app), sign_up(api_app)
    assert a.tenant_id != b.tenant_id
