"""``make bench-ui``: the dashboard's first paint for a tenant with 10,000 instances.

Seeds a fresh store as ``make bench-api`` does (:func:`bench.api.seed`), starts ``uvicorn
api.main:app`` on a free port, logs in, then opens the dashboard in headless Chromium
(Debian's, as the browser tests drive it) ``--runs`` times, each in a fresh browser
context (nothing cached), after one discarded warm-up. A run's figure is the time from
navigation start to the table's first rows on screen: the page script marks
``spendsense:rows-painted`` in the frame after it has rendered the first page of rows
(``ui/src/instances.js``), and the benchmark reads the mark from the page. It reports the
median and keeps every run, with the first contentful paint and the instances request's
own time beside it.

    python -m bench.first_paint --json bench/results/dashboard.json
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench import chromium, write_result
from bench.api import log_in, seed, start_api, wait_ready
from spendsense.ports import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser

GOAL_MS = 1000.0

# What the page measured of itself, in ms from navigation start.
TIMINGS = """() => {
  const ms = (x) => (x == null ? null : Math.round(x * 10) / 10);
  const at = (name) => ms(performance.getEntriesByName(name)[0].startTime);
  const paint = performance.getEntriesByType("paint").find((p) => p.name === "first-contentful-paint");
  const list = performance.getEntriesByType("resource").find((r) => new URL(r.name).pathname === "/api/instances");
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    rows_painted_ms: at("spendsense:rows-painted"),
    rows_rendered_ms: at("spendsense:rows-rendered"),
    first_contentful_paint_ms: paint ? ms(paint.startTime) : null,
    dom_content_loaded_ms: ms(nav.domContentLoadedEventEnd),
    instances_request_ms: list ? ms(list.responseEnd - list.requestStart) : null,
    rows: document.querySelectorAll("#instances tbody tr").length,
  };
}"""


@dataclass
class PaintRun:
    """One page load: when the first rows were on screen, and what came before."""

    rows_painted_ms: float
    rows_rendered_ms: float
    first_contentful_paint_ms: float | None
    dom_content_loaded_ms: float
    instances_request_ms: float | None
    rows: int


def cookies_of(header: str, base: str) -> list[dict[str, str]]:
    """A ``Cookie`` header as Playwright's cookies for ``base``.

    >>> cookies_of("a=1; b=x=y", "http://127.0.0.1:1")
    [{'name': 'a', 'value': '1', 'url': 'http://127.0.0.1:1'}, {'name': 'b', 'value': 'x=y', 'url': 'http://127.0.0.1:1'}]
    """
    pairs = (part.split("=", 1) for part in header.split("; ") if part)
    return [{"name": k, "value": v, "url": base} for k, v in pairs]


def load_once(browser: Browser, base: str, cookie: str, width: int, height: int) -> PaintRun:
    """Open the dashboard in a fresh context and wait for its first rows on screen."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        context.add_cookies(cookies_of(cookie, base))  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(f"{base}/", wait_until="commit")
        page.wait_for_function(
            "performance.getEntriesByName('spendsense:rows-painted').length > 0", timeout=60_000
        )
        run = PaintRun(**page.evaluate(TIMINGS))
    finally:
        context.close()
    if run.rows == 0:
        raise SystemExit("the dashboard painted no rows: is the tenant seeded?")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.first_paint", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="measured page loads (median)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    problem = chromium.missing()
    if problem:
        raise SystemExit(problem)
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        var = Path(tmp)
        store_url = f"sqlite:///{var / 'bench.db'}"
        t0 = time.perf_counter()
        email = seed(store_url, args.instances, random.Random(args.seed))
        print(f"seeded {args.instances} instances in {time.perf_counter() - t0:.1f}s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # no broker: the live feed waits for one, as it does when Kafka is down
        os.environ["SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
        process = start_api(store_url, var, port, args.workers)
        try:
            wait_ready(base, process)
            cookie = log_in(base, email)
            with sync_playwright() as pw:
                browser = chromium.launch(pw)
                try:
                    load_once(browser, base, cookie, args.width, args.height)  # warm-up
                    runs = [
                        load_once(browser, base, cookie, args.width, args.height)
                        for _ in range(args.runs)
                    ]
                finally:
                    browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)

    median = round(statistics.median(r.rows_painted_ms for r in runs), 1)
    goal_met = median < GOAL_MS
    print(
        f"first rows painted, {args.instances} instances, {runs[0].rows} rows a page: "
        + ", ".join(f"{r.rows_painted_ms:.0f}" for r in runs)
        + f" ms; median {median:.0f} ms (1-min load average before: {load_before:.1f})"
    )
    print(f"goal median < {GOAL_MS:.0f} ms: {'met' if goal_met else 'NOT met'}")
    if args.json:
        write_result(
            args.json,
            "dashboard-first-paint",
            {
                "median_ms": median,
                "goal": f"median < {GOAL_MS:.0f} ms",
                "goal_met": goal_met,
                "measure": "navigation start to the frame after the first page of rows is "
                "rendered (the page's spendsense:rows-painted mark)",
                "load_average_1m_before": round(load_before, 2),
                "instances": args.instances,
                "store": "sqlite",
                "workers": args.workers,
                "browser": "Debian's chromium, headless, a fresh context (empty cache) per run",
                "viewport": [args.width, args.height],
                "runs": args.runs,
                "warmup_runs": 1,
                "every_run": [asdict(r) for r in runs],
            },
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
