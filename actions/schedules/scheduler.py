"""The scheduler: every tick, each scheduled instance is stopped outside its schedule's
periods and started inside them, through the stop executor's rails and audit.

For each instance on an enabled schedule (:func:`~actions.schedules.targets.scheduled_instances`)
a tick works out the side it should be on (``start`` inside a period, ``stop`` outside) and
the transition that began the current stretch (``boundary``). It acts once per stretch:

- the decision key is ``schedule/<tenant>/<instance>/<action>/<boundary>`` (``/dry-run``
  appended for a dry-run schedule), so a worker restarted mid-tick, or two workers, never
  act twice on one boundary (the executor returns ``replayed``);
- :class:`~spendsense.store.models.schedules.ScheduleState` remembers what was done for
  which stretch; a stretch already acted on is left alone, so a person who stops an
  instance in its on period, or starts it in its off period, is not overruled until the
  next transition. A manual start after our stop in the same off period is noticed (the
  instance is running again) and recorded as ``override_until`` (the next period's start),
  which the dashboard shows; the check describes the instance through the tenant's role at
  most once per :data:`MANUAL_START_CHECK` (not every tick: a customer with hundreds of
  scheduled instances would otherwise spend EC2's API rate on it all night);
- a schedule edited mid-period applies from the next tick: if the instance is already on
  the side the new definition wants and we acted within the new definition's current
  stretch, nothing happens; otherwise the scheduler acts at once (a period shortened so
  that now is outside it stops the instance at the next tick; one that now began earlier
  than our start does nothing). A dry-run flag changed mid-stretch acts again for real;
- a failure (AWS refused, the role is broken) is retried every tick under the same key;
  a refusal by a rail (protect tag, Auto Scaling member, spot, instance store, stop
  protection) is final for the stretch. Failures reach the digest
  (:func:`schedule_failures`).

Actor in the audit: ``schedule:<name>``. Time comes from ``clock`` (the worker's wall
clock; the tests give the sandbox's advanced clock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from actions.schedules.periods import (
    PeriodError,
    WeeklySchedule,
    in_period,
    last_transition,
    next_transition,
)
from actions.schedules.targets import Scheduled, scheduled_instances
from actions.stopping import StopExecutor, StopOutcome
from spendsense.errors import NotFound, TenantAccessError
from spendsense.store.models.schedules import ScheduleState

log = logging.getLogger(__name__)

ACTOR_PREFIX = "schedule:"
TICK_S = 60.0
"""How often the actions worker's scheduler timer runs (seconds)."""
MANUAL_START_CHECK = timedelta(minutes=10)
"""How often an instance we stopped is described to notice a manual start (at most)."""


def decision_key(item: Scheduled, action: str, boundary: datetime) -> str:
    """The one key of ``action`` on the instance for the stretch beginning at ``boundary``."""
    key = f"schedule/{item.tenant_id}/{item.instance_id}/{action}/{boundary:%Y-%m-%dT%H:%M:%SZ}"
    return f"{key}/dry-run" if item.schedule.dry_run else key


def acted(state: ScheduleState | None, item: Scheduled, action: str, boundary: datetime) -> bool:
    """Whether ``state`` shows ``action`` already taken (for real, or as a dry run if the
    schedule is one) within the stretch that began at ``boundary``."""
    return (
        state is not None
        and state.action == action
        and state.acted_at >= boundary
        and state.result != "failed"
        and (state.result == "dry-run") == item.schedule.dry_run
    )


