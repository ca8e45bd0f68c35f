"""``make bench-api``: the instances and costs endpoints for a tenant with 10,000 instances.

Seeds a fresh store (one tenant, one user, ``--instances`` rows in the instances
projection, 31 days of cost lines), starts ``uvicorn api.main:app`` on a free port
as a separate process (as deployed), logs in, then drives each endpoint with
``--clients`` concurrent keep-alive connections for ``--seconds`` (after a warm-up)
and reports p50, p99 and requests per second. The load client is a few lines of
asyncio on raw sockets so that on a small machine it leaves the CPU to the server.

    python -m bench.api --json bench/results/api.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from api.security import hash_password
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


@dataclass
class EndpointResult:
    """Latency and throughput of one endpoint under load."""

    path: str
    clients: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


async def _one_connection(
    port: int, request: bytes, stop_at: float, record_after: float, latencies: list[float]
) -> int:
    """Keep-alive requests on one connection until ``stop_at``; returns the error count."""
    errors = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status != 200:
                errors += 1
            if start >= record_after:
                latencies.append(time.perf_counter() - start)
    finally:
        writer.close()
    return errors


async def drive(
    port: int, path: str, cookie: str, clients: int, seconds: float, warmup: float
) -> EndpointResult:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    begin = time.perf_counter()
    record_after = begin + warmup
    stop_at = record_after + seconds
    errors = await asyncio.gather(
        *(_one_connection(port, request, stop_at, record_after, latencies) for _ in range(clients))
    )
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return (
            round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)
            if ordered
            else 0.0
        )

    return EndpointResult(
        path=path,
        clients=clients,
        seconds=seconds,
        requests=len(ordered),
        errors=sum(errors),
        rps=round(len(ordered) / seconds, 1),
        p50_ms=pct(0.50),
        p90_ms=pct(0.90),
        p99_ms=pct(0.99),
        max_ms=round(ordered[-1] * 1000, 2) if ordered else 0.0,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--store-url", default=None, help="default: a SQLite file in a temp dir")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        var = Path(tmp)
        store_url = args.store_url or f"sqlite:///{var / 'bench.db'}"
        t0 = time.perf_counter()
        email = seed(store_url, args.instances, random.Random(args.seed))
        print(
            f"seeded {args.instances} instances in {time.perf_counter() - t0:.1f}s ({store_url.split(':')[0]})"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = start_api(store_url, var, port, args.workers)
        try:
            wait_ready(base, process)
            cookie = log_in(base, email)
            results = [
                asyncio.run(drive(port, path, cookie, args.clients, args.seconds, args.warmup))
                for path in ("/api/instances", "/api/costs")
            ]
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(
        f"{'endpoint':16s} {'clients':>7s} {'requests':>8s} {'rps':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s}"
    )
    for r in results:
        print(
            f"{r.path:16s} {r.clients:7d} {r.requests:8d} {r.rps:7.1f} {r.p50_ms:7.1f} {r.p99_ms:7.1f} {r.errors:6d}"
        )
    goal_met = all(r.p99_ms < 50 and r.errors == 0 for r in results)
    print(f"goal p99 < 50 ms: {'met' if goal_met else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "api",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "instances": args.instances,
            "workers": args.workers,
            "store": store_url.split(":")[0],
            "goal": "p99 < 50 ms at 100 concurrent clients",
            "goal_met": goal_met,
            "endpoints": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
