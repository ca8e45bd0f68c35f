"""The deployment runs for real (``make test-deploy``; not part of ``make test``).

Docker is set up by ``deploy/scripts/docker-host.sh``; the stand-ins for Docker Hub's images
and the project's image are built (tests/deploy/images.py); the compose stack comes up from
docker-compose.yml with the test's override (compose.test.yml: stand-in images, the
sandbox AWS account) and every health check passes. Then, through nginx only, a customer
signs up, connects the sandbox account (a container of this test, started with
testcontainers), sees costs and instances, stops one, and receives the digest; Prometheus
scrapes every service; and after ``docker compose down`` and ``up`` the store's rows, the
consumer groups' committed offsets and Prometheus's samples are still there. Everything is
torn down at the end, failed or not.

The tests run in order on one stack (module scope). Figures (build seconds, image sizes,
seconds until every service is healthy) go to ``var/deploy-test/figures.json``.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from sandbox import control
from sandbox.fleet import load_fleet, write_fleet
from sandbox.fleet.generator import generate_fleet
from tests.api.conftest import confirmed_signup
from tests.deploy.images import PROJECT_IMAGE, SANDBOX_IMAGE, WORK, build_all, image_size_mb
from tests.deploy.stack import OPERATOR_EMAIL, ComposeStack, stack_environment
from tests.fixtures.compose import ROOT
from tests.fixtures.sandbox import FLEET_SPEC, Sandbox
from tests.ui.test_dashboard import EBS_ONLY_FAMILIES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

SANDBOX_PORT = 5055
REGIONS = ["us-east-1", "eu-west-1"]
DIGEST_TIMEOUT_S = 600
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 120.0) -> T:
    """``check()``'s first truthy value, tried every 2 s; fails naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, AssertionError) as exc:
            value, last = None, exc
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last})")


@dataclass
class Deployment:
    """The running stack, the sandbox beside it, and what the tests found along the way."""

    stack: ComposeStack
    sandbox: Sandbox
    figures: dict[str, Any]
    seen: dict[str, Any] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        """A browser-like client of nginx (the test's certificate is self-signed)."""
        return httpx.Client(base_url=self.stack.base_url, verify=False, timeout=30)  # noqa: S501


def run_host_script() -> float:
    """``deploy/scripts/docker-host.sh``; its seconds. A failure fails the test."""
    began = time.monotonic()
    proc = subprocess.run(
        ["bash", str(ROOT / "deploy/scripts/docker-host.sh")], capture_output=True, text=True
    )
    assert proc.returncode == 0, f"docker-host.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return time.monotonic() - began


