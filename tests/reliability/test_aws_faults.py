"""AWS faults against the collectors: throttling storms, 5xx answers, slow answers, a dead region.

The collectors run against the sandbox AWS account (two tenants, us-east-1 and
eu-west-1) and the real broker, with the sandbox's fault injection. Each test asserts
what matters to a customer: while the fault lasts the other regions and tenants keep
flowing, the account's status says what happened, and once it clears every
(instance, period) reaches ``metrics`` exactly once.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import control
from spendsense.metrics import CollectorRegistry
from spendsense.store.models import AwsAccount
from tests.ingest.conftest import IngestEnv, ingest_env, metric_periods
from tests.ingest.test_collect import assert_exactly_once

pytestmark = [pytest.mark.kafka]
__all__ = ["ingest_env"]  # the ingest suite's fixture: a store with two tenants on the sandbox


def status(env: IngestEnv, tenant: str) -> AwsAccount:
    with env.store() as session:
        row = session.query(AwsAccount).filter_by(tenant_id=tenant).one()
        session.expunge(row)
        return row


def published_regions(env: IngestEnv) -> set[tuple[str, str]]:
    """(tenant, region) pairs that reached ``metrics``."""
    fleet = env.sandbox.fleet.instances
    return {(t, fleet[i].region) for t, i, _ in metric_periods(env.settings.kafka)}


def test_one_region_failing_leaves_the_other_regions_flowing(ingest_env: IngestEnv) -> None:
    env = ingest_env
    start = env.backfill_start(env.clock())
    env.sandbox.set_faults(fail_regions=["eu-west-1"])
    registry = CollectorRegistry()
    try:
        service = env.service(registry, policy="naive")
        results = {r.tenant_id: r for r in service.run_cycle()}
        regions = published_regions(env)
        assert {("acme", "us-east-1"), ("globex", "us-east-1")} <= regions
        assert not {r for r in regions if r[1] == "eu-west-1"}
        for tenant in ("acme", "globex"):
            row = status(env, tenant)
            assert results[tenant].status == "error", results[tenant].line()
            assert row.status == "error" and "eu-west-1" in (row.status_message or ""), (
                row.status_message
            )
            assert "Unavailable" in (row.status_message or ""), row.status_message
            errors = {"tenant": tenant, "kind": "Unavailable"}  # ec2's 503 code, by kind
            assert registry.get_sample_value("spendsense_ingest_errors_total", errors) == 1
    finally:
        env.sandbox.clear_faults()
    for result in service.run_cycle():
        assert result.status == "ok", result.line()
    assert status(env, "acme").status == "ok"
    assert ("acme", "eu-west-1") in published_regions(env)
    assert_exactly_once(env, start)


def test_throttling_storm_then_recovery_loses_and_repeats_nothing(ingest_env: IngestEnv) -> None:
    env = ingest_env
    start = env.backfill_start(env.clock())
    env.settings = env.settings.model_copy(
        update={"aws": env.settings.aws.model_copy(update={"max_attempts": 2})}
    )
    env.sandbox.set_faults(throttle_rate=1.0, services=["ec2", "monitoring"], seed=3)
    try:
        service = env.service(policy="naive")
        results = service.run_cycle()
        # every region throttled past the retries: each account says so, nothing published
        assert {r.status for r in results} == {"error"}, [r.line() for r in results]
        assert all("throttled" in r.message for r in results), [r.line() for r in results]
        assert metric_periods(env.settings.kafka) == []
    finally:
        env.sandbox.clear_faults()
    for result in service.run_cycle():
        assert result.status == "ok", result.line()
    assert status(env, "acme").status == "ok"
    assert_exactly_once(env, start)


def test_server_errors_are_retried_and_nothing_is_lost(ingest_env: IngestEnv) -> None:
    env = ingest_env
    start = env.backfill_start(env.clock())
    env.sandbox.set_faults(
        error_rate=0.25, unavailable_rate=0.15, services=["ec2", "monitoring", "sts"], seed=8
    )
    try:
        service = env.service(policy="naive")
        statuses = [r.status for _ in range(3) for r in service.run_cycle()]
        faulted = control.faults(env.sandbox.endpoint_url)["injected"][0]
    finally:
        env.sandbox.clear_faults()
    assert faulted > 0
    assert set(statuses) <= {"ok", "error"}, statuses  # a failed region or role is reported
    for result in service.run_cycle():
        assert result.status == "ok", result.line()
    assert_exactly_once(env, start)


def test_slow_answers_past_the_timeout_stall_one_tenant_only(ingest_env: IngestEnv) -> None:
    env = ingest_env
    globex = env.accounts["globex"].account_id
    start = env.backfill_start(env.clock())
    env.settings = env.settings.model_copy(
        update={
            # acme's answers must come inside the timeout on a loaded 2-core machine too
            # (a Describe once took over 1 s there), globex's delayed ones never
            "aws": env.settings.aws.model_copy(update={"read_timeout_s": 2.5, "max_attempts": 2})
        }
    )
    env.sandbox.set_faults(latency_ms=4000, services=["monitoring"], accounts=[globex])
    try:
        service = env.service(policy="naive")
        results = {r.tenant_id: r for r in service.run_cycle()}
    finally:
        env.sandbox.clear_faults()
    assert results["acme"].status == "ok", results["acme"].line()
    assert results["globex"].status != "ok"
    tenants = {t for t, _, _ in metric_periods(env.settings.kafka)}
    assert "acme" in tenants and "globex" not in tenants
    for result in service.run_cycle():
        assert result.status == "ok", result.line()
    assert_exactly_once(env, start)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"throttle_rate": 1.0, "services": ["ec2", "monitoring"], "seed": 4}, "throttl"),
        ({"latency_ms": 1500, "services": ["monitoring"]}, "timed out"),
    ],
    ids=["throttling-storm", "slow-answers"],
)
def test_account_status_says_what_happened(
    ingest_env: IngestEnv, rule: dict[str, Any], words: str
) -> None:
    env = ingest_env
    env.settings = env.settings.model_copy(
        update={
            "aws": env.settings.aws.model_copy(update={"read_timeout_s": 1.0, "max_attempts": 1})
        }
    )
    env.sandbox.set_faults(**rule)
    try:
        env.service(policy="naive").run_cycle()
    finally:
        env.sandbox.clear_faults()
    row = status(env, "acme")
    assert row.status == "error" and words in (row.status_message or "").lower(), (
        row.status,
        row.status_code,
        row.status_message,
    )
