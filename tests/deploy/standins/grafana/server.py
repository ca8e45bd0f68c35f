"""Grafana's stand-in for the deployment test: ``/api/health`` and a page under ``/grafana/``.

The page names the stand-in and lists the titles of the provisioned dashboards
(``/var/lib/grafana-dashboards/*.json``, mounted by docker-compose.yml):

>>> import json, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     _ = (Path(tmp) / "a.json").write_text(json.dumps({"title": "Pipeline"}))
...     "<li>Pipeline</li>" in page(Path(tmp))
True
"""

from __future__ import annotations

import html
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DASHBOARDS = Path("/var/lib/grafana-dashboards")
HEALTH = json.dumps({"database": "ok", "version": "stand-in"}).encode()


def page(folder: Path) -> str:
    """The HTML page: the stand-in's name and the provisioned dashboards' titles."""
    titles = sorted(json.loads(p.read_text()).get("title", p.stem) for p in folder.glob("*.json"))
    items = "".join(f"<li>{html.escape(t)}</li>" for t in titles)
    return f"<!doctype html><title>Grafana</title><h1>Grafana (stand-in)</h1><ul>{items}</ul>"


class Handler(BaseHTTPRequestHandler):
    """GET /api/health (also under /grafana/) and the page under /grafana/."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in {"/api/health", "/grafana/api/health"}:
            self._answer(200, "application/json", HEALTH)
        elif path.startswith("/grafana/"):
            self._answer(200, "text/html; charset=utf-8", page(DASHBOARDS).encode())
        else:
            self._answer(404, "text/plain", b"not found\n")

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 3000), Handler).serve_forever()  # noqa: S104
