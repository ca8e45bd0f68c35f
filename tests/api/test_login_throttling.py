"""Security issue 13, item 1: the log-in limits hold behind the proxy, on PostgreSQL.

The API runs as the compose stack runs it (its uvicorn command line and forwarded-header
setting, from docker-compose.yml; nginx with deploy/nginx/spendsense.conf in front where
the proxy matters), so these check the shipped configuration:

* a caller cannot choose the address the limit counts (X-Forwarded-For and friends);
* a forwarded value that is not an address (over-long among them) is counted, not a 500;
* guesses sent in parallel, to several API processes, stop at the configured number.
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from api.services.auth import CLIENT_LIMIT_FACTOR
from tests.api.conftest import PASSWORD, confirmed_signup
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.sandbox import Sandbox
from tests.fixtures.served import served_api, served_nginx

MAX_FAILURES = 2
TRUST_LOCAL_PROXY = {"SPENDSENSE_API__TRUSTED_PROXIES": json.dumps(["127.0.0.1"])}


def _limit(failures: int) -> dict[str, str]:
    return {"SPENDSENSE_API__LOGIN_MAX_FAILURES": str(failures)}


@contextmanager
def _browser(
    url: str, verify: ssl.SSLContext | bool = True
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A browser-like client and the CSRF header its log-ins carry."""
    with httpx.Client(base_url=url, timeout=60, verify=verify) as client:
        yield client, {"X-CSRF-Token": client.get("/api/auth/csrf").json()["csrf_token"]}


def _guess(client: httpx.Client, headers: dict[str, str], email: str) -> httpx.Response:
    return client.post(
        "/api/auth/login", json={"email": email, "password": "123456"}, headers=headers
    )


def _someone() -> str:
    return f"guess-{uuid.uuid4().hex[:10]}@example.com"


def _spoofed(n: int) -> dict[str, str]:
    address = f"203.0.113.{n}"
    return {"X-Forwarded-For": address, "X-Real-IP": address, "Forwarded": f"for={address}"}


def test_spoofed_forwarded_headers_do_not_move_the_login_limit(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    limit = MAX_FAILURES * CLIENT_LIMIT_FACTOR
    database = postgres_server.create_database()
    with (
        served_api(tmp_path, database, _limit(MAX_FAILURES)) as api,
        _browser(api.url) as (client, csrf),
    ):
        # a new e-mail and a new claimed address every time: only the socket counts
        codes = [
            _guess(client, csrf | _spoofed(n), _someone()).status_code for n in range(limit + 2)
        ]
    assert codes == [401] * limit + [429, 429], codes


def test_nginx_sets_the_client_address_and_limits_auth_posts(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    limit = MAX_FAILURES * CLIENT_LIMIT_FACTOR
    settings = TRUST_LOCAL_PROXY | _limit(MAX_FAILURES)
    with (
        served_api(tmp_path, postgres_server.create_database(), settings) as api,
        served_nginx(tmp_path / "nginx", api.url) as nginx,
        _browser(nginx.url, nginx.verify()) as (client, csrf),
    ):
        # the API believes nginx, and nginx says who connected, whatever the caller wrote
        codes = [
            _guess(client, csrf | _spoofed(n), _someone()).status_code for n in range(limit + 2)
        ]
        assert codes == [401] * limit + [429, 429], codes
        # POSTs to /api/auth/ are limited by nginx itself (30 a minute, bursts of 20) ...
        posts = [client.post("/api/auth/logout", headers=csrf) for _ in range(30)]
        by_nginx = [r for r in posts if r.status_code == 429 and "error" not in r.text]
        passed = len(codes) + len(posts) - len(by_nginx)
        assert by_nginx and passed <= 21 + 5, [r.status_code for r in posts]
        # ... reads are not
        assert {client.get("/api/auth/csrf").status_code for _ in range(30)} == {200}


def test_overlong_forwarded_header_is_still_counted(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    email = _someone()
    garbage = ["x" * 100, "203.0.113.7" + "9" * 80, "::1, " + "a" * 300, "203.0.113.7:80"]
    settings = TRUST_LOCAL_PROXY | _limit(MAX_FAILURES)
    with (
        served_api(tmp_path, postgres_server.create_database(), settings) as api,
        _browser(api.url) as (client, csrf),
    ):
        # from a trusted proxy, a value that is no address falls back to the socket peer
        codes = [_guess(client, csrf | {"X-Forwarded-For": g}, email).status_code for g in garbage]
        others = [
            _guess(client, csrf | {"X-Forwarded-For": g}, _someone()).status_code
            for g in garbage * 2
        ]
    assert codes == [401] * MAX_FAILURES + [429] * (len(garbage) - MAX_FAILURES), codes
    # and the peer's own count fills up too: 2 + 6 failures, then the client limit
    client_room = MAX_FAILURES * CLIENT_LIMIT_FACTOR - MAX_FAILURES
    assert others == [401] * client_room + [429] * (len(others) - client_room), others


def test_parallel_wrong_passwords_are_limited_to_the_configured_number(
    tmp_path: Path, postgres_server: PostgresServer, sandbox: Sandbox
) -> None:
    max_failures, parallel = 3, 12
    email = _someone()
    database = postgres_server.create_database()
    settings = _limit(max_failures) | sandbox.aws_environment()  # mails the sign-up link
    with (
        served_api(tmp_path, database, settings, workers=2) as api,
        ExitStack() as stack,
    ):
        owner, _ = stack.enter_context(_browser(api.url))
        confirmed_signup(owner, sandbox.endpoint_url, email)
        browsers = [stack.enter_context(_browser(api.url)) for _ in range(parallel)]
        start = threading.Barrier(parallel)

        def guess(browser: tuple[httpx.Client, dict[str, str]]) -> int:
            start.wait()  # all at once, to two API processes
            return _guess(*browser, email).status_code

        with ThreadPoolExecutor(parallel) as pool:
            codes = sorted(pool.map(guess, browsers))
        anonymous, anonymous_csrf = browsers[0]
        right = anonymous.post(
            "/api/auth/login", json={"email": email, "password": PASSWORD}, headers=anonymous_csrf
        )
    assert codes == [401] * max_failures + [429] * (parallel - max_failures), codes
    assert right.status_code == 429  # the limit holds for the right password too
