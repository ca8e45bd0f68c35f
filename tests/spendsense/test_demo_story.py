"""``spendsense demo`` tells a story: one line per milestone on the console, routine logs in
var/log.

The real command runs in the chaos run's isolated environment (its own broker, sandbox,
store, ports and var dir under ``tmp_path``) on a small fleet of two demo accounts, each
with instances idle since launch (an email's worth) and a busy one.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import stack
from devstack.broker import BrokerPaths, ensure_jars
from devstack.chaos.environment import chaos_environment
from devstack.launch import Child
from sandbox.fleet import Fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.workloads import AGENT_KINDS
from spendsense.settings import get_settings

pytestmark = [pytest.mark.slow]

BIN = Path(sys.executable).parent
PICKED = {"idle-since-launch": 2, AGENT_KINDS[0]: 1, "weekly-job": 1}
"""Each demo account's instances, by kind."""
INSTANCE_ID = re.compile(r"\bi-[0-9a-f]{17}\b")
TIMEOUT_S = 480
"""From the command's start: the stack starts, backfills 14 days and mails the first digest."""


def story_fleet() -> Fleet:
    """PICKED's instances of each of the two accounts in a seeded 16-day fleet."""
    whole = generate_fleet(FleetSpec(seed=5, instances=120, days=16, tenants=2, history_days=14))
    accounts = sorted({inst.account_id for inst in whole.instances.values()})
    picked = [
        iid
        for account in accounts
        for kind, count in PICKED.items()
        for iid in [
            i
            for i, inst in whole.instances.items()
            if inst.kind == kind and inst.account_id == account
        ][:count]
    ]
    assert len(picked) == len(accounts) * sum(PICKED.values())
    return Fleet(
        None,
        {i: whole.instances[i] for i in picked},
        {i: whole.traces[i] for i in picked},
        {i: whole.labels[i] for i in picked},
    )


class Demo:
    """The running command: its console output and its var dir."""

    def __init__(self, child: Child, var: Path, fleet: Fleet) -> None:
        self.child = child
        self.var = var
        self.fleet = fleet

    @property
    def console(self) -> str:
        assert self.child.log_path is not None
        return self.child.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, deadline: float) -> re.Match[str]:
        """The first console line matching ``pattern``; fails with the console's tail at the
        deadline or when the command exits."""
        regex = re.compile(pattern, re.MULTILINE)
        while True:
            found = regex.search(self.console)
            if found:
                return found
            assert self.child.alive(), f"the demo exited; its console:\n{self.console[-4000:]}"
            assert time.monotonic() < deadline, (
                f"no line matching {pattern!r} in {TIMEOUT_S}s; console:\n{self.console[-4000:]}"
            )
            time.sleep(2)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """``spendsense demo`` running on the story fleet, stopped (SIGTERM) at the end."""
    base = get_settings()
    ensure_jars(BrokerPaths(base.kafka.home))  # the stack's broker links the project's jars
    var = tmp_path / "stack"
    env = chaos_environment(base, var, speed=1.0, cooldown_s=15)
    env["SPENDSENSE_INGEST__BACKFILL_DAYS"] = "14"  # the sandbox's whole history
    fleet = story_fleet()
    fleet_dir = Path(env["SPENDSENSE_SANDBOX__FLEET_DIR"])
    write_fleet(fleet, fleet_dir)
    child = Child(
        [str(BIN / "spendsense"), "demo", "--fleet", str(fleet_dir), "--speed", "1"],
        env,
        tmp_path / "console.txt",
        name="demo",
    )
    child.start()
    try:
        yield Demo(child, var, fleet)
    finally:
        # the demo stops its own processes on SIGTERM; what is left of its tree goes after
        assert child.proc is not None
        if child.alive():
            os.kill(child.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(60)
        child.stop()


def test_the_console_shows_milestones_and_the_logs_go_to_files(demo: Demo) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    for name in (*stack.INFRASTRUCTURE, *stack.PIPELINE):
        demo.wait_for(rf"^\S+ ready +{name} at \S+$", deadline)
    demo.wait_for(r"^  Dashboard:  http://127\.0\.0\.1:\d+/$", deadline)
    demo.wait_for(r"^  Log in as   demo@spendsense\.example / \S+", deadline)
    for account in sorted({inst.account_id for inst in demo.fleet.instances.values()}):
        demo.wait_for(rf"^\S+ backfill +account {account}: [\d,]+ of [\d,]+ periods", deadline)
    demo.wait_for(
        r"^\S+ detection +first verdict: i-[0-9a-f]{17} .*: (idle|provisional|active)", deadline
    )
    email = demo.wait_for(
        r"^\S+ email +sent: digest of \d+ idle instance\(s\) to \S+: (.+)$", deadline
    )
    assert set(INSTANCE_ID.findall(email.group(1))) <= set(demo.fleet.instances)
    assert INSTANCE_ID.findall(email.group(1))

    logs = demo.var / "log"
    model_log = (logs / "model.log").read_text(errors="replace")
    assert "/score_batch" in model_log  # the model service's per-request lines...
    assert "/score_batch" not in demo.console  # ...are not on the console
    assert "HTTP Request: POST" in (logs / "detector.log").read_text(errors="replace")
    assert "HTTP Request: POST" not in demo.console
    assert "backfill-progress" in (logs / "collector.log").read_text(errors="replace")
    for name in (*stack.INFRASTRUCTURE, *stack.PIPELINE):
        assert (logs / f"{name}.log").exists(), name
