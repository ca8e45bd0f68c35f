"""Carry a :class:`~devstack.chaos.plan.ChaosPlan` out on a running local stack and check it.

The stack is :class:`devstack.demo.LocalStack` (the same start-up as ``spendsense demo``)
in an isolated environment (:mod:`devstack.chaos.environment`); its supervisor restarts
whatever exits. While the plan runs, a watcher notes every restart and how long the new
process took to answer its readiness probe. After the schedule, AWS faults are cleared,
the pipeline is given time to settle, and :mod:`devstack.chaos.checks` runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from devstack.chaos import checks
from devstack.chaos.environment import chaos_environment
from devstack.chaos.plan import ChaosPlan
from devstack.launch import kill_tree
from devstack.supervisor import Running
from sandbox import control
from sandbox.fleet import load_fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from spendsense.settings import Settings, get_settings
from spendsense.store import open_store
from spendsense.store.models import Tenant
from spendsense.topics import ACTIONS_SPEC, DETECTIONS_SPEC, METRICS_SPEC

RECOVERY_LIMIT_S = 60.0


@dataclass
class Recovery:
    """One restart of a process and how long it took to be ready again."""

    name: str
    restarted_at: float
    ready_after_s: float | None = None
    superseded: bool = False  # exited (or was killed) again before it was ready


@dataclass
class ChaosOptions:
    """How big the run is."""

    minutes: float = 10.0
    seed: int = 1
    instances: int = 40
    speed: float = 60.0
    cooldown_s: int = 120
    settle_s: float = 45.0
    var_dir: Path | None = None


@dataclass
class ChaosResult:
    """What happened and what the checks found."""

    report: str
    ok: bool
    kills: int
    broker_restarts: int
    recoveries: list[Recovery] = field(default_factory=list)
    log_path: Path | None = None
    aws_faults: int = 0


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[Settings]:
    """Set ``values`` in this process's environment (children inherit it); restore after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()


