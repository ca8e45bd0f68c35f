"""The collector process: every connected account, concurrently, cycle after cycle.

Accounts come from the store. Each cycle runs the registered collectors for every
account on a bounded thread pool; an account whose role cannot be assumed, whose
regions refuse SpendSense, or one of whose regions fails (throttling beyond retries, a
5xx answer, a timeout: :mod:`ingest.faults`) gets an ``error`` status naming the region
and the AWS error code, without touching any other account or the account's other
regions. A region's failure is retried next cycle; an account that cannot be reached at
all (its role cannot be assumed) is tried again with exponential backoff
(:func:`retry_delay`), its next attempt kept in the store and shown on the settings page.
On start, after any failed producer flush, and after the process's share of the accounts
changed, the ``metrics`` records published since the last checkpoint are read back
(:mod:`ingest.recovery`) so nothing is published twice.

Given an :class:`~ingest.assignment.AccountAssignment`, the process collects only the
accounts of its partitions in the ``collectors`` group (:meth:`CollectorService.run_forever`
wakes for a rebalance and for a connected account as well as every ``cycle_s``); without one
(``spendsense collect --once``) it collects every account.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ingest.assignment import AccountAssignment
from ingest.deps import AccountJob, IngestDeps
from ingest.faults import AwsFault, aws_faults
from ingest.metrics import IngestMetrics
from ingest.polling import get_policy
from ingest.recovery import oldest_checkpoint, read_back, touch_checkpoint
from ingest.registry import Collector, ordered
from spendsense.access import AccountRef, TenantSessions
from spendsense.aws import AwsFactory
from spendsense.counters import cost_changes
from spendsense.errors import ConfigError, TenantAccessError
from spendsense.events import account_key
from spendsense.metrics import CollectorRegistry
from spendsense.producer import DeliveryFailed, Publisher
from spendsense.settings import IngestSettings, Settings
from spendsense.store.models import AwsAccount, MetricCursor
from spendsense.store.tenants import list_tenants, set_account_status

log = logging.getLogger(__name__)


def retry_delay(settings: IngestSettings, failures: int) -> timedelta:
    """How long to leave an account alone after ``failures`` failed attempts in a row.

    >>> s = IngestSettings(retry_initial_s=300, retry_max_s=3600)
    >>> [retry_delay(s, n).total_seconds() for n in (1, 2, 3, 4, 5, 60)]
    [300.0, 600.0, 1200.0, 2400.0, 3600.0, 3600.0]
    """
    doublings = min(max(failures - 1, 0), 32)
    return timedelta(seconds=min(settings.retry_max_s, settings.retry_initial_s * 2**doublings))


@dataclass
class AccountResult:
    """What one account's cycle did."""

    tenant_id: str
    account_id: str
    status: str
    published: dict[str, int] = field(default_factory=dict)
    message: str = ""

    def line(self) -> str:
        """One line for the console."""
        counts = ", ".join(f"{k} {v}" for k, v in self.published.items())
        text = f"{self.tenant_id}/{self.account_id}: {self.status}"
        if counts:
            text += f" ({counts})"
        return text + (f": {self.message}" if self.message else "")


