"""The waste benchmark on a small fleet: per-kind figures in its JSON, and figures that would
expose a rule turned upside down."""

from __future__ import annotations

import json
from pathlib import Path

from bench import write_result
from bench.waste import run_benchmark
from sandbox.fleet.generator import FleetSpec, generate_fleet
from spendsense.events import RESOURCE_KINDS
from spendsense.settings import KafkaSettings


def test_the_bench_scores_every_kind_from_onboarding_to_the_end(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    fleet = generate_fleet(FleetSpec(seed=8, instances=16, days=17, tenants=1, resources=6))
    report = run_benchmark(fleet, kafka, poll_hours=24, baseline=True)
    path = write_result(tmp_path / "waste.json", "waste", report.as_dict())
    body = json.loads(path.read_text())
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert set(kinds) == set(RESOURCE_KINDS) and body["polls"] == 3  # 3 live days
    for kind, figures in kinds.items():
        assert figures["resources"] == 6
        assert figures["labelled_waste"] > 0, kind
        # a rule turned upside down finds the near misses and misses the waste
        assert figures["recall"] >= 0.5 and figures["precision"] >= 0.5, figures
        assert figures["first_digest_false"] <= figures["false_alerts"]
    assert sum(k["false_alerts"] for k in kinds.values()) <= 2
    assert report.table().splitlines()[0].split()[0] == "kind"

    # the baseline at the same polls: with any non-zero day taken for use, the NAT gateways,
    # balancers and databases that still hum (agents, scanners) are never found
    assert report.baseline is not None and len(body["baseline_clean_floor"]) == len(kinds)
    baseline = report.baseline
    metric_kinds = ("nat-gateway", "load-balancer", "rds-instance")
    learnt = sum(len(report.kinds[k].found & report.kinds[k].labelled) for k in metric_kinds)
    clean = sum(len(baseline[k].found & baseline[k].labelled) for k in metric_kinds)
    assert learnt > 0 and clean <= 0.6 * learnt, (clean, learnt)