class Watcher:
    """Notes each restart the supervisor makes and times the new process's readiness."""

    def __init__(
        self, running: dict[str, Running], probes: Mapping[str, Callable[[], bool]]
    ) -> None:
        self.running = running
        self.probes = probes
        self.seen = dict(running)
        self.recoveries: list[Recovery] = []
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(0.25):
            for name, run in list(self.running.items()):
                if self.seen.get(name) is not run:
                    self.seen[name] = run
                    rec = Recovery(name, time.monotonic())
                    for earlier in self.recoveries:
                        if earlier.name == name and earlier.ready_after_s is None:
                            earlier.superseded = True
                    self.recoveries.append(rec)
                    threading.Thread(target=self._time_ready, args=(rec,), daemon=True).start()

    def _time_ready(self, rec: Recovery) -> None:
        probe = self.probes.get(rec.name)
        deadline = rec.restarted_at + RECOVERY_LIMIT_S * 3
        while time.monotonic() < deadline and not rec.superseded and not self.stop.is_set():
            if probe is None or probe():
                rec.ready_after_s = time.monotonic() - rec.restarted_at
                return
            time.sleep(0.3)

    def recovering(self, name: str) -> bool:
        """Whether ``name`` was restarted and is not ready yet."""
        return any(
            r.name == name and r.ready_after_s is None and not r.superseded for r in self.recoveries
        )

    def wait_recovered(self, limit_s: float) -> None:
        """Wait (up to ``limit_s``) until no restarted process is still coming up."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and any(
            r.ready_after_s is None and not r.superseded for r in self.recoveries
        ):
            time.sleep(0.5)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)


def _enable_autostop(settings: Settings) -> None:
    """The first demo tenant lets SpendSense stop its idle instances (not dry-run, no grace)."""
    store = open_store(settings.store)
    try:
        with store.sessions.begin() as db:
            tenants = sorted(db.query(Tenant).all(), key=lambda t: t.name)
            if tenants:
                t = tenants[0]
                t.autostop_enabled, t.autostop_scope, t.autostop_dry_run = True, "all", False
                t.autostop_grace_minutes, t.autostop_max_per_hour = 0, 100
    finally:
        store.dispose()


def _wait_quiet(settings: Settings, limit_s: float, out: IO[str]) -> None:
    """Wait until ``metrics`` and ``detections`` stop growing for a while (or ``limit_s``)."""
    deadline = time.monotonic() + limit_s
    last: tuple[int, int] | None = None
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        now = (
            len(checks.read_topic(settings, METRICS_SPEC)),
            len(checks.read_topic(settings, DETECTIONS_SPEC)),
        )
        if now != last:
            last, quiet_since = now, time.monotonic()
            print(f"==> settling: {now[0]} metrics, {now[1]} detections", file=out, flush=True)
        elif time.monotonic() - quiet_since > 15 and now[1] >= now[0]:
            return
        time.sleep(3)


def run_chaos(plan: ChaosPlan, options: ChaosOptions, out: IO[str]) -> ChaosResult:
    """Start the stack, carry ``plan`` out, check, stop everything; never leaves a process."""
    from devstack.demo import LocalStack

    base = get_settings()
    var_dir = options.var_dir or base.var_dir / "chaos" / f"run-{plan.seed}-{int(time.time())}"
    env = chaos_environment(base, var_dir, options.speed, options.cooldown_s)
    fleet_dir = Path(env["SPENDSENSE_SANDBOX__FLEET_DIR"])
    spec = FleetSpec(
        seed=plan.seed, instances=options.instances, days=16, tenants=2, history_days=14
    )
    write_fleet(generate_fleet(spec), fleet_dir)
    log_path = var_dir / "processes.log"
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with environment(env) as settings, log_path.open("a") as log:
        stack = LocalStack(fleet_dir=fleet_dir, speed=options.speed, out=log)
        print(f"==> starting the stack (logs: {log_path})", file=out, flush=True)
        stack.start()
        settings = stack.settings
        started = datetime.now(UTC)
        watcher: Watcher | None = None
        try:
            _enable_autostop(settings)
            sup = stack.supervisor
            probes = {name: run.spec.ready for name, run in sup.running.items() if run.spec.ready}
            watcher = Watcher(sup.running, probes)
            watcher.start()
            threading.Thread(target=sup.watch, name="chaos-supervisor", daemon=True).start()
            for rule in plan.aws_faults:
                control.set_faults(settings.aws.endpoint_url or "", [dict(rule)])
            print(
                f"==> chaos for {plan.duration_s:.0f}s, seed {plan.seed}:\n{plan.describe()}",
                file=out,
                flush=True,
            )
            kills, restarts = _carry_out(plan, sup.running, watcher.recovering, out)
            injected = sum(control.faults(settings.aws.endpoint_url or "")["injected"])
            control.clear_faults(settings.aws.endpoint_url or "")
            print(
                f"==> {injected} AWS calls throttled or failed by the sandbox", file=out, flush=True
            )
            print("==> faults cleared; letting the pipeline settle", file=out, flush=True)
            time.sleep(min(options.settle_s, 15))
            _wait_quiet(settings, options.settle_s + 60, out)
            watcher.wait_recovered(RECOVERY_LIMIT_S + 30)
            watcher.close()
            report, ok = _check(settings, options, fleet_dir, started, watcher.recoveries)
        finally:
            if watcher is not None:
                watcher.close()
            stack.stop()
    return ChaosResult(report, ok, kills, restarts, watcher.recoveries, log_path, injected)


def _carry_out(
    plan: ChaosPlan,
    running: dict[str, Running],
    recovering: Callable[[str], bool],
    out: IO[str],
) -> tuple[int, int]:
    events = [(k.at_s, k.target, signal.SIGKILL) for k in plan.kills]
    events.append((plan.broker_restart_s, "kafka", signal.SIGTERM))
    events.sort(key=lambda e: e[0])
    t0 = time.monotonic()
    kills = restarts = 0
    for at_s, target, sig in events:
        time.sleep(max(0.0, t0 + at_s - time.monotonic()))
        # a target still starting after its last restart is left to become ready first, so
        # every restart's recovery is timed (bounded: the recovery limit)
        settle_until = time.monotonic() + RECOVERY_LIMIT_S
        while recovering(target) and time.monotonic() < settle_until:
            time.sleep(0.5)
        run = running.get(target)
        proc = run.proc if run is not None else None
        if proc is None or proc.poll() is not None:
            print(f"==> t+{at_s:.0f}s {target} is not running (restarting): skipped", file=out)
            continue
        kill_tree(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)  # gone before the next event, so each restart is seen apart
        what = "SIGKILL" if sig is signal.SIGKILL else "restart (SIGTERM)"
        print(
            f"==> t+{time.monotonic() - t0:5.1f}s {what} {target} (pid {proc.pid})",
            file=out,
            flush=True,
        )
        kills += sig is signal.SIGKILL
        restarts += sig is signal.SIGTERM
    time.sleep(max(0.0, t0 + plan.duration_s - time.monotonic()))
    return kills, restarts


def _check(
    settings: Settings,
    options: ChaosOptions,
    fleet_dir: Path,
    started: datetime,
    recoveries: list[Recovery],
) -> tuple[str, bool]:
    store = open_store(settings.store, migrate=False)
    try:
        since = checks.run_window_start(started, settings.ingest.backfill_days)
        published = checks.read_topic(settings, METRICS_SPEC)
        detections = checks.read_topic(settings, DETECTIONS_SPEC)
        actions = checks.read_topic(settings, ACTIONS_SPEC)
        sandbox = checks.cloudwatch_periods(settings, store, since)
        mail = checks.check_mail(settings, options.speed)
        emails = int(mail.summary.split()[0])
        results = [
            *checks.check_metrics(published, detections, sandbox),
            mail,
            *checks.check_stops(settings, store, load_fleet(fleet_dir)),
            checks.check_audit(store, actions, emails),
            check_recoveries(recoveries),
        ]
    finally:
        store.dispose()
    return checks.summarize(results)


def check_recoveries(recoveries: list[Recovery]) -> checks.Check:
    """Every restart (not killed again meanwhile) was ready within the limit."""
    timed = [r for r in recoveries if not r.superseded]
    breaches = [
        f"{r.name} not ready {RECOVERY_LIMIT_S:.0f}s after its restart"
        + (f" (took {r.ready_after_s:.0f}s)" if r.ready_after_s is not None else " (never)")
        for r in timed
        if r.ready_after_s is None or r.ready_after_s > RECOVERY_LIMIT_S
    ]
    by_name: dict[str, list[float]] = {}
    for r in timed:
        by_name.setdefault(r.name, []).append(r.ready_after_s or float("inf"))
    figures = ", ".join(
        f"{name} {len(v)}x max {max(v):.0f}s" for name, v in sorted(by_name.items())
    )
    return checks.Check(
        "every process recovered by itself",
        f"{len(recoveries)} restarts ({len(recoveries) - len(timed)} exited again before ready): "
        f"{figures or 'none'}",
        breaches,
    )
