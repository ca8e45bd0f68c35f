"""The collection benchmark at many accounts: ``spendsense bench collect --accounts N
--collectors M``.

One sandbox AWS account server (moto, one process) holds every account of the largest run,
``per_account`` instances each in us-east-1, with their customer roles. For each run a fresh
store and topics; ``M`` ``spendsense collect`` processes start and share the ``accounts``
partitions as the ``collectors`` group; once each holds its share, ``N`` accounts are
connected at once (stored, and put on ``accounts`` as the API does). Figures:

- ``cycle_s``: from the connection until every account is collected (its status ``ok`` or
  ``error``): every instance polled with its 6-hour backfill (the longest window the
  adaptive policy leaves between two polls; GetMetricData calls are the same for one period
  or 72), its inventory and its Cost Explorer costs, as the first full cycle.
- ``recheck_s``: the next scheduled cycle over every account (nothing due yet: AssumeRole
  from cache, DescribeInstances, cursors): the floor of a steady cycle; the longest of the
  processes' own cycles.

>>> fleet = scale_fleet(accounts=3, per_account=2, seed=1)
>>> sorted({i.account_id for i in fleet.instances.values()})
['300000000000', '300000000001', '300000000002']
>>> {i.region for i in fleet.instances.values()}
{'us-east-1'}
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sqlalchemy import func, select

from devstack import stack
from devstack.launch import Child
from ingest.assignment import partition_of
from sandbox.fleet import Fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from spendsense.settings import KafkaSettings

REGION = "us-east-1"
FIRST_ACCOUNT = 300_000_000_000
ASSIGNED = re.compile(r"partitions \[([\d, ]*)\] of (\d+) of \S+ assigned")
CYCLE = re.compile(r"cycle: (\d+) accounts in ([\d.]+) s \(all\)")
T = TypeVar("T")


def scale_fleet(accounts: int, per_account: int, seed: int = 18) -> Fleet:
    """A generated fleet of ``accounts * per_account`` instances, ``per_account`` to each of
    ``accounts`` accounts (ids from 300000000000), all in us-east-1, two days long."""
    base = generate_fleet(
        FleetSpec(seed=seed, instances=accounts * per_account, days=2, tenants=1, history_days=1)
    )
    instances = {
        iid: dataclasses.replace(
            inst, account_id=str(FIRST_ACCOUNT + n // per_account), region=REGION
        )
        for n, (iid, inst) in enumerate(base.instances.items())
    }
    return dataclasses.replace(base, instances=instances)


def until(check: Callable[[], T | None], what: str, timeout: float) -> T:
    """``check()``'s first true answer, polled; AssertionError naming ``what`` past ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


class CollectorProcess:
    """One ``spendsense collect`` process of the group (the table of processes' collector,
    with ``environ`` on top of this environment), its output kept in ``log``."""

    def __init__(self, environ: dict[str, str], log: Path) -> None:
        self.log = log
        self.child = Child.of(stack.spec("collector", env=environ), log)
        self.child.start()

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self.child.proc is not None
        return self.child.proc

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def share(self) -> tuple[set[int], int] | None:
        """Its latest share of ``accounts``: (partitions, of how many), once it has one."""
        found = ASSIGNED.findall(self.output())
        if not found:
            return None
        parts, count = found[-1]
        return {int(p) for p in parts.split(",") if p.strip()}, int(count)

    def owns(self, key: str) -> bool:
        """Whether the account ``key`` is in this process's latest share."""
        share = self.share()
        return share is not None and partition_of(key, share[1]) in share[0]

    def full_cycles(self) -> list[tuple[int, float]]:
        """(accounts, seconds) of each full cycle it logged, in order."""
        return [(int(n), float(s)) for n, s in CYCLE.findall(self.output())]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within a minute."""
        self.child.stop(grace_s=60)


def shared_out(group: list[CollectorProcess]) -> bool:
    """Whether every process of ``group`` is running with a share of its own (no overlap)."""
    shares = [c.share() for c in group]
    if any(s is None for s in shares) or any(c.process.poll() is not None for c in group):
        return False
    parts = [s[0] for s in shares if s is not None]
    return all(parts) and sum(len(p) for p in parts) == len(set().union(*parts))


@dataclass
class ScaleRun:
    """One run's figures."""

    accounts: int
    collectors: int
    instances: int
    cycle_s: float = 0.0
    recheck_s: float = 0.0
    errors: int = 0
    # CPU seconds spent in the connection's cycle: the sandbox (moto, one process), the collectors
    sandbox_cpu_s: float = 0.0
    collectors_cpu_s: float = 0.0
    aws_calls: dict[str, int] = field(default_factory=dict)
    load_average_1m: float = 0.0

    HEADERS: ClassVar[list[str]] = [
        "accounts",
        "collectors",
        "instances",
        "cycle s",
        "re-check s",
        "errors",
        "CPU s sandbox",
        "CPU s collectors",
    ]

    def row(self) -> list[str]:
        """The run as a table row under :attr:`HEADERS`."""
        return [
            str(self.accounts),
            str(self.collectors),
            str(self.instances),
            f"{self.cycle_s:.1f}",
            f"{self.recheck_s:.1f}",
            str(self.errors),
            f"{self.sandbox_cpu_s:.1f}",
            f"{self.collectors_cpu_s:.1f}",
        ]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ScaleSandbox:
    """The sandbox server and the accounts' roles in it."""

    endpoint: str
    vendor_account: str
    roles: dict[str, tuple[str, str]]  # account id -> (role ARN, ExternalId)
    per_account: int
    pid: int


