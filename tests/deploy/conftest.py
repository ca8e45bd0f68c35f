"""The processes the dashboard test scrapes: started here, or a running stack's targets.

``SPENDSENSE_DASHBOARD_TARGETS`` (JSON, ``{"collector": ["127.0.0.1:19301"], ...}``, job
names as in deploy/prometheus/prometheus.yml) points the test at a stack that is already
running, ``spendsense demo`` for instance, and then every job named must pass. Without it
the test starts the pipeline on its own, on a fresh store and isolated topics: the
collector (on the sandbox AWS account), the model service (the session's), the detector
and actions workers, the projector, the API, and node-exporter.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devstack import stack as stack_table
from devstack.launch import Child
from devstack.readiness import Readiness
from spendsense.access import new_external_id
from spendsense.ports import free_port
from spendsense.settings import KafkaSettings, StoreSettings
from spendsense.store import add_aws_account, create_tenant, open_store
from tests.fixtures.detector import worker_env
from tests.fixtures.sandbox import Sandbox

# The Docker tests build images, run the compose stack and the Ansible play against a
# container (3-5 minutes warm, about 15 cold): they are `make test-deploy`'s own
# (SPENDSENSE_TEST_DEPLOY=1), not part of `make test`'s collection.
DOCKER_TESTS = ["test_stack_runs.py", "test_ansible_play.py"]
collect_ignore = [] if os.environ.get("SPENDSENSE_TEST_DEPLOY") == "1" else DOCKER_TESTS

BIN = Path(sys.executable).parent
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
LINK_KEY = "k" * 64


@dataclass
class Stack:
    """Scrape targets by job, and the processes this fixture started (if any)."""

    targets: dict[str, list[str]]
    children: dict[str, Child] = field(default_factory=dict)
    api_url: str | None = None


@pytest.fixture
def stack_targets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """The stack to scrape: SPENDSENSE_DASHBOARD_TARGETS, or processes started here."""
    given = os.environ.get("SPENDSENSE_DASHBOARD_TARGETS")
    if given:
        yield Stack(targets=json.loads(given))
        return
    if not Path(NODE_EXPORTER).exists():
        pytest.fail(f"{NODE_EXPORTER} missing: run `make sysdeps`", pytrace=False)
    sandbox: Sandbox = request.getfixturevalue("sandbox")
    kafka: KafkaSettings = request.getfixturevalue("kafka")
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(StoreSettings(url=store_url))
    with store.sessions.begin() as session:
        for tenant, account_id in zip(("acme", "globex"), sandbox.tenant_account_ids, strict=False):
            role_arn, external_id = sandbox.create_role(account_id, external_id=new_external_id())
            create_tenant(
                session, tenant.title(), tenant_id=tenant, alert_email=f"ops@{tenant}.example"
            )
            add_aws_account(session, tenant, account_id, external_id=external_id, role_arn=role_arn)
    store.dispose()
    key, secret = sandbox.vendor_credentials
    model_url: str = request.getfixturevalue("model_service_url")
    jobs = ("collector", "detector", "actions", "projector", "api", "node")
    ports = {job: free_port() for job in jobs}
    env = {
        **os.environ,
        "SPENDSENSE_VAR_DIR": str(tmp_path / "var"),
        "SPENDSENSE_STORE__URL": store_url,
        "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_AWS__ENDPOINT_URL": sandbox.endpoint_url,
        "SPENDSENSE_AWS__ACCESS_KEY_ID": key,
        "SPENDSENSE_AWS__SECRET_ACCESS_KEY": secret,
        "SPENDSENSE_AWS__MAX_ATTEMPTS": "2",
        "SPENDSENSE_API__VENDOR_ACCOUNT_ID": sandbox.vendor_account_id,
        "SPENDSENSE_API__PORT": str(ports["api"]),
        "SPENDSENSE_API__PROJECTOR_METRICS_PORT": str(ports["projector"]),
        "SPENDSENSE_API__PROJECTOR_GROUP_ID": f"dash-{uuid.uuid4().hex[:8]}",
        "SPENDSENSE_INGEST__METRICS_PORT": str(ports["collector"]),
        "SPENDSENSE_INGEST__BACKFILL_DAYS": "1",
        "SPENDSENSE_INGEST__REGIONS": json.dumps(["us-east-1", "eu-west-1"]),
        "SPENDSENSE_ACTIONS__METRICS_PORT": str(ports["actions"]),
        "SPENDSENSE_ACTIONS__WEB_PORT": str(free_port()),
        "SPENDSENSE_ACTIONS__LINK_SIGNING_KEY": LINK_KEY,
        "SPENDSENSE_ACTIONS__FLUSH_INTERVAL_S": "1",
        "SPENDSENSE_LOG_LEVEL": "INFO",
    }
    detector_env = {
        **env,
        **worker_env(kafka, model_url, tmp_path / "var"),
        "SPENDSENSE_DETECTOR__METRICS_PORT": str(ports["detector"]),
    }
    stack = Stack(
        targets={
            **{job: [f"127.0.0.1:{port}"] for job, port in ports.items()},
            "model": [model_url.removeprefix("http://")],
        },
        api_url=f"http://127.0.0.1:{ports['api']}",
    )
    node = Child(
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ports['node']}"],
        {},
        tmp_path / "node.log",
        name="node",
    )
    specs = {
        name: stack_table.spec(name, env=detector_env if name == "detector" else env)
        for name in ("collector", "projector", "api", "detector", "actions")
    }
    try:
        node.start()
        stack.children["node"] = node
        for name, spec in specs.items():
            stack.children[name] = Child.of(spec, tmp_path / f"{name}.log")
            stack.children[name].start()
        node.wait_ready(Readiness(url=f"http://127.0.0.1:{ports['node']}/metrics"))
        for name, spec in specs.items():
            assert spec.ready is not None
            stack.children[name].wait_ready(spec.ready)
        yield stack
    finally:
        for child in stack.children.values():  # signal all first: they stop side by side
            if child.proc is not None and child.alive():
                os.killpg(child.proc.pid, signal.SIGTERM)
        for child in stack.children.values():
            child.stop()
