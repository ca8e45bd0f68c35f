"""The notifications SpendSense sends to channels, built from what the worker knows.

:func:`idle_note` and :func:`anomaly_note` are the digest's two sections (the same
instances and incidents as the email), :func:`action_note` one action record (a stop, a
start, an action on a wasted resource, a failure), :func:`trial_note` the settings page's
test message. :func:`action_topic` says which subscription an action record is for, if any.

>>> from datetime import UTC, datetime
>>> rec = ActionRecord(tenant_id="acme", instance_id="i-1", action="stop", actor="alice",
...                    result="stopped", at=datetime(2026, 12, 1, tzinfo=UTC))
>>> action_topic(rec), action_topic(rec.model_copy(update={"result": "failed"}))
('actions', 'failures')
>>> action_topic(rec.model_copy(update={"result": "refused"})) is None
True
>>> eip = ActionRecord(tenant_id="acme", action="elastic-ip:release", actor="bob",
...                    result="released", at=datetime(2026, 12, 1, tzinfo=UTC),
...                    resource_kind="elastic-ip", resource_id="eipalloc-0abc")
>>> note = action_note("https://app.example", eip, "actions")
>>> action_topic(eip), note.title, note.items[0].detail
('actions', 'elastic-ip release released: eipalloc-0abc', \
'elastic-ip eipalloc-0abc released by bob at 2026-12-01 00:00 UTC')
"""

from __future__ import annotations

from collections.abc import Sequence

from actions.channels.message import Item, Notification, Topic
from actions.digest import when
from actions.links import detail_url
from actions.waste_digest import waste_url
from spendsense.events import ActionRecord
from spendsense.store.models import AnomalyAlertState, InstanceAlertState

TAKEN = frozenset({"stopped", "started", "dry-run"})
WASTE_TAKEN = frozenset({"deleted", "released", "tagged", "stopped", "dry-run"})
"""What an action on a wasted resource (``<kind>:<verb>``) did, when it did something."""
FAILED = frozenset({"failed", "unknown"})


def plural(n: int, word: str) -> str:
    """``n word`` or ``n words``.

    >>> plural(1, "instance"), plural(2, "instance")
    ('1 instance', '2 instances')
    """
    return f"{n} {word}{'' if n == 1 else 's'}"


def idle_note(base_url: str, tenant_id: str, states: Sequence[InstanceAlertState]) -> Notification:
    """The digest's idle instances: each with its waste, reason and dashboard page."""
    total = sum(s.monthly_waste_usd for s in states)
    items = tuple(
        Item(
            label=s.name or s.instance_id,
            detail=(
                f"{s.instance_id} ({s.instance_type or 'unknown type'}, {s.region or '?'}) idle "
                f"since {when(s.idle_since)}, about ${s.monthly_waste_usd:,.0f}/month: {s.reason}"
            ),
            url=detail_url(base_url, s.instance_id),
        )
        for s in states
    )
    title = f"{plural(len(states), 'idle EC2 instance')}, about ${total:,.0f}/month"
    data = {"instances": [s.instance_id for s in states], "monthly_waste_usd": round(total, 2)}
    return Notification("idle-findings", tenant_id, title, items, base_url, data)


def anomaly_note(
    base_url: str, tenant_id: str, anomalies: Sequence[AnomalyAlertState]
) -> Notification:
    """The digest's usage anomalies: each with its metric, direction and dollar rate."""
    items = tuple(
        Item(
            label=a.name or a.instance_id,
            detail=(
                f"{a.metric} {'up' if a.direction == 'up' else 'down'} since {when(a.since)}"
                + (f", ${a.dollars_per_hour:,.2f}/hour" if a.dollars_per_hour else "")
            ),
            url=detail_url(base_url, a.instance_id),
        )
        for a in anomalies
    )
    title = f"{len(anomalies)} usage anomal{'y' if len(anomalies) == 1 else 'ies'}"
    data = {"incidents": [a.incident_id for a in anomalies]}
    return Notification("anomalies", tenant_id, title, items, base_url, data)


def waste_verb(rec: ActionRecord) -> tuple[str, str] | None:
    """The kind and verb of an action on a wasted resource (``rds-instance:stop``), or
    None for any other action.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 12, 1, tzinfo=UTC)
    >>> waste_verb(ActionRecord(tenant_id="t", action="ebs-volume:snapshot-then-delete",
    ...                         actor="a", result="deleted", at=at))
    ('ebs-volume', 'snapshot-then-delete')
    """
    kind, sep, verb = rec.action.partition(":")
    return (rec.resource_kind or kind, verb) if sep and verb else None


def action_topic(rec: ActionRecord) -> Topic | None:
    """``failures`` for a failed action or email, ``actions`` for a stop or start taken
    or an action on a wasted resource that did something (or their dry runs), else None
    (refusals, replays, feedback go nowhere)."""
    if rec.result in FAILED:
        return "failures"
    if rec.action in {"stop", "start"} and rec.result in TAKEN:
        return "actions"
    if waste_verb(rec) is not None and rec.result in WASTE_TAKEN:
        return "actions"
    return None


def action_note(base_url: str, rec: ActionRecord, topic: Topic) -> Notification:
    """One action record as a notification; an action on a wasted resource names the
    kind, the resource, the result and the actor, and links to the resource's page."""
    waste = waste_verb(rec)
    if waste is not None:
        kind, verb = waste
        resource = rec.resource_id or rec.instance_id or ""
        what = resource or rec.action
        title = f"{kind} {verb} {rec.result}" + (f": {resource}" if resource else "")
        url = waste_url(base_url, kind, resource) if resource else ""
        done = " ".join(p for p in (kind, resource, rec.result, f"by {rec.actor}") if p)
    else:
        what = rec.instance_id or rec.action
        title = f"{rec.action} {rec.result}" + (f": {rec.instance_id}" if rec.instance_id else "")
        url = detail_url(base_url, rec.instance_id) if rec.instance_id else ""
        done = f"by {rec.actor}"
    detail = f"{done} at {when(rec.at)}" + (f": {rec.reason}" if rec.reason else "")
    data = {"record": rec.model_dump(mode="json")}
    return Notification(topic, rec.tenant_id, title, (Item(what, detail, url),), base_url, data)


def trial_note(base_url: str, tenant_id: str, channel_name: str) -> Notification:
    """The message ``POST /api/channels/{id}/test`` sends."""
    item = Item(channel_name, "this channel is set up: SpendSense will post here")
    return Notification("test", tenant_id, "SpendSense test message", (item,), base_url)
