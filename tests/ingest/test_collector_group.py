"""Two ``spendsense collect`` processes share the accounts as the ``collectors`` group; one
is SIGKILLed mid-collection, the other takes its account over, and every period of every
account is on ``metrics`` exactly once."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from bench.collect_scale import CollectorProcess, shared_out, until
from spendsense.events import AccountRecord, account_key
from spendsense.producer import make_producer
from spendsense.store.tenants import add_aws_account, remove_aws_account
from spendsense.topics import ACCOUNTS, ACCOUNTS_SPEC, topic_name
from tests.ingest.conftest import IngestEnv, metric_periods
from tests.ingest.test_collect import assert_exactly_once

pytestmark = [pytest.mark.kafka]


def start(env: IngestEnv, log: Path) -> CollectorProcess:
    return CollectorProcess(
        {
            **env.env(),
            "SPENDSENSE_INGEST__POLICY": "naive",
            "SPENDSENSE_INGEST__CONCURRENCY": "1",
            "SPENDSENSE_INGEST__CYCLE_S": "3600",  # only rebalances and connections wake it
        },
        log,
    )


def collected(collector: CollectorProcess, tenant: str) -> bool:
    """Whether ``collector`` printed a clean cycle of the tenant's account."""
    return re.search(rf"^{tenant}/\d+: ok", collector.output(), re.M) is not None


@pytest.fixture
def group(ingest_env: IngestEnv, tmp_path: Path) -> Iterator[list[CollectorProcess]]:
    collectors = [start(ingest_env, tmp_path / f"collector-{n}.log") for n in (1, 2)]
    yield collectors
    for c in collectors:
        c.stop()


def test_a_killed_collector_s_account_is_taken_over_exactly_once(
    ingest_env: IngestEnv, group: list[CollectorProcess]
) -> None:
    env = ingest_env
    kafka = env.settings.kafka
    # The accounts are connected only once both processes hold their share.
    with env.store.begin() as session:
        for ref in env.accounts.values():
            remove_aws_account(session, ref.tenant_id, ref.account_id)

    until(lambda: shared_out(group), "share for each of the two collectors", timeout=90)
    keys = {t: account_key(ref.tenant_id, ref.account_id) for t, ref in env.accounts.items()}
    # round robin over adjacent partitions: the fixture's two accounts land on both processes
    owners = {t: next(c for c in group if c.owns(key)) for t, key in keys.items()}
    assert owners["acme"] is not owners["globex"]
    victim, survivor = owners["acme"], owners["globex"]

    before = env.clock()
    # Slow CloudWatch answers spread each account's batches over seconds, so the kill
    # lands with some of acme's periods published and others not yet asked for.
    env.sandbox.set_faults(latency_ms=2500, operations=["GetMetricData"])
    producer = make_producer(kafka, client_id="group-test")
    try:
        with env.store.begin() as session:
            for ref in env.accounts.values():
                add_aws_account(
                    session,
                    ref.tenant_id,
                    ref.account_id,
                    external_id=ref.external_id,
                    role_arn=ref.role_arn,
                )
        for ref in env.accounts.values():  # as the API does on a connection
            key, value = ACCOUNTS_SPEC.encode(
                AccountRecord(
                    tenant_id=ref.tenant_id, account_id=ref.account_id, connected=True, at=before
                )
            )
            producer.send(topic_name(kafka, ACCOUNTS), key=key, value=value).get(timeout=10)
        until(
            lambda: any(t == "acme" for t, _, _ in metric_periods(kafka)),
            "acme period on metrics",
            timeout=90,
        )
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
    finally:
        env.sandbox.clear_faults()
        producer.close(timeout=10)
    assert "acme/" not in victim.output()  # killed before its cycle ended
    published_by_victim = {p for p in metric_periods(kafka) if p[0] == "acme"}

    # Its heartbeats stop; within one rebalance the survivor holds every partition, reads
    # back what the victim published after its last commit, and collects acme.
    until(lambda: survivor.owns(keys["acme"]), "takeover of acme's partition", timeout=90)
    for tenant in ("acme", "globex"):
        until(partial(collected, survivor, tenant), f"{tenant} collected", timeout=90)
    out = survivor.output()
    assert "recovery:" in out.split("partitions [0, 1, 2, 3] of 4")[-1], out

    published = assert_exactly_once(env, env.backfill_start(before))
    assert published_by_victim < {p for p in published if p[0] == "acme"}

    survivor.process.send_signal(signal.SIGTERM)
    assert survivor.process.wait(timeout=60) == 0, survivor.output()