@contextmanager
def scale_sandbox(accounts: int, per_account: int, workdir: Path) -> Iterator[ScaleSandbox]:
    """A ``spendsense sandbox`` process serving :func:`scale_fleet`, each account's role made."""
    from api.customer_permissions import declared
    from sandbox import control
    from sandbox.customer import create_spendsense_role
    from spendsense.ports import free_port

    folder = workdir / "fleet"
    write_fleet(scale_fleet(accounts, per_account), folder)
    port = free_port()
    environ = {"SPENDSENSE_SANDBOX__PORT": str(port), "SPENDSENSE_SANDBOX__HISTORY_DAYS": "1"}
    server = Child.of(
        stack.spec("sandbox", env=environ, extra_args=("--fleet", str(folder))),
        workdir / "sandbox.log",
    )
    server.start()
    assert server.proc is not None
    endpoint = f"http://127.0.0.1:{port}"
    try:
        health = control.wait_ready(endpoint, timeout=600)
        vendor = str(health["vendor_account"])
        roles = {}
        for account in health["tenant_accounts"]:
            external_id = f"bench-{uuid.uuid4().hex}"
            arn = create_spendsense_role(endpoint, account, external_id, vendor, declared())
            roles[account] = (arn, external_id)
        yield ScaleSandbox(endpoint, vendor, roles, per_account, server.proc.pid)
    finally:
        server.stop(grace_s=30)


def collector_environment(
    sandbox: ScaleSandbox, kafka: KafkaSettings, store_url: str, cycle_s: float
) -> dict[str, str]:
    """A collector's settings for a run: the sandbox, the run's store and topics."""
    from sandbox.accounts import VENDOR_USER, user_credentials

    key, secret = user_credentials(sandbox.vendor_account, VENDOR_USER)
    return {
        "SPENDSENSE_AWS__ENDPOINT_URL": sandbox.endpoint,
        "SPENDSENSE_AWS__ACCESS_KEY_ID": key,
        "SPENDSENSE_AWS__SECRET_ACCESS_KEY": secret,
        "SPENDSENSE_STORE__URL": store_url,
        "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SPENDSENSE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "SPENDSENSE_INGEST__BACKFILL_DAYS": "0.25",
        "SPENDSENSE_INGEST__REGIONS": f'["{REGION}"]',
        "SPENDSENSE_INGEST__METRICS_PORT": "0",
        "SPENDSENSE_INGEST__CYCLE_S": str(cycle_s),
        "SPENDSENSE_LOG_LEVEL": "INFO",
    }


