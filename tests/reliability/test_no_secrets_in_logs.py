"""No secret reaches a log: each kind of process, started as a user starts it (its own
logging set-up, at the INFO level production runs at), is handed the secrets and made to
handle them, then every line it wrote is searched for them.

The test makes all it checks itself, so it runs in any order: the API (uvicorn) signs an
organisation up (the mail goes out through the sandbox's SES with the vendor's AWS keys),
refuses a log-in with a wrong password, logs the user in, opens a signed link and connects
an AWS account (STS AssumeRole with the vendor's keys); the actions worker and the
projector (Faust and the ``spendsense`` CLI) start with the same secrets; the collector
(the CLI) collects from the connected account with the vendor's keys. The secrets are the
session secret, the link-signing key, both passwords, the session and CSRF tokens and the
vendor's AWS secret access key. The test process's own log records are searched too.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from actions.links import sign
from spendsense.ports import free_port
from spendsense.settings import KafkaSettings, StoreSettings
from spendsense.store import open_store
from tests.api.conftest import confirmed_signup
from tests.fixtures.sandbox import Sandbox
from tests.reliability.conftest import (
    LINK_KEY,
    SESSION_SECRET,
    LogRecords,
    Processes,
    Secrets,
    wait_metric,
)

PASSWORD = "leak-check-password-" + uuid.uuid4().hex[:12]
WRONG_PASSWORD = "leak-check-wrong-password-" + uuid.uuid4().hex[:12]


def _use_the_api(api: str, sandbox: Sandbox, secrets: Secrets) -> str:
    """Sign up, fail and succeed to log in, open a link, connect an account: the tenant."""
    email = f"leak-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=api, timeout=30) as browser:
        me = confirmed_signup(browser, sandbox.endpoint_url, email, PASSWORD)
        secrets.add(*browser.cookies.values(), me["csrf_token"])
    with httpx.Client(base_url=api, timeout=30) as browser:
        csrf = browser.get("/api/auth/csrf").json()["csrf_token"]
        secrets.add(csrf)
        for password, status in ((WRONG_PASSWORD, 401), (PASSWORD, 200)):
            answer = browser.post(
                "/api/auth/login",
                json={"email": email, "password": password},
                headers={"X-CSRF-Token": csrf},
            )
            assert answer.status_code == status, answer.text
        csrf = answer.json()["csrf_token"]
        secrets.add(*browser.cookies.values(), csrf)
        link = sign(LINK_KEY.encode(), me["tenant_id"], "i-0123456789abcdef0", "stop", ttl_s=600)
        assert browser.get(f"/links/{link}").status_code == 200
        account_id = sandbox.tenant_account_ids[0]
        role = f"SpendSense-{uuid.uuid4().hex[:6]}"
        created = browser.post(
            "/api/accounts",
            json={"role_arn": f"arn:aws:iam::{account_id}:role/{role}"},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 201, created.text
        sandbox.create_role(account_id, external_id=created.json()["external_id"], role_name=role)
        tested = browser.post(f"/api/accounts/{account_id}/test", headers={"X-CSRF-Token": csrf})
        assert tested.json()["ok"] is True, tested.text
    return str(me["tenant_id"])


def test_no_secret_in_any_log(
    kafka: KafkaSettings, sandbox: Sandbox, tmp_path: Path, test_log_records: LogRecords
) -> None:
    secrets = Secrets()
    secrets.add(PASSWORD, WRONG_PASSWORD, sandbox.vendor_credentials[1])
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(StoreSettings(url=store_url)).dispose()  # migrated once, before the processes
    env = {
        "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_STORE__URL": store_url,
        "SPENDSENSE_VAR_DIR": str(tmp_path / "var"),
        "SPENDSENSE_API__SESSION_SECRET": SESSION_SECRET,
        "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY": LINK_KEY,
        **sandbox.aws_environment(),
    }
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    processes = Processes(logs_dir, "leaks")
    try:
        api_port = free_port()
        processes.start("api", {**env, "SPENDSENSE_API__PORT": str(api_port)}, ready=True)
        tenant = _use_the_api(f"http://127.0.0.1:{api_port}", sandbox, secrets)
        ports = {name: str(free_port()) for name in ("actions", "web", "projector", "collector")}
        processes.start(
            "actions",
            {
                **env,
                "SPENDSENSE_ACTIONS__METRICS_PORT": ports["actions"],
                "SPENDSENSE_ACTIONS__WEB_PORT": ports["web"],
            },
            ready=True,
        )
        processes.start(
            "projector",
            {
                **env,
                "SPENDSENSE_API__PROJECTOR_GROUP_ID": f"projector-leaks-{uuid.uuid4().hex}",
                "SPENDSENSE_API__PROJECTOR_METRICS_PORT": ports["projector"],
            },
            ready=True,
        )
        collector = processes.start(
            "collector", {**env, "SPENDSENSE_INGEST__METRICS_PORT": ports["collector"]}, ready=True
        )
        # the collector assumed the tenant's role with the vendor's keys and called AWS
        # (the exposition sorts labels by name)
        calls = (
            f'spendsense_aws_calls_total{{operation="AssumeRole",service="sts",tenant="{tenant}"}}'
        )
        wait_metric(int(ports["collector"]), calls, 90, collector)
    finally:
        processes.stop_all()

    logs = {p.name: p.read_text(errors="replace") for p in sorted(logs_dir.glob("*.log"))}
    assert len(logs) == 4 and all(logs.values()), {name: len(text) for name, text in logs.items()}
    logs["test process log records"] = "\n".join(test_log_records.lines)
    leaks = [
        f"{name}: a secret of {len(secret)} characters ({secret[:4]}...)"
        for name, text in logs.items()
        for secret in secrets.values
        if secret in text
    ]
    assert not leaks, leaks
    assert len(secrets.values) >= 8, len(secrets.values)
