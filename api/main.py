"""The ASGI entry point: ``uvicorn api.main:app --host 127.0.0.1 --port 8000``.

Importing it reads settings and builds the app (see :func:`api.app.create_app`);
nothing connects until the app starts. Readiness: ``GET /readyz``.
"""

from __future__ import annotations

from api.app import create_app
from spendsense.settings import get_settings

app = create_app(get_settings())
