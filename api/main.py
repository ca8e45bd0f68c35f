"""The ASGI entry point: ``uvicorn api.main:app --host 127.0.0.1 --port 8000``.

Importing it reads settings, sets up logging and builds the app (see
:func:`api.app.create_app`); nothing connects until the app starts. uvicorn configured its
own loggers before importing this module (bad settings end it with one line), so :func:`~spendsense.logs.setup_logging` gives the
application's records a handler and adds the secret filter to uvicorn's handlers too (its
access log included). Readiness: ``GET /readyz``.
"""

from __future__ import annotations

from api.app import create_app
from spendsense.logs import setup_logging
from spendsense.settings import settings_or_exit

settings = settings_or_exit("api")
setup_logging(settings.log_level)
app = create_app(settings)
