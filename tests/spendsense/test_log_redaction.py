"""Issue 13, item 7: every process's log output passes through ``RedactSecrets``.

Each process type sets up logging the way it does when started: the ``spendsense`` CLI
(collector, projector, sandbox, ...) with ``setup_logging``; the API under uvicorn (uvicorn's
``LOGGING_CONFIG``, then ``api/main.py``), also as a real ``uvicorn`` process with the
compose command line; the Faust workers with the worker class their app names, whose
logging set-up is the one ``faust -A ... worker`` runs; the model service as a BentoML
server process loads it (BentoML's logging set-up, then the service module). A line with an AWS access key id
and ``password=...`` goes through each process's own loggers and handlers.
"""

from __future__ import annotations

import logging
import os
import runpy
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from spendsense.logs import setup_logging
from spendsense.settings import Settings, get_settings
from tests.fixtures.served import served_api

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "correct-horse-battery"


def _assert_masked(text: str) -> None:
    assert "AKIA****" in text and "password=****" in text, text
    assert KEY_ID not in text and PASSWORD not in text, text


def _log_secrets(logger: str) -> None:
    logging.getLogger(logger).warning("key %s in use; password=%s", KEY_ID, PASSWORD)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Each test reconfigures the process's logging as its entry point does; put it back."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger(), *(lg for lg in manager.loggerDict.values())]
    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled)
        for lg in loggers
        if isinstance(lg, logging.Logger)
    ]
    yield
    for lg, handlers, level, propagate, disabled in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


@pytest.fixture
def process_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Settings]:
    """The settings a process reads from its environment: its own var dir and store."""
    monkeypatch.setenv("SPENDSENSE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SPENDSENSE_STORE__URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("SPENDSENSE_ACTIONS__LINK_SIGNING_KEY", "k" * 48)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_cli_processes_redact_messages_and_tracebacks(capfd: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    _log_secrets("ingest.runner")
    try:
        raise RuntimeError(f"login failed for {KEY_ID}: password={PASSWORD}")
    except RuntimeError:
        logging.getLogger("api.projector").exception("projector stopped")
    _assert_masked(capfd.readouterr().err)


def test_api_under_uvicorn_redacts_every_logger(
    process_env: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    uvicorn.Config("api.main:app", log_level="info")  # uvicorn's LOGGING_CONFIG, as at start
    runpy.run_module("api.main")  # what uvicorn imports next
    for name in ("uvicorn.error", "api.errors", "spendsense.store"):
        _log_secrets(name)
    access = ("127.0.0.1:5", "GET", f"/x?password={PASSWORD}&k={KEY_ID}", "1.1", 200)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', *access)
    out = capfd.readouterr()
    _assert_masked(out.err)
    _assert_masked(out.out)  # uvicorn's access log goes to stdout
    assert '"GET /x?password=****&k=AKIA**** HTTP/1.1" 200' in out.out


def test_api_process_access_log_is_redacted(tmp_path: Path) -> None:
    with served_api(tmp_path, f"sqlite:///{tmp_path / 'api.db'}", {}) as api:
        httpx.get(f"{api.url}/links/eyJ2.secret-token?password={PASSWORD}&key={KEY_ID}")
        log = api.log.read_text()
    assert "/links/****" in log and "eyJ2.secret-token" not in log, log
    _assert_masked(log)


def _detector_app(settings: Settings) -> object:
    from detector.app import create_app

    return create_app(settings).app


def _actions_app(settings: Settings) -> object:
    from actions.app import create_app

    return create_app(settings).app


@pytest.mark.parametrize("build", [_detector_app, _actions_app], ids=["detector", "actions"])
def test_faust_workers_redact_their_own_handlers(
    process_env: Settings, capfd: pytest.CaptureFixture[str], build: Callable[[Settings], object]
) -> None:
    import faust

    app = build(process_env)
    assert isinstance(app, faust.App)
    # what `faust -A <app> worker -l info` builds, then runs at start (mode's logging set-up)
    worker = app.conf.Worker(app, loglevel="info", redirect_stdouts=False)
    worker._setup_logging()
    for name in ("faust.transport", "detector.agents", "actions.app", "aiokafka"):
        _log_secrets(name)
    _assert_masked(capfd.readouterr().err)


MODEL_WORKER = f"""
import logging
from bentoml._internal.log import configure_server_logging

configure_server_logging()  # what a BentoML server process does before loading the service
import detector.service

for name in ("bentoml", "bentoml.access", "detector.service"):
    logging.getLogger(name).warning("key %s; password=%s", "{KEY_ID}", "{PASSWORD}")
"""


def test_model_service_redacts_bentomls_handlers(tmp_path: Path) -> None:
    env = {**os.environ, "SPENDSENSE_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", MODEL_WORKER], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    _assert_masked(done.stdout + done.stderr)
    assert (done.stdout + done.stderr).count("AKIA****") == 3
