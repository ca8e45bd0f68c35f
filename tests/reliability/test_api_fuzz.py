"""schemathesis against the API's own OpenAPI schema, logged in as a user (cookie + CSRF header).

Every operation in the schema gets a bounded number of generated requests, valid
(positive) and invalid (negative), ``FUZZ_EXAMPLES`` of each; the app must never
answer 5xx (a 502 naming the customer's AWS refusing, code ``aws_*``, is the
documented answer for an upstream refusal) and every error body must be the one
shape of :mod:`api.errors`. The live feed (``text/event-stream``) never ends, so it
is left out. Generated log-ins may fail, so the app's log-in limit is raised here
(rate limiting has its own tests).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from api.errors import ErrorBody
from spendsense.metrics import CollectorRegistry
from spendsense.settings import KafkaSettings, Settings
from tests.fixtures.sandbox import Sandbox
from tests.reliability.api_app import api_settings, log_in, sign_up

FUZZ_EXAMPLES = 20
STREAMS = ("/api/feed",)


@pytest.fixture(scope="module")
def fuzz_settings(
    tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox, kafka_broker: KafkaSettings
) -> Settings:
    return api_settings(
        tmp_path_factory.mktemp("fuzz-api"), sandbox, kafka_broker, login_max_failures=1000
    )


@pytest.fixture(scope="module")
def fuzz_app(fuzz_settings: Settings) -> Iterator[FastAPI]:
    app = create_app(fuzz_settings, registry=CollectorRegistry())
    with TestClient(app):  # the lifespan: migrates the store
        yield app
    app.state.spendsense.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def check_error_shape(status: int, body: object, label: str) -> None:
    """An error body is exactly ``{"error": {"code", "message", "fields"}}``."""
    assert isinstance(body, dict) and set(body) == {"error"}, f"{label}: {body!r}"
    error = ErrorBody.model_validate(body).error
    assert error.code and error.message, f"{label}: {body!r}"
    if status >= 500:
        assert status == 502 and error.code.startswith("aws_"), f"{label}: {status} {body!r}"


def operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    ops = [result.ok() for result in api_schema.get_all_operations()]
    return [op for op in ops if not op.path.startswith(STREAMS)]


def test_fuzzed_schema_has_the_state_changing_routes(api_schema: schemathesis.BaseSchema) -> None:
    """The fuzzed schema is the app's own, with the routes that change state."""
    ops = {(op.method.upper(), op.path) for op in operations(api_schema)}
    for wanted in [
        ("POST", "/api/accounts"),
        ("PUT", "/api/settings"),
        ("POST", "/api/instances/{instance_id}/stop"),
        ("POST", "/api/auth/login"),
    ]:
        assert wanted in ops


def test_api_fuzz_no_5xx_and_one_error_shape(
    api_schema: schemathesis.BaseSchema,
    fuzz_app: FastAPI,
    fuzz_settings: Settings,
) -> None:
    api = fuzz_settings.api
    login = [sign_up(fuzz_app, api)]
    statuses: dict[str, set[int]] = {}

    def call(case: schemathesis.Case) -> None:
        user = login[0]
        label = f"{case.method.upper()} {case.formatted_path}"
        response = case.call(headers=user.headers, cookies=user.cookies(api))
        status = response.status_code
        statuses.setdefault(f"{case.method.upper()} {case.path}", set()).add(status)
        assert status < 500 or status == 502, f"{label}: {status} {response.text[:500]}"
        if status >= 400:
            check_error_shape(status, response.json(), label)
        if case.path.startswith("/api/auth/") and case.method.upper() == "POST":
            # a generated sign-up, log-in or log-out may have ended the fuzzing user's session
            me = TestClient(fuzz_app).get("/api/auth/me", cookies=user.cookies(api))
            if me.status_code == 401:
                login[0] = log_in(fuzz_app, api, user.email)

    ops = operations(api_schema)
    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = settings(
                # log-in and sign-up hash passwords (argon2, slow on purpose): fewer examples
                max_examples=FUZZ_EXAMPLES // 3 if "/auth/" in op.path else FUZZ_EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                derandomize=True,
            )(given(case=op.as_strategy(generation_mode=mode))(call))
            try:
                run()
            except Unsatisfiable:
                # an operation without parameters or body has nothing to make invalid
                assert mode is GenerationMode.NEGATIVE, op.label
    assert len(statuses) == len(ops)
    # the logged-in user really reached the routes: some answers were successes
    assert sum(any(s < 300 for s in codes) for codes in statuses.values()) >= len(ops) // 2