class CollectorService:
    """Drives every tenant's accounts through the collectors."""

    def __init__(
        self,
        settings: Settings,
        store: sessionmaker[Session],
        producer: Any,
        registry: CollectorRegistry,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        collectors: list[str] | None = None,
        assignment: AccountAssignment | None = None,
    ) -> None:
        self.settings = settings
        self.assignment = assignment
        self.producer = producer
        self.metrics = IngestMetrics(registry)
        try:
            policy = get_policy(settings.ingest.policy)
        except ValueError as exc:
            raise ConfigError(f"SPENDSENSE_INGEST__POLICY: {exc}") from None
        sessions = TenantSessions(
            AwsFactory(settings.aws),
            duration_s=settings.ingest.assume_duration_s,
            clock=clock,
            on_call=lambda a, service, op: self.metrics.aws_call(a.tenant_id, service, op),
        )
        self.ctx = IngestDeps(
            settings=settings.ingest,
            sessions=sessions,
            store=store,
            metrics=self.metrics,
            policy=policy,
            clock=clock,
            cost_changes=cost_changes(settings.var_dir),
        )
        self.collectors: list[Collector] = ordered(self.ctx, collectors)
        self._needs_recovery = True
        self._recovered_in: int | None = None  # the assignment generation last read back in

    @property
    def stop(self) -> threading.Event:
        return self.ctx.stop

    def shutdown(self) -> None:
        """Stop after the batch in flight (safe from a signal handler)."""
        self.stop.set()
        if self.assignment is not None:
            self.assignment.interrupt()

    def accounts(self) -> list[tuple[AccountRef, list[str]]]:
        """Every connected account with the regions to collect, but those backing off."""
        out = []
        now = self.ctx.clock()
        with self.ctx.store() as session:
            for tenant in list_tenants(session):
                rows = session.scalars(
                    select(AwsAccount)
                    .where(
                        AwsAccount.tenant_id == tenant.id,
                        or_(
                            AwsAccount.next_attempt_at.is_(None), AwsAccount.next_attempt_at <= now
                        ),
                    )
                    .order_by(AwsAccount.id)
                )
                for row in rows:
                    regions = list(row.regions or self.settings.ingest.regions)
                    out.append((AccountRef.of(row), regions))
        return out

    def recover(self) -> int:
        """Re-read what was published since the oldest checkpoint (see :mod:`ingest.recovery`)."""
        with self.ctx.store() as session:
            since = oldest_checkpoint(session)
        self._needs_recovery = False
        if since is None:
            return 0
        return read_back(self.settings.kafka, since, self.ctx.recovered)

    def run_cycle(self, only: frozenset[str] | None = None) -> list[AccountResult]:
        """Collect every account of this process once (bounded concurrency), or those of
        ``only`` (account keys); returns one result per account."""
        started = time.monotonic()
        assignment = self.assignment
        generation = assignment.generation if assignment is not None else 0
        if self._needs_recovery or generation != self._recovered_in:
            # another process may have published for accounts this one has just been given
            self.recover()
            self._recovered_in = generation
        accounts = [a for a in self.accounts() if self._wanted(a[0], only, generation)]
        if not accounts:
            return []
        workers = min(self.settings.ingest.concurrency, len(accounts))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool:
            results = list(pool.map(lambda a: self._collect_held(a[0], a[1], generation), accounts))
        log.info(
            "cycle: %d accounts in %.1f s (%s)",
            len(results),
            time.monotonic() - started,
            "all" if only is None else "connected",
        )
        return results

    def _wanted(self, account: AccountRef, only: frozenset[str] | None, generation: int) -> bool:
        key = account_key(account.tenant_id, account.account_id)
        if only is not None and key not in only:
            return False
        return self.assignment is None or self.assignment.owns(key, generation)

    def _collect_held(
        self, account: AccountRef, regions: list[str], generation: int
    ) -> AccountResult:
        """The account's cycle if it is still this process's (a revoke waits for it)."""
        if self.assignment is None:
            return self.collect_account(account, regions)
        with self.assignment.hold(
            account_key(account.tenant_id, account.account_id), generation
        ) as held:
            if held:
                return self.collect_account(account, regions)
        return AccountResult(
            account.tenant_id, account.account_id, "moved", message="to another collector"
        )

    def collect_account(self, account: AccountRef, regions: list[str]) -> AccountResult:
        """One account's cycle; never raises for a problem that belongs to the account."""
        result = AccountResult(account.tenant_id, account.account_id, "ok")

        def confirmed(topic: str, count: int) -> None:
            self.metrics.records.labels(tenant=account.tenant_id, topic=topic).inc(count)
            result.published[topic] = result.published.get(topic, 0) + count

        job = AccountJob(
            account=account,
            regions=regions,
            now=self.ctx.clock(),
            publisher=Publisher(self.producer, self.settings.kafka, on_confirmed=confirmed),
        )
        started = time.monotonic()
        assumed = False
        try:
            with aws_faults(None, "AssumeRole"):
                self.ctx.sessions.credentials(account)
            assumed = True
            for collector in self.collectors:
                if self.stop.is_set():
                    break
                collector.collect(job)
        except (TenantAccessError, AwsFault) as err:
            job.errors.insert(0, (None, err.code, err.message))
        except DeliveryFailed as err:
            # Some records may be on the topic without their cursors: read them back first.
            self._needs_recovery = True
            return self._failed(result, "delivery", str(err))
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", "ClientError"))
            self._failed(result, code, f"AWS error, retried next cycle: {err}")
        except BotoCoreError as err:
            self._failed(result, type(err).__name__, f"AWS unreachable: {err}")
        finally:
            self.metrics.cycle_seconds.observe(time.monotonic() - started)
        try:
            # what a collector sent without flushing it (the inventory in a cycle with no
            # metrics due, or before an AWS error) is confirmed too, or the cycle is not ok
            job.publisher.flush()
        except DeliveryFailed as err:
            self._needs_recovery = True
            return self._failed(result, "delivery", str(err))
        # Every record sent in this cycle was flushed and its cursor committed.
        with self.ctx.store.begin() as session:
            touch_checkpoint(session, account.tenant_id, account.account_id)
        if result.status != "retry":
            self._record_status(job, result, assumed=assumed)
        return result

    def _failed(self, result: AccountResult, kind: str, message: str) -> AccountResult:
        log.warning("%s/%s: %s", result.tenant_id, result.account_id, message)
        self.metrics.errors.labels(tenant=result.tenant_id, kind=kind).inc()
        result.status, result.message = "retry", message
        return result

    def _record_status(self, job: AccountJob, result: AccountResult, *, assumed: bool) -> None:
        acct = job.account
        status, code, message = "ok", None, None
        if job.errors:
            region, code, message = job.errors[0]
            status = "error"
            if region and len(job.errors) == 1:
                message = f"{message} (other regions are collected)"
            elif len(job.errors) > 1:
                also = ", ".join(f"{c} in {r}" if r else c for r, c, _ in job.errors[1:])
                message = f"{message} (also: {also})"
            for _, kind, _ in job.errors:
                self.metrics.errors.labels(tenant=acct.tenant_id, kind=kind).inc()
            log.warning("%s/%s: %s", acct.tenant_id, acct.account_id, message)
        result.status, result.message = status, message or ""
        with self.ctx.store.begin() as session:
            row = set_account_status(
                session, acct.tenant_id, acct.account_id, status, code=code, message=message
            )
            # A role that cannot be assumed backs off; anything else is retried next cycle.
            row.failures = 0 if assumed else row.failures + 1
            row.next_attempt_at = (
                None
                if assumed
                else self.ctx.clock() + retry_delay(self.settings.ingest, row.failures)
            )
            oldest = session.scalar(
                select(func.min(MetricCursor.cursor_at)).where(
                    MetricCursor.tenant_id == acct.tenant_id,
                    MetricCursor.state == "running",
                )
            )
        self.metrics.set_status(acct.tenant_id, acct.account_id, status)
        if oldest is not None:
            self.metrics.lag.labels(tenant=acct.tenant_id).set((job.now - oldest).total_seconds())

    def run_forever(self, on_cycle: Callable[[list[AccountResult]], None] | None = None) -> None:
        """Cycle every ``cycle_s`` seconds until :attr:`stop` is set; in a group, also at once
        after a rebalance (every account of the new share) and for an account just
        connected (that account only)."""
        cycle_s = self.settings.ingest.cycle_s
        # in a group, the first cycle waits for the first share of the accounts
        due = time.monotonic() + (cycle_s if self.assignment is not None else 0.0)
        while not self.stop.is_set():
            left = max(0.0, due - time.monotonic())
            if self.assignment is None:
                self.stop.wait(left)
                only = None
            else:
                wake = self.assignment.wait(left)
                self.assignment.check()
                only = None if wake.everything or not wake.keys else wake.keys
            if self.stop.is_set():
                break
            if only is None:
                due = time.monotonic() + cycle_s
            results = self.run_cycle(only)
            if on_cycle is not None:
                on_cycle(results)
