"""The demo's console: milestones from recorded inputs, each process's lines in its log file,
only trouble and milestones on the console unless verbose."""

from __future__ import annotations

import io
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from devstack.console import Console, alert_level
from devstack.launch import ProcessSpec
from devstack.milestone_feed import MilestoneFeed
from devstack.milestones import FirstVerdicts, Milestone, from_audit, from_output
from devstack.readiness import Readiness
from devstack.supervisor import Supervisor
from spendsense.settings import Settings, StoreSettings
from spendsense.store import append_audit, create_tenant, open_store
from spendsense.store.models import AuditEntry, InstanceView

# Recorded from a `spendsense demo` run (tests/spendsense/test_demo_story.py's stack).
COLLECTOR_LINES = [
    "2026-12-06 14:01:31,880 INFO spendsense.collect: metrics at http://127.0.0.1:53999/metrics",
    "2026-12-06 14:01:49,489 INFO ingest.progress: backfill-progress "
    '{"tenant_id":"9c2043c11ee24207a8e65001603cf7b6","account_id":"111111111111",'
    '"periods_done":12096,"periods_total":15831,"elapsed_s":15.9}',
    "2026-12-06 14:01:54,472 INFO ingest.progress: backfill-progress "
    '{"tenant_id":"9c2043c11ee24207a8e65001603cf7b6","account_id":"111111111111",'
    '"periods_done":15831,"periods_total":15831,"elapsed_s":20.9}',
]


VERDICT_ROWS = [  # a demo run's first verdict and first idle one, as the projector left them
    # account, region, instance, name, type, idle since, confidence, waste, scored at
    ("222222222222", "us-east-1", "i-0344b51b7da3f95c1", "infra-service-238", "r5.large",
     None, 0.0, 0.0, datetime(2026, 11, 22, 14, 40, tzinfo=UTC)),
    ("111111111111", "us-east-1", "i-028cc185db7d47720", "search-service-245", "t3.small",
     datetime(2026, 11, 22, 14, 35, tzinfo=UTC), 0.99, 15.18, datetime(2026, 12, 6, 14, 25, tzinfo=UTC)),
]  # fmt: skip


def recorded_verdicts() -> list[InstanceView]:
    """:data:`VERDICT_ROWS` as rows of the dashboard's table (fresh objects, one tenant)."""
    return [
        InstanceView(
            tenant_id="9c2043c11ee24207a8e65001603cf7b6",
            account_id=account,
            region=region,
            instance_id=iid,
            name=name,
            instance_type=kind,
            idle=since is not None,
            provisional=False,
            idle_since=since,
            confidence=confidence,
            monthly_waste_usd=waste,
            scored_at=scored,
        )
        for account, region, iid, name, kind, since, confidence, waste, scored in VERDICT_ROWS
    ]


PROCESS_LINES = {  # a line of each process's format, and whether it warns or fails
    "2026-12-06T12:15:50+0000 [INFO] [entry_service:spendsense-model:1] 127.0.0.1:57984 "
    "(scheme=http,method=POST,path=/score_batch,type=application/json,length=23601) "
    "(status=200,type=application/json,length=63612) 354.474ms": None,
    '[2026-12-06 12:15:30,597] [31475] [INFO] HTTP Request: POST http://127.0.0.1:46629/score_batch "HTTP/1.1 200 OK"': None,
    "[2026-12-06 12:16:26,046] [31475] [ERROR] Unable to update metadata from [1]": "ERROR",
    "2026-12-06 12:14:46,025 WARNING kafka.coordinator.assignors.range: No partition metadata for topic actions": "WARNING",
    "2026-12-06 12:14:50,753 WARNING spendsense.secrets_file: generated a signing key": "WARNING",
    "Traceback (most recent call last):": "ERROR",
    "+ƒaµS† v0.15.3+--------------------------------------------------------------------+": None,
}


def test_log_lines_are_told_apart_by_level() -> None:
    assert {line: alert_level(line) for line in PROCESS_LINES} == PROCESS_LINES


def test_backfill_progress_becomes_one_line_per_account_with_an_eta() -> None:
    found = [m for m in map(from_output, COLLECTOR_LINES) if m is not None]
    assert [m.text for m in found] == [
        "account 111111111111: 12,096 of 15,831 periods (76%), ETA 5 s",
        "account 111111111111: 15,831 of 15,831 periods, done in 21 s",
    ]
    assert [m.final for m in found] == [False, True]


def test_the_first_verdict_and_the_first_idle_one_are_milestones() -> None:
    verdicts = FirstVerdicts()
    texts = [
        m.text for row in (*recorded_verdicts(), *recorded_verdicts()) for m in verdicts.see(row)
    ]
    assert texts == [
        "first verdict: i-0344b51b7da3f95c1 (infra-service-238, r5.large) in 222222222222 "
        "us-east-1: active",
        "first idle verdict: i-028cc185db7d47720 (search-service-245, t3.small) in 111111111111 "
        "us-east-1: idle since 2026-11-22 14:35 UTC, confidence 0.99, $15.18 a month",
    ]
    assert verdicts.done