class Scheduler:
    """Applies every schedule to its instances, once per stretch between transitions."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        executor: StopExecutor,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.executor = executor
        self.clock = clock
        self._checked: dict[tuple[str, str], datetime] = {}

    def tick(self) -> list[StopOutcome]:
        """One pass over every scheduled instance; returns the executor's outcomes."""
        now = self.clock()
        try:
            with self.sessions() as session:
                items = scheduled_instances(session)
        except OperationalError as exc:
            log.warning("store unavailable for the scheduler: %s", exc.__class__.__name__)
            return []
        outcomes = []
        for item in items:
            try:
                outcome = self.apply(item, now)
            except (
                ClientError,
                BotoCoreError,
                TenantAccessError,
                NotFound,
                OperationalError,
            ) as exc:
                log.warning(
                    "schedule %s on %s failed this tick: %s",
                    item.schedule.name,
                    item.instance_id,
                    exc,
                )
                continue
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def apply(self, item: Scheduled, now: datetime) -> StopOutcome | None:
        """Act on one instance if its current stretch has not been acted on yet."""
        try:
            definition = item.definition
        except PeriodError as exc:
            log.warning(
                "schedule %s of %s is unusable: %s", item.schedule.name, item.tenant_id, exc
            )
            return None
        action = "start" if in_period(definition, now) else "stop"
        began = last_transition(definition, now)
        boundary = began.at if began is not None else item.schedule.updated_at
        with self.sessions() as session:
            state = session.get(ScheduleState, (item.tenant_id, item.instance_id))
        if acted(state, item, action, boundary):
            assert state is not None
            if state.result == "stopped" and state.override_until is None and self._due(item, now):
                self._notice_manual_start(item, definition, now)
            return None
        reason = f"schedule {item.schedule.name}: " + (
            "inside its periods" if action == "start" else "outside its periods"
        )
        actor = f"{ACTOR_PREFIX}{item.schedule.name}"
        key = decision_key(item, action, boundary)
        if action == "stop":
            outcome = self.executor.stop(
                item.tenant_id,
                item.instance_id,
                actor,
                reason,
                key,
                item.schedule.dry_run,
                account_id=item.account_id,
                region=item.region,
            )
        else:
            outcome = self.executor.start(
                item.tenant_id,
                item.instance_id,
                actor,
                reason,
                key,
                dry_run=item.schedule.dry_run,
                account_id=item.account_id,
                region=item.region,
            )
        result = outcome.previous if outcome.result == "replayed" else outcome.result
        self._remember(item, action, boundary, now, result or "failed", outcome.message)
        return outcome

    def _due(self, item: Scheduled, now: datetime) -> bool:
        """Whether the manual-start check of ``item`` is due (and count it as done now)."""
        key = (item.tenant_id, item.instance_id)
        last = self._checked.get(key)
        if last is not None and now - last < MANUAL_START_CHECK:
            return False
        self._checked[key] = now
        return True

    def _remember(
        self,
        item: Scheduled,
        action: str,
        boundary: datetime,
        now: datetime,
        result: str,
        message: str,
    ) -> None:
        with self.sessions() as session, session.begin():
            state = session.get(ScheduleState, (item.tenant_id, item.instance_id))
            if state is None:
                state = ScheduleState(tenant_id=item.tenant_id, instance_id=item.instance_id)
                session.add(state)
            state.schedule_name = item.schedule.name
            state.action = action
            state.boundary = boundary
            state.acted_at = now
            state.result = result
            state.message = message[:500]
            state.override_until = None

    def _notice_manual_start(
        self, item: Scheduled, definition: WeeklySchedule, now: datetime
    ) -> None:
        """After our stop in this off stretch: if the instance runs again, a person started
        it; leave it running until the next period begins."""
        facts = self.executor.describe(
            item.tenant_id, item.instance_id, account_id=item.account_id, region=item.region
        )
        if facts.state not in {"running", "pending"}:
            return
        upcoming = next_transition(definition, now)
        with self.sessions() as session, session.begin():
            state = session.get(ScheduleState, (item.tenant_id, item.instance_id))
            assert state is not None
            state.override_until = upcoming.at if upcoming is not None else None
            state.result = "manual-start"
        log.info(
            "%s was started by hand in schedule %s's off period; left running until %s",
            item.instance_id,
            item.schedule.name,
            state.override_until,
        )


def schedule_failures(session: Session, tenant_id: str) -> list[ScheduleState]:
    """The tenant's instances whose last scheduled action failed (for the digest)."""
    return list(
        session.scalars(
            select(ScheduleState).where(
                ScheduleState.tenant_id == tenant_id, ScheduleState.result == "failed"
            )
        )
    )