def start_sandbox() -> tuple[DockerContainer, Sandbox]:
    """The sandbox AWS account in a container, on the test fleet (FLEET_SPEC)."""
    fleet_dir = WORK / "fleet"
    if not (fleet_dir / "labels.json").exists():
        write_fleet(generate_fleet(FLEET_SPEC), fleet_dir)
    fleet_dir.chmod(0o755)
    leftovers = ComposeStack.docker("ps", "-aq", "--filter", f"ancestor={SANDBOX_IMAGE}").split()
    if leftovers:  # a run killed before its teardown
        ComposeStack.docker("rm", "-f", *leftovers)
    # testcontainers' reaper image comes from Docker Hub: the fixture removes its container itself
    testcontainers_config.ryuk_disabled = True
    container = (
        DockerContainer(SANDBOX_IMAGE)
        .with_command(["spendsense", "sandbox", "--fleet", "/fleet"])
        .with_env("SPENDSENSE_SANDBOX__HOST", "0.0.0.0")  # noqa: S104 (inside the container)
        .with_env("SPENDSENSE_LOG_LEVEL", "WARNING")
        .with_volume_mapping(str(fleet_dir), "/fleet", "ro")
        .with_exposed_ports(SANDBOX_PORT)
        .waiting_for(LogMessageWaitStrategy("sandbox ready").with_startup_timeout(180))
    )
    container.start()
    endpoint = (
        f"http://{container.get_container_host_ip()}:{container.get_exposed_port(SANDBOX_PORT)}"
    )
    health = control.wait_ready(endpoint, timeout=60)
    return container, Sandbox(
        endpoint_url=endpoint,
        vendor_account_id=health["vendor_account"],
        tenant_account_ids=health["tenant_accounts"],
        fleet=load_fleet(fleet_dir),
    )


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    began = time.monotonic()
    figures: dict[str, Any] = {"docker_host_s": round(run_host_script(), 1)}
    built = time.monotonic()
    figures["build_s"] = {tag: round(s, 1) for tag, s in build_all().items()}
    figures["build_total_s"] = round(time.monotonic() - built, 1)
    figures["image_mb"] = {t: round(image_size_mb(t)) for t in (PROJECT_IMAGE, SANDBOX_IMAGE)}
    container, sandbox = start_sandbox()
    stack = ComposeStack(stack_environment(), container.get_container_id())
    try:
        stack.down("--volumes")  # a previous run's leftovers, if any
        figures["healthy_s"] = round(stack.up(), 1)
        yield Deployment(stack, sandbox, figures)
    finally:
        try:
            stack.down("--volumes")
        finally:
            container.stop()
        figures["up_s"] = [round(s, 1) for s in stack.up_seconds]
        figures["total_s"] = round(time.monotonic() - began, 1)
        (WORK / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\ndeployment figures: {json.dumps(figures)}")


def test_every_service_is_up_and_healthy(deployment: Deployment) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = deployment.stack.services()
    assert set(services) == set(compose["services"])
    unhealthy = {n: s["Status"] for n, s in services.items() if "(healthy)" not in s["Status"]}
    assert unhealthy == {}, deployment.stack.report()


def test_a_customer_signs_up_connects_stops_and_gets_the_digest(deployment: Deployment) -> None:
    sandbox = deployment.sandbox
    client = deployment.client()
    email = f"owner-{uuid.uuid4().hex[:8]}@deploy.example"
    me = confirmed_signup(client, sandbox.endpoint_url, email)
    client.headers["X-CSRF-Token"] = me["csrf_token"]

    # connect the account with idle instances (FLEET_SPEC's first tenant) as its owner would
    account_id = sandbox.tenant_account_ids[0]
    role = f"arn:aws:iam::{account_id}:role/SpendSenseDeploy"
    created = client.post("/api/accounts", json={"role_arn": role, "regions": REGIONS})
    assert created.status_code == 201, created.text
    external_id = created.json()["external_id"]
    sandbox.create_role(account_id, external_id=external_id, role_name="SpendSenseDeploy")
    tested = client.post(f"/api/accounts/{account_id}/test")
    assert tested.json()["ok"], tested.text

    wait_for(
        lambda: any(d["amount_usd"] > 0 for d in client.get("/api/costs").json()["daily"]),
        "the account's costs (Cost Explorer, read by the collector)",
    )
    fleet = set(sandbox.instances(account_id))
    items = wait_for(
        lambda: (
            len(found := client.get("/api/instances", params={"limit": 100}).json()["items"])
            == len(fleet)
            and found
        ),
        "every instance of the account on the dashboard",
    )
    assert {i["instance_id"] for i in items} == fleet

    target = next(
        i
        for i in items
        if i["state"] == "running"
        and i["stoppable"]
        and i["instance_type"].split(".")[0] in EBS_ONLY_FAMILIES
    )
    stopped = client.post(f"/api/instances/{target['instance_id']}/stop")
    assert stopped.status_code == 200, stopped.text
    ec2 = sandbox.client(
        "ec2", sandbox.assume(role, external_id, target["region"]), target["region"]
    )
    reservation = ec2.describe_instances(InstanceIds=[target["instance_id"]])["Reservations"][0]
    assert reservation["Instances"][0]["State"]["Name"] in {"stopping", "stopped"}

    digest = wait_for(
        lambda: [m for m in sandbox.mail() if email in m.to and "idle EC2 instance" in m.subject],
        "the idle-instance digest",
        timeout=DIGEST_TIMEOUT_S,
    )[0]
    assert any(i in (digest.text or "") for i in fleet), digest.text
    deployment.seen["customer"] = client


def test_prometheus_scrapes_every_service(deployment: Deployment) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    targets = "/prometheus/api/v1/targets"
    assert deployment.client().get(targets).status_code == 302  # no session: to the log-in
    assert deployment.seen["customer"].get(targets).status_code == 403  # names every tenant
    operator = deployment.client()
    confirmed_signup(operator, deployment.sandbox.endpoint_url, OPERATOR_EMAIL)
    deployment.seen["operator"] = operator

    def up_jobs() -> set[str] | None:
        answer = operator.get(targets)
        assert answer.status_code == 200, f"{answer.status_code} {answer.text[:300]}"
        active = answer.json()["data"]["activeTargets"]
        up = {t["labels"]["job"] for t in active if t["health"] == "up"}
        return up if up == jobs else None

    assert wait_for(up_jobs, f"every scrape job up: {sorted(jobs)}") == jobs


STORE_TABLES = ("tenants", "users", "aws_accounts", "audit_log", "email_outbox", "instances")
OFFSETS = """
import json
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import get_settings
config = kafka_python_config(get_settings().kafka, client_id="deploy-test")
admin = KafkaAdminClient(**config)
# kafka-python 2 lists groups as tuples, 3 as dicts
listed = admin.list_groups() if hasattr(admin, "list_groups") else admin.list_consumer_groups()
groups = [g["group_id"] if isinstance(g, dict) else g[0] for g in listed]
probe = KafkaConsumer(**config, enable_auto_commit=False)
partitions = [TopicPartition(t, p) for t in probe.topics() for p in probe.partitions_for_topic(t)]
totals = {}
for group in groups:
    member = KafkaConsumer(**config, group_id=group, enable_auto_commit=False)
    totals[group] = sum(member.committed(tp) or 0 for tp in partitions)
print(json.dumps(totals))
"""


def store_rows(deployment: Deployment) -> dict[str, int]:
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in STORE_TABLES)  # noqa: S608 (constant names)
    out = deployment.stack.exec(
        "postgres", "psql", "-U", "spendsense", "-d", "spendsense", "-tA", "-F", " ", "-c", query
    )
    return {name: int(count) for name, count in (line.split() for line in out.splitlines())}


