"""The fleet's resources on disk: round trip, old fleets, one-line errors, labelled near misses."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from sandbox.fleet import load_fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.layout import RESOURCES_DIR, RESOURCES_FILE, series_file
from sandbox.fleet.model import Fleet
from spendsense.errors import ConfigError
from spendsense.events import RESOURCE_KINDS

SPEC = FleetSpec(seed=5, instances=16, days=21, resources=12)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return generate_fleet(SPEC)


@pytest.fixture
def folder(fleet: Fleet, tmp_path: Path) -> Path:
    write_fleet(fleet, tmp_path / "fleet")
    return tmp_path / "fleet"


def by_case(fleet: Fleet, kind: str, case: str) -> list:
    return [r for r in fleet.resources.values() if r.kind == kind and r.facts["case"] == case]


def test_resources_and_their_metrics_round_trip(fleet: Fleet, folder: Path) -> None:
    loaded = load_fleet(folder)
    assert loaded.resources == fleet.resources
    assert set(loaded.series) == set(fleet.series)
    for rid, series in fleet.series.items():
        assert loaded.series[rid].start == series.start
        for column, values in series.columns.items():
            np.testing.assert_allclose(loaded.series[rid].columns[column], values)
    assert {r.kind for r in loaded.resources.values()} == set(RESOURCE_KINDS)
    # written again, byte for byte the same
    again = folder.parent / "again"
    write_fleet(loaded, again)
    assert (again / RESOURCES_FILE).read_bytes() == (folder / RESOURCES_FILE).read_bytes()


def test_a_fleet_without_resources_loads_as_before(fleet: Fleet, tmp_path: Path) -> None:
    plain = generate_fleet(FleetSpec(seed=5, instances=16, days=21))
    write_fleet(plain, tmp_path / "plain")
    assert not (tmp_path / "plain" / RESOURCES_FILE).exists()
    loaded = load_fleet(tmp_path / "plain")
    assert loaded.resources == {} and loaded.series == {}
    # the instances do not change when resources are asked for
    assert plain.labels == fleet.labels and plain.instances == fleet.instances


def test_rewriting_a_resource_fleet_as_a_plain_one_clears_its_resources(
    folder: Path, tmp_path: Path
) -> None:
    write_fleet(generate_fleet(FleetSpec(seed=2, instances=16, days=3)), folder)
    assert not (folder / RESOURCES_DIR).exists() and load_fleet(folder).resources == {}


def _edit(folder: Path, change: object) -> None:
    path = folder / RESOURCES_FILE
    records = json.loads(path.read_text())
    change(records)  # type: ignore[operator]
    path.write_text(json.dumps(records))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rs: rs[0].update(kind="dynamo-table"), "kind must be one of"),
        (lambda rs: rs[0].pop("label"), "missing field(s) label"),
        (lambda rs: rs[0]["label"].update(monthly_usd=-1), "monthly_usd must be a number >= 0"),
        (lambda rs: rs[0]["label"].update(waste=True, since=None), "needs since"),
        (lambda rs: rs.append(rs[0]), "is listed twice"),
        (lambda rs: rs[0].update(tags={"a": 1}), "tags must be an object of string to string"),
        (  # an identifier is unique only within one account and region
            lambda rs: next(r for r in rs if r["kind"] == "rds-instance").update(
                resource_id="app-db"
            ),
            "a database's resource_id must be its ARN",
        ),
    ],
)
def test_a_bad_resources_file_is_one_line_naming_the_fault(
    folder: Path, change: object, message: str
) -> None:
    _edit(folder, change)
    with pytest.raises(ConfigError) as err:
        load_fleet(folder)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert RESOURCES_FILE in str(err.value)


def test_a_bad_metric_csv_is_one_line(fleet: Fleet, folder: Path) -> None:
    rid = next(iter(fleet.series))
    path = folder / RESOURCES_DIR / series_file(rid)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], lines[3]]) + "\n")  # a 5-minute step missing
    with pytest.raises(ConfigError, match="exactly 5 minutes apart"):
        load_fleet(folder)
    path.unlink()
    with pytest.raises(ConfigError, match="missing"):
        load_fleet(folder)


def test_near_misses_are_never_waste_and_grace_periods_hold(fleet: Fleet) -> None:
    near = [
        ("nat-gateway", "month-end"),
        ("load-balancer", "weekly-job"),
        ("rds-instance", "nightly-report"),
        ("ebs-volume", "maintenance"),
        ("ebs-volume", "attached"),
        ("elastic-ip", "moved"),
        ("ebs-snapshot", "volume-kept"),
        ("ebs-snapshot", "ami-kept"),
        ("ebs-snapshot", "orphan-young"),
    ]
    for kind, case in near:
        found = by_case(fleet, kind, case)
        assert found, (kind, case)
        assert all(not r.label.waste and r.label.since is None for r in found), (kind, case)
    for r in by_case(fleet, "ebs-volume", "maintenance"):  # back within hours, not a day
        assert r.time("reattached_at") - r.time("detached_at") < timedelta(hours=24)
    for r in by_case(fleet, "ebs-volume", "unattached"):
        assert r.label.waste and r.label.since == r.time("detached_at") + timedelta(hours=24)
    for r in by_case(fleet, "ebs-volume", "stopped-long"):
        assert r.label.since == r.time("instance_stopped_at") + timedelta(days=7)
    for r in by_case(fleet, "elastic-ip", "unassociated"):
        assert r.label.since == r.time("disassociated_at") + timedelta(hours=1)
    for r in by_case(fleet, "ebs-snapshot", "orphan-old"):
        assert r.label.since == r.time("created") + timedelta(days=30)
    assert all(
        r.tags.get("spendsense:protect") == "true"
        for r in fleet.resources.values()
        if r.facts["case"] == "protected"
    )


USE_BYTES = 1e6
"""A NAT gateway's bytes per 5 minutes above which it is in use: its agents' chatter at rest
stays under 40 MB a day (about 0.4 MB a point at most), use starts at 1.5 MB a point."""


def test_the_metric_series_show_the_patterns_their_labels_claim(fleet: Fleet) -> None:
    for r in by_case(fleet, "nat-gateway", "month-end"):
        series = fleet.series[r.resource_id]
        busy = series.columns["BytesOutToDestination"] > USE_BYTES
        days = {(series.start + i * timedelta(minutes=5)).day for i in np.flatnonzero(busy)}
        assert busy.any() and days <= {28, 29, 30, 31}
    for r in by_case(fleet, "nat-gateway", "abandoned"):
        series = fleet.series[r.resource_id]
        quiet = int((r.label.since - series.start) / timedelta(minutes=5))
        assert (series.columns["BytesOutToDestination"][:quiet] > USE_BYTES).any()
        assert not (series.columns["BytesOutToDestination"][quiet:] > USE_BYTES).any()
    for r in by_case(fleet, "load-balancer", "never-used"):
        columns = fleet.series[r.resource_id].columns
        per_day = np.convolve(columns["RequestCount"], np.ones(288), "valid")
        assert per_day.max() < 400  # scanners only (at most 200 a day, give or take)
    for r in by_case(fleet, "rds-instance", "nightly-report"):
        connections = fleet.series[r.resource_id].columns["DatabaseConnections"]
        active = connections > connections.min()  # over the agent's one, if it has one
        hours = {
            (fleet.series[r.resource_id].start + i * timedelta(minutes=5)).hour
            for i in np.flatnonzero(active)
        }
        assert hours == {2}


def test_idle_resources_are_not_silent(fleet: Fleet) -> None:
    """What a real account shows at rest, never labelled use: most NAT gateways carry
    chatter, most internet-facing balancers count scanners, most databases keep an agent's
    connection, the abandoned ones included."""

    def rests(kind: str, column: str) -> list[bool]:
        return [
            bool(fleet.series[r.resource_id].columns[column][-288:].any())
            for r in fleet.resources.values()
            if r.kind == kind and r.label.waste
        ]

    for kind, column in (
        ("nat-gateway", "BytesOutToDestination"),
        ("load-balancer", "RequestCount"),
        ("rds-instance", "DatabaseConnections"),
    ):
        noisy = rests(kind, column)
        assert noisy and sum(noisy) >= len(noisy) / 2, (kind, noisy)