def _connect(sandbox: ScaleSandbox, kafka: KafkaSettings, store: Any, accounts: int) -> None:
    """Store ``accounts`` accounts (one tenant each) and announce them on ``accounts``."""
    from spendsense.events import AccountRecord
    from spendsense.producer import make_producer
    from spendsense.store.models import utcnow
    from spendsense.store.tenants import add_aws_account, create_tenant
    from spendsense.topics import ACCOUNTS, ACCOUNTS_SPEC, topic_name

    chosen = sorted(sandbox.roles)[:accounts]
    with store.begin() as session:
        for account in chosen:
            tenant = f"t{account[-6:]}"
            create_tenant(session, tenant, tenant_id=tenant)
            arn, external_id = sandbox.roles[account]
            add_aws_account(session, tenant, account, external_id=external_id, role_arn=arn)
    producer = make_producer(kafka, client_id="bench-collect")
    try:
        for account in chosen:
            record = AccountRecord(
                tenant_id=f"t{account[-6:]}", account_id=account, connected=True, at=utcnow()
            )
            key, value = ACCOUNTS_SPEC.encode(record)
            producer.send(topic_name(kafka, ACCOUNTS), key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def run_once(
    sandbox: ScaleSandbox, kafka: KafkaSettings, accounts: int, collectors: int, workdir: Path
) -> ScaleRun:
    """One run: ``collectors`` processes, ``accounts`` accounts connected at once."""
    from bench.pipeline import cpu_seconds
    from sandbox import control
    from spendsense import topic_admin
    from spendsense.settings import StoreSettings
    from spendsense.store.engine import make_engine, session_factory
    from spendsense.store.migrate import ensure_schema
    from spendsense.store.models import AwsAccount

    run = ScaleRun(accounts, collectors, accounts * sandbox.per_account)
    name = f"a{accounts}-c{collectors}"
    kafka = kafka.model_copy(update={"topic_prefix": f"bench-{uuid.uuid4().hex[:8]}-"})
    topic_admin.create_topics(kafka)
    store_url = f"sqlite:///{workdir / f'{name}.db'}"
    engine = make_engine(StoreSettings(url=store_url))
    ensure_schema(engine)
    store = session_factory(engine)
    cycle_s = 20.0
    environ = collector_environment(sandbox, kafka, store_url, cycle_s)
    group = [
        CollectorProcess(environ, workdir / f"{name}-collector-{n}.log")
        for n in range(1, collectors + 1)
    ]
    try:
        until(lambda: shared_out(group), "share for every collector", timeout=120)
        calls_before = control.calls(sandbox.endpoint)
        pids = [c.process.pid for c in group]
        cpu_before = cpu_seconds(sandbox.pid), cpu_seconds(*pids)
        begun = time.monotonic()
        _connect(sandbox, kafka, store, accounts)

        def collected() -> bool:
            with store() as session:
                pending = session.scalar(select(func.count()).where(AwsAccount.status == "pending"))
            return pending == 0

        until(collected, f"collection of {accounts} accounts", timeout=1800)
        run.cycle_s = round(time.monotonic() - begun, 1)
        run.sandbox_cpu_s = round(cpu_seconds(sandbox.pid) - cpu_before[0], 1)
        run.collectors_cpu_s = round(cpu_seconds(*pids) - cpu_before[1], 1)
        with store() as session:
            run.errors = (
                session.scalar(select(func.count()).where(AwsAccount.status == "error")) or 0
            )
        run.aws_calls = _calls_between(calls_before, control.calls(sandbox.endpoint))
        # each process's second full cycle from now: the first may have begun before
        seen = [len(c.full_cycles()) for c in group]

        def rechecked() -> list[float] | None:
            later = [c.full_cycles()[n:] for c, n in zip(group, seen, strict=True)]
            return [cycles[1][1] for cycles in later] if all(len(c) > 1 for c in later) else None

        run.recheck_s = max(until(rechecked, "re-check cycle", timeout=2 * cycle_s + 1800))
        run.load_average_1m = round(os.getloadavg()[0], 2)
        return run
    finally:
        for c in group:
            c.stop()
        engine.dispose()
        topic_admin.delete_topics(kafka)


def _calls_between(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, int]:
    """AWS calls made between two snapshots of the sandbox's call counts, by operation.

    >>> _calls_between([{"service": "sts", "operation": "AssumeRole", "count": 2}],
    ...                [{"service": "sts", "operation": "AssumeRole", "count": 5}])
    {'sts:AssumeRole': 3}
    """
    counts: dict[str, int] = {}
    for sign, rows in ((-1, before), (1, after)):
        for row in rows:
            op = f"{row['service']}:{row['operation']}"
            counts[op] = counts.get(op, 0) + sign * int(row["count"])
    return {op: n for op, n in sorted(counts.items()) if n}


def run_benchmark(
    accounts: list[int], collectors: list[int], per_account: int, workdir: Path
) -> list[ScaleRun]:
    """Every (accounts, collectors) pair against one sandbox of ``max(accounts)`` accounts."""
    from devstack import broker
    from spendsense.settings import get_settings

    kafka = get_settings().kafka
    started = not broker.broker_ready(kafka)
    if started:
        broker.start(kafka)
    runs = []
    try:
        with scale_sandbox(max(accounts), per_account, workdir) as sandbox:
            for n in accounts:
                for m in collectors:
                    print(f"{n} accounts, {m} collector(s) ...", flush=True)
                    runs.append(run_once(sandbox, kafka, n, m, workdir))
                    r = runs[-1]
                    print(
                        f"  cycle {r.cycle_s:.1f} s, re-check {r.recheck_s:.1f} s, "
                        f"errors {r.errors}, CPU s: sandbox {r.sandbox_cpu_s:.1f}, "
                        f"collectors {r.collectors_cpu_s:.1f}; load {r.load_average_1m}",
                        flush=True,
                    )
    finally:
        if started:
            broker.stop(kafka)
    return runs
