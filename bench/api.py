"""``make bench-api``: the instance list and costs for a tenant with 10,000 instances.

Seeds a fresh store (one tenant, one user, ``--instances`` rows in the instances
projection, 31 days of cost lines), starts ``uvicorn api.main:app`` with ``--workers``
processes on a free port (as deployed), logs in, then drives each request of
:data:`REQUESTS` (the dashboard's first page by waste, a search, a filtered page, the
costs) with ``--clients`` concurrent keep-alive connections: a discarded ``--warmup``
run, then ``--runs`` measured runs of ``--seconds``. It reports the median over the runs
of p50, p90, p99 and requests per second (every run is kept in the JSON). The load
client is ``wrk`` (Debian's package): written in C, it leaves the CPU to the server
on a small machine, where a Python client would take a core of its own.

The API keeps each page for 2 seconds (and until the projection changes), so under load
most answers are kept ones. What a page costs when it is read from the store (as after
every projector commit) is measured apart: each instance request's service call, in
this process, without the API's cache (``store_read_ms``: median of ``READS``).

    python -m bench.api --json bench/results/api.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import get_origin
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import insert

from api.schemas.instances import InstanceListQuery
from api.security import hash_password
from api.services.instance_query import View
from api.services.instances import list_instances, summary
from bench import write_result
from spendsense.ports import free_port
from spendsense.settings import StoreSettings
from spendsense.store import create_tenant, create_user, open_store
from spendsense.store.models import CostCache
from spendsense.store.models.api import InstanceView

PASSWORD = secrets.token_urlsafe(16)
TYPES = [("t3.micro", 0.0104), ("m5.large", 0.096), ("m5.xlarge", 0.192), ("r5.2xlarge", 0.504)]
SERVICES = [
    "Amazon Elastic Compute Cloud - Compute",
    "EC2 - Other",
    "Amazon S3",
    "AWS Data Transfer",
]


# What a dashboard asks for (issue 20): its first page by waste, a search (names and tags),
# a filtered page; and the costs.
REQUESTS = {
    "first page by waste": "/api/instances?sort=waste&limit=50",
    "search": "/api/instances?q=srv-042&limit=50",
    "filtered page": "/api/instances?state=running&verdict=idle&region=eu-west-1&limit=50",
    "costs": "/api/costs",
}
READS = 21


@dataclass
class Run:
    """One measured wrk run against one endpoint."""

    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class EndpointResult(Run):
    """Latency and throughput of one endpoint under load: a run's figures, each the median
    over the runs (``requests`` and ``errors``: their sums), and every run."""

    request: str
    path: str
    clients: int
    seconds: float
    runs: list[Run]
    store_read_ms: float | None = None


def seed(store_url: str, instances: int, rng: random.Random) -> str:
    """A tenant with one user, ``instances`` projected instances and a month of costs."""
    store = open_store(StoreSettings(url=store_url))
    email = "bench@example.com"
    now = datetime.now(UTC)
    with store.sessions.begin() as session:
        tenant = create_tenant(session, "Bench", tenant_id="bench", alert_email=email)
        create_user(session, tenant.id, email, hash_password(PASSWORD))
        rows = []
        for n in range(instances):
            itype, price = rng.choice(TYPES)
            idle = rng.random() < 0.15
            rows.append(
                {
                    "tenant_id": "bench",
                    "instance_id": f"i-{n:017x}",
                    "account_id": f"{100000000000 + n % 20}",
                    "region": rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"]),
                    "name": f"srv-{n:05d}",
                    "state": "running" if rng.random() < 0.8 else "stopped",
                    "instance_type": itype,
                    "lifecycle": "on-demand",
                    "root_device_type": "ebs",
                    "asg_name": None,
                    "tags": {"Name": f"srv-{n:05d}", "team": rng.choice(["data", "web", "ml"])},
                    "stop_protection": False,
                    "hourly_price_usd": price,
                    "launch_time": now - timedelta(days=rng.randint(1, 400)),
                    "idle_score": rng.random(),
                    "idle": idle,
                    "idle_since": now - timedelta(hours=rng.randint(1, 200)) if idle else None,
                    "reason": "CPU at its noise floor, no network" if idle else "",
                    "monthly_waste_usd": round(price * 730, 2) if idle else 0.0,
                    "scored_at": now,
                    "observed_at": now,
                    "updated_at": now,
                }
            )
        session.execute(insert(InstanceView), rows)
        today = date.today()
        lines = [
            {
                "day": (today - timedelta(days=d)).isoformat(),
                "service": service,
                "region": "us-east-1",
                "amount_usd": round(rng.uniform(5, 500), 2),
            }
            for d in range(31)
            for service in SERVICES
        ]
        for account in range(20):
            session.add(
                CostCache(
                    tenant_id="bench",
                    account_id=f"{100000000000 + account}",
                    fetched_at=now,
                    lines=lines,
                )
            )
    store.dispose()
    return email


def store_reads(store_url: str, tenant_id: str = "bench") -> dict[str, float]:
    """Each instance request's page read from the store by the API's service, without its
    cache: the median milliseconds of :data:`READS` reads, by request."""
    lists = {
        k for k, f in InstanceListQuery.model_fields.items() if get_origin(f.annotation) is list
    }
    store = open_store(StoreSettings(url=store_url))
    medians = {}
    with store.sessions() as db:
        summary_now = summary(db, tenant_id)
        dialect = db.get_bind().dialect.name
        for request, path in REQUESTS.items():
            url = urlsplit(path)
            if url.path != "/api/instances":
                continue
            asked = {k: v if k in lists else v[0] for k, v in parse_qs(url.query).items()}
            query = InstanceListQuery.model_validate(asked)
            view = View(dialect, tenant_id, query)
            took = []
            for _ in range(READS):
                t0 = time.perf_counter()
                list_instances(db, view, None, query.limit, protect_tag="", summary_now=summary_now)
                took.append((time.perf_counter() - t0) * 1000)
            medians[request] = round(statistics.median(took), 2)
    store.dispose()
    return medians


def start_api(store_url: str, var_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SPENDSENSE_STORE__URL": store_url,
        "SPENDSENSE_VAR_DIR": str(var_dir),
        "SPENDSENSE_LOG_LEVEL": "WARNING",
        "SPENDSENSE_API__LOGIN_MAX_FAILURES": "1000",
    }
    return subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "api.main:app",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        ],
        env=env,
    )  # fmt: skip


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the API at {base} was not ready within {timeout:.0f}s")


def log_in(base: str, email: str) -> str:
    """The Cookie header of a fresh session."""
    with httpx.Client(base_url=base, timeout=30) as client:
        csrf = client.get("/api/auth/csrf").json()["csrf_token"]
        resp = client.post(
            "/api/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        resp.raise_for_status()
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


# wrk calls done() once at the end; the figures come out as one JSON line.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk(url: str, cookie: str, clients: int, seconds: float, threads: int, script: Path) -> Run:
    """One closed-loop run of ``wrk``: ``clients`` keep-alive connections, each sending its
    next request when the previous answer is in (a C client: it leaves the CPU to the API)."""
    out = subprocess.run(
        [
            "wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "10s",
            "-H", f"Cookie: {cookie}", "-H", "Accept: application/json",
            "-s", str(script), url,
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK-JSON "))
    raw = json.loads(line.removeprefix("WRK-JSON "))
    return Run(
        requests=raw["requests"],
        errors=raw["status_errors"] + raw["socket_errors"],
        rps=round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p90_ms=round(raw["p90_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        max_ms=round(raw["max_us"] / 1000, 2),
    )


def measure(
    url: str, request: str, cookie: str, args: argparse.Namespace, script: Path
) -> EndpointResult:
    """A discarded warm-up run, then ``args.runs`` measured runs; each figure is the
    median over the runs (every run is kept in the report)."""
    path = REQUESTS[request]
    wrk(url + path, cookie, args.clients, args.warmup, args.client_threads, script)
    runs = [
        wrk(url + path, cookie, args.clients, args.seconds, args.client_threads, script)
        for _ in range(args.runs)
    ]

    def med(field: str) -> float:
        return round(statistics.median(getattr(r, field) for r in runs), 2)

    return EndpointResult(
        request=request,
        path=path,
        clients=args.clients,
        seconds=args.seconds,
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
        rps=round(med("rps"), 1),
        p50_ms=med("p50_ms"),
        p90_ms=med("p90_ms"),
        p99_ms=med("p99_ms"),
        max_ms=med("max_ms"),
        runs=runs,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per endpoint (medians)")
    parser.add_argument("--warmup", type=float, default=3.0, help="discarded seconds first")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--client-threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--store-url", default=None, help="default: a SQLite file in a temp dir")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit(
            "bench-api needs the wrk load generator: apt-get install wrk (make sysdeps)"
        )

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        var = Path(tmp)
        script = var / "report.lua"
        script.write_text(WRK_REPORT)
        store_url = args.store_url or f"sqlite:///{var / 'bench.db'}"
        t0 = time.perf_counter()
        email = seed(store_url, args.instances, random.Random(args.seed))
        print(
            f"seeded {args.instances} instances in {time.perf_counter() - t0:.1f}s ({store_url.split(':')[0]})"
        )
        reads = store_reads(store_url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = start_api(store_url, var, port, args.workers)
        try:
            wait_ready(base, process)
            cookie = log_in(base, email)
            results = [measure(base, request, cookie, args, script) for request in REQUESTS]
            for r in results:
                r.store_read_ms = reads.get(r.request)
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(
        f"{args.clients} clients, {args.workers} API workers, medians of {args.runs} runs of "
        f"{args.seconds:g}s after {args.warmup:g}s warm-up (1-min load average before: {load_before:.1f})"
    )
    print(
        f"{'request':20s} {'requests':>8s} {'rps':>7s} {'p50 ms':>7s} {'p90 ms':>7s} {'p99 ms':>7s} {'errors':>6s} {'store read ms':>13s}"
    )
    for r in results:
        read = "" if r.store_read_ms is None else f"{r.store_read_ms:.1f}"
        print(
            f"{r.request:20s} {r.requests:8d} {r.rps:7.1f} {r.p50_ms:7.1f} {r.p90_ms:7.1f} {r.p99_ms:7.1f} {r.errors:6d} {read:>13s}"
        )
    goal_met = all(r.p99_ms < 50 and r.errors == 0 for r in results)
    print(f"goal p99 < 50 ms: {'met' if goal_met else 'NOT met'}")
    if args.json:
        write_result(
            args.json,
            "api",
            {
                "load_average_1m_before": round(load_before, 2),
                "instances": args.instances,
                "workers": args.workers,
                "store": store_url.split(":")[0],
                "client": f"wrk, {args.client_threads} thread(s), closed loop, keep-alive",
                "clients": args.clients,
                "runs": args.runs,
                "seconds_per_run": args.seconds,
                "warmup_seconds": args.warmup,
                "figures": "medians over the runs; every run listed under runs; store_read_ms: "
                f"one page read from the store without the API's cache (median of {READS}, "
                "in-process)",
                "goal": "p99 < 50 ms at 100 concurrent clients",
                "goal_met": goal_met,
                "endpoints": [asdict(r) for r in results],
            },
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