def committed_offsets(deployment: Deployment) -> dict[str, int]:
    """Each consumer group's committed offsets, summed over its partitions."""
    totals: dict[str, int] = json.loads(deployment.stack.exec("api", "python", "-c", OFFSETS))
    return totals


def test_data_survives_down_and_up(deployment: Deployment) -> None:
    operator: httpx.Client = deployment.seen["operator"]
    rows = store_rows(deployment)
    assert all(rows.values()), rows
    offsets = {g: n for g, n in committed_offsets(deployment).items() if n > 0}
    assert offsets, "no consumer group has committed an offset"
    at = time.time()
    samples = "count(count_over_time(up[10m]))"

    def scraped_before(c: httpx.Client) -> float:
        result = c.get("/prometheus/api/v1/query", params={"query": samples, "time": at}).json()
        return float(result["data"]["result"][0]["value"][1]) if result["data"]["result"] else 0

    before = scraped_before(operator)
    assert before > 0

    deployment.stack.down()
    deployment.figures["healthy_again_s"] = round(deployment.stack.up(), 1)

    after_rows = store_rows(deployment)
    assert all(after_rows[t] >= rows[t] for t in STORE_TABLES), (rows, after_rows)
    after_offsets = committed_offsets(deployment)
    assert all(after_offsets.get(g, 0) >= n for g, n in offsets.items()), (offsets, after_offsets)
    # the operator's session is a row of the store too: the same client goes on
    assert wait_for(lambda: scraped_before(operator), "Prometheus's samples from before") == before
