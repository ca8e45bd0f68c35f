"""Security issue 13, item 6: the shipped nginx config (deploy/nginx/spendsense.conf, run by
Debian's nginx with a self-signed certificate) serves HTTPS only, with the browser-side
headers: HTTP redirects to HTTPS, HTTPS answers with HSTS, a Content-Security-Policy with
``default-src 'self'`` and ``frame-ancestors 'none'``, and X-Content-Type-Options."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.postgres import PostgresServer
from tests.fixtures.served import served_api, served_nginx


def _directives(policy: str) -> dict[str, str]:
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in pairs}


def test_http_redirects_to_https_and_https_sends_the_security_headers(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    with (
        served_api(tmp_path, postgres_server.create_database(), {}) as api,
        served_nginx(tmp_path / "nginx", api.url) as nginx,
        httpx.Client(base_url=nginx.http_url) as plain,
        httpx.Client(base_url=nginx.url, verify=nginx.verify()) as tls,
    ):
        # plain HTTP: a permanent redirect to the same path over HTTPS, and nothing else
        for path in ("/", "/login?next=/settings", "/api/auth/csrf", "/readyz"):
            r = plain.get(path)
            assert r.status_code == 301, (path, r.status_code)
            assert r.headers["location"] == f"{nginx.url}{path}", r.headers
            assert "set-cookie" not in r.headers
        assert plain.post("/api/auth/login", json={}).status_code == 301
        # compose's health check stays on port 80
        assert plain.get("/nginx-health").text == "ok\n"

        for path in ("/login", "/", "/static/app.js", "/api/auth/csrf", "/nope"):
            r = tls.get(path)
            assert r.status_code in (200, 303, 307, 404), (path, r.status_code)
            assert r.headers["strict-transport-security"].startswith("max-age="), path
            assert int(r.headers["strict-transport-security"].split("=")[1]) >= 31536000
            assert r.headers["x-content-type-options"] == "nosniff", path
            csp = _directives(r.headers["content-security-policy"])
            assert csp["default-src"] == "'self'", (path, csp)
            assert csp["frame-ancestors"] == "'none'", (path, csp)
            assert csp["object-src"] == "'none'", (path, csp)
            # no inline scripts or styles, no eval, on any page of the dashboard
            assert "unsafe" not in r.headers["content-security-policy"], (path, csp)
            assert "script-src" not in csp and "style-src" not in csp, (path, csp)
        # Grafana is framed by nobody either
        grafana = tls.get("/grafana/")
        assert _directives(grafana.headers["content-security-policy"]) == {
            "frame-ancestors": "'none'"
        }
        assert grafana.headers["strict-transport-security"].startswith("max-age=")
    logs = (tmp_path / "nginx" / "error.log").read_text()
    assert "[emerg]" not in logs and "[warn]" not in logs, logs[-2000:]