def test_emails_and_stops_from_the_audit_name_their_instances() -> None:
    instances = [f"i-0{n:016x}" for n in range(10)]
    email = AuditEntry(
        action="email",
        result="sent",
        actor="alerts",
        reason="digest of 10 idle instance(s) to demo@spendsense.example",
        details={"instances": instances, "attempts": 1, "detail": ""},
    )
    stop = AuditEntry(
        action="stop",
        result="refused",
        actor="demo@spendsense.example",
        instance_id=instances[0],
        account_id="111111111111",
        dry_run=False,
        reason="",
    )
    login = AuditEntry(action="login", result="ok", actor="demo@spendsense.example")
    shown = [from_audit(e) for e in (email, stop, login)]
    assert shown[0] is not None and shown[0].kind == "email"
    assert shown[0].text.endswith(f"{', '.join(instances[:8])} and 2 more")
    assert shown[1] is not None and shown[1].text == (
        f"{instances[0]} in 111111111111: refused by demo@spendsense.example"
    )
    assert shown[2] is None


def test_a_flood_of_errors_is_one_line_then_counted() -> None:
    out = io.StringIO()
    console = Console(out, quiet_s=3_600)
    line = "[2026-12-06 12:16:26,046] [31475] [ERROR] Unable to update metadata from [1]"
    for _ in range(50):
        console.output("detector", line, Path("var/log/detector.log"))
    console.quiet_s = 0
    console.output("detector", line, Path("var/log/detector.log"))
    shown = out.getvalue().splitlines()
    assert len(shown) == 2
    assert "detector: [2026" in shown[0] and "[var/log/detector.log]" in shown[0]
    assert shown[1].endswith("[var/log/detector.log; 49 more since the last shown]")


def _chatty(tmp_path: Path) -> ProcessSpec:
    """A process that logs routine lines, a warning and a backfill's progress, then waits."""
    flag = tmp_path / "ready"
    script = (
        "import sys, time\n"
        "for i in range(20): print(f'2026-12-06 14:00:00,000 INFO svc: request {i} ok')\n"
        f"print({COLLECTOR_LINES[2]!r})\n"
        "print('2026-12-06 14:00:01,000 WARNING svc: disk nearly full')\n"
        f"sys.stdout.flush(); open({str(flag)!r}, 'w').close(); time.sleep(60)\n"
    )
    return ProcessSpec(
        "svc",
        [sys.executable, "-c", script],
        ready=Readiness(check=flag.exists),
        url="http://127.0.0.1:9/",
    )


def _run(tmp_path: Path, verbose: bool) -> str:
    """What the console shows of :func:`_chatty` (every line of it is in its log file)."""
    out = io.StringIO()
    sup = Supervisor(Console(out, verbose=verbose), log_dir=tmp_path / "log")
    sup.start(_chatty(tmp_path))
    deadline = time.monotonic() + 30
    try:
        while "disk nearly full" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sup.stop_all(timeout_s=5)
    assert (tmp_path / "log" / "svc.log").read_text().count("INFO svc: request") == 20
    return out.getvalue()


def test_routine_lines_go_to_the_log_file_and_the_console_tells_the_story(tmp_path: Path) -> None:
    lines = _run(tmp_path, verbose=False).splitlines()
    assert lines[-1] == "==> stopping every process"
    shown = {line.split()[1]: line for line in lines[:-1]}
    assert sorted(shown) == ["WARNING", "backfill", "ready"], shown  # no routine line
    assert shown["ready"].endswith("ready     svc at http://127.0.0.1:9/")
    assert shown["backfill"].endswith(
        "account 111111111111: 15,831 of 15,831 periods, done in 21 s"
    )
    assert shown["WARNING"].endswith(f"disk nearly full  [{tmp_path / 'log' / 'svc.log'}]")


def test_verbose_brings_every_line_back(tmp_path: Path) -> None:
    shown = _run(tmp_path, verbose=True)
    assert shown.count("svc        | 2026-12-06 14:00:00,000 INFO svc: request") == 20
    assert "svc        | 2026-12-06 14:00:01,000 WARNING svc: disk nearly full" in shown


def test_the_feed_reports_only_what_the_store_gained_after_its_mark(tmp_path: Path) -> None:
    settings = Settings(store=StoreSettings(url=f"sqlite:///{tmp_path / 'store.db'}"))
    store = open_store(settings.store)
    old, new = recorded_verdicts()
    with store.sessions.begin() as db:
        create_tenant(db, "Demo", tenant_id=old.tenant_id)
        db.add(old)  # an active verdict from an earlier run
        append_audit(db, old.tenant_id, actor="alerts", action="email", result="sent")
    seen: list[Milestone] = []
    feed = MilestoneFeed(settings, seen.append)
    feed.mark()
    try:
        feed.look()
        assert seen == []  # nothing new yet
        with store.sessions.begin() as db:
            db.add(new)  # this run's first verdict, idle
            append_audit(db, old.tenant_id, actor="alerts", action="login", result="ok")
            append_audit(
                db,
                old.tenant_id,
                actor="alerts",
                action="email",
                result="sent",
                reason="digest of 1 idle instance(s) to demo@spendsense.example",
                details={"instances": [new.instance_id]},
            )
        feed.look()
        feed.look()  # nothing twice
    finally:
        feed.stop()
        store.dispose()
    assert [(m.kind, m.text.split(":")[0]) for m in seen] == [
        ("detection", "first verdict"),
        ("email", "sent"),
    ]
    assert seen[1].text.endswith(new.instance_id)
