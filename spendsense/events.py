"""The records that travel on the project's topics, as pydantic models (JSON on the wire).

Every producer builds one of these and every consumer parses with :func:`parse_event`
(through its topic's :class:`~spendsense.topics.TopicSpec`, which names the record type
and key of each topic), so a record that fails its schema is caught in one place and goes
to the dead-letter topic with the reason (a :class:`DeadLetter`, made by
:meth:`DeadLetter.of`).

>>> m = MetricRecord(tenant_id="t1", account_id="111111111111", region="us-east-1",
...                  instance_id="i-0abc1234", timestamp="2026-11-01T00:05:00Z",
...                  cpu_percent=1.5, network_in_bytes=100.0, network_out_bytes=50.0)
>>> parse_event(MetricRecord, m.to_bytes()) == m
True
>>> parse_event(MetricPollRecord, b'{"tenant_id": "t1"}')
Traceback (most recent call last):
...
spendsense.errors.PoisonRecord: schema: account_id: Field required

The ``metrics`` topic carries :class:`MetricPollRecord` (version 2: a poll's periods of one
instance); a version 1 record (one :class:`MetricRecord`, no ``version``) still parses, as a
one-period poll:

>>> [poll] = MetricPollRecord.pack([m])
>>> parse_event(MetricPollRecord, poll.to_bytes()).records() == [m]
True
>>> parse_event(MetricPollRecord, m.to_bytes()) == poll
True
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from spendsense.ceilings import CPU_PERCENT, NETWORK_BPS
from spendsense.errors import PoisonRecord

INSTANCE_ID_PATTERN = r"^i-[0-9a-f]{8,17}$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
RAW_KEEP = 10_000  # characters of a record a dead letter keeps


class Event(BaseModel):
    """Base of every record: frozen, strict about unknown fields, JSON bytes on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class InventoryRecord(Event):
    """One EC2 instance as last described (``inventory`` topic, compacted, key: instance id)."""

    tenant_id: str
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    region: str
    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    name: str = ""
    state: str
    instance_type: str
    launch_time: AwareDatetime
    tags: dict[str, str] = {}
    lifecycle: Literal["on-demand", "spot", "scheduled", "capacity-block"] = "on-demand"
    root_device_type: Literal["ebs", "instance-store"] = "ebs"
    asg_name: str | None = None
    platform: str = "linux"
    stop_protection: bool = False
    hourly_price_usd: float | None = None
    observed_at: AwareDatetime


class MetricPeriod(Event):
    """One 5-minute period's values: ``timestamp`` is the period's start; CloudWatch's CPU
    percent average and network bytes summed over the period. ``None``: CloudWatch had no
    point."""

    timestamp: AwareDatetime
    cpu_percent: float | None = Field(default=None, ge=0.0, le=100.0)
    network_in_bytes: float | None = Field(default=None, ge=0.0, le=1e13)
    network_out_bytes: float | None = Field(default=None, ge=0.0, le=1e13)

    @field_validator("cpu_percent", "network_in_bytes", "network_out_bytes")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class MetricRecord(MetricPeriod):
    """One 5-minute period of one instance: what the detector scores, and the version 1 wire
    shape of ``metrics`` (one record per period, no ``version`` field), still accepted."""

    tenant_id: str
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    region: str
    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    period_s: int = 300


MAX_POLL_PERIODS = 72
"""Periods one :class:`MetricPollRecord` carries at most: six hours, the slowest polling
tier's interval; a longer poll (a backfill) is split into several records."""
_INSTANCE_FIELDS = ("tenant_id", "account_id", "region", "instance_id", "period_s")
_PERIOD_FIELDS = ("timestamp", "cpu_percent", "network_in_bytes", "network_out_bytes")


class MetricPollRecord(Event):
    """The periods one poll returned for one instance (``metrics`` topic, version 2, key:
    instance id), oldest first, each period once: Kafka's per-message cost is paid once per
    poll, not once per period. A version 1 record (one :class:`MetricRecord`) parses as a
    one-period poll, so consumers read both shapes."""

    version: Literal[2] = 2
    tenant_id: str
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    region: str
    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    period_s: int = 300
    periods: list[MetricPeriod] = Field(min_length=1, max_length=MAX_POLL_PERIODS)

    @model_validator(mode="before")
    @classmethod
    def _from_version_1(cls, data: Any) -> Any:
        if isinstance(data, dict) and "version" not in data and "periods" not in data:
            one = {k: data[k] for k in _PERIOD_FIELDS if k in data}
            rest = {k: v for k, v in data.items() if k not in _PERIOD_FIELDS}
            return {**rest, "version": 2, "periods": [one]}
        return data

    @field_validator("periods")
    @classmethod
    def _in_time_order(cls, periods: list[MetricPeriod]) -> list[MetricPeriod]:
        if any(a.timestamp >= b.timestamp for a, b in itertools.pairwise(periods)):
            raise ValueError("must be oldest first, each period once")
        return periods

    def records(self) -> list[MetricRecord]:
        """One :class:`MetricRecord` per period, oldest first."""
        head = {k: getattr(self, k) for k in _INSTANCE_FIELDS}
        return [
            MetricRecord.model_construct(**head, **{k: getattr(p, k) for k in _PERIOD_FIELDS})
            for p in self.periods
        ]

    @classmethod
    def pack(cls, records: Sequence[MetricRecord]) -> list[MetricPollRecord]:
        """One instance's periods (oldest first) as records of at most
        :data:`MAX_POLL_PERIODS` periods each."""
        if not records:
            return []
        head = {k: getattr(records[0], k) for k in _INSTANCE_FIELDS}
        periods = [MetricPeriod(**{k: getattr(r, k) for k in _PERIOD_FIELDS}) for r in records]
        return [
            cls(**head, periods=periods[i : i + MAX_POLL_PERIODS])
            for i in range(0, len(periods), MAX_POLL_PERIODS)
        ]


class DetectionRecord(Event):
    """The detector's verdict on one instance at one period (``detections``, key: instance id).

    ``idle`` is alertable: enough history and a period at the live edge. ``provisional`` is a
    verdict that looks idle but may not alert (too little history, or a backfilled period).
    ``score`` is the anomaly model's novelty, not idleness. ``rest_cpu_percent`` and
    ``rest_network_bps`` are the instance's learned rest limits (a point under both rests).
    """

    tenant_id: str
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    region: str
    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    timestamp: AwareDatetime
    score: float = Field(ge=0.0, le=1.0)
    idle: bool
    idle_since: AwareDatetime | None = None
    confidence: float = Field(0.0, ge=0.0, le=1.0)
    reason: str = ""
    monthly_waste_usd: float = 0.0
    instance_type: str = ""
    name: str = ""
    provisional: bool = False
    rest_cpu_percent: float | None = None
    rest_network_bps: float | None = None

    @property
    def status(self) -> Literal["idle", "provisional", "active"]:
        """What the dashboard shows: ``idle``, ``provisional`` or ``active``."""
        return "idle" if self.idle else "provisional" if self.provisional else "active"


AnomalyMetric = Literal["cpu_percent", "network_in_bytes", "network_out_bytes"]


class AnomalyRecord(Event):
    """One usage anomaly incident of one instance's metric (``anomalies``, key: instance id).

    An incident gives one record when it opens (``status="open"``) and one when it ends
    (``status="closed"``, ``ended_at`` set), never one per point; both carry the same
    ``incident_id`` (deterministic: instance, metric and ``since``), so consumers are idempotent.
    ``expected_low``..``expected_high`` is the range the model had learned; ``observed`` is the
    value that opened (or, when closed, the most extreme value of) the incident.
    ``dollars_per_hour`` is the cost of the change where there is one (egress at the region's
    per-GB price, CPU credits of an unlimited burstable instance); otherwise ``None`` and
    ``cost_basis`` says why (for example "no direct cost: a possible compromise").
    """

    tenant_id: str
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    region: str
    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    incident_id: str
    metric: AnomalyMetric
    status: Literal["open", "closed"]
    direction: Literal["up", "down"]
    since: AwareDatetime
    timestamp: AwareDatetime
    """The period that opened, or closed, the incident."""
    ended_at: AwareDatetime | None = None
    observed: float
    expected_low: float
    expected_high: float
    score: float = Field(ge=0.0, le=1.0)
    dollars_per_hour: float | None = Field(default=None, ge=0.0)
    cost_basis: str = ""
    instance_type: str = ""
    name: str = ""


class ActionRecord(Event):
    """Something SpendSense did or decided (``actions``, key: tenant id); mirrors the audit log.

    The savings ledger reads the optional fields (absent in older records, which still
    parse): ``resource_kind`` and ``resource_id`` name a resource other than an instance (a
    waste kind; None: the instance ``instance_id``), ``decision_key`` and ``audit_id`` make a
    replayed action count once, and ``hourly_price_usd`` is the resource's price when it was
    acted on (None: the projector takes the resource's last known price). A ``stop`` with
    result ``stopped``, or any action with result ``deleted`` or ``released``, opens a
    saving; a ``start`` with result ``started`` ends it (a waste action's ``action`` may
    carry its kind: ``rds-instance:stop``).
    """

    tenant_id: str
    account_id: str | None = None
    instance_id: str | None = None
    action: str
    actor: str
    reason: str = ""
    result: str
    dry_run: bool = False
    at: datetime
    resource_kind: str | None = None
    resource_id: str | None = None
    decision_key: str | None = None
    audit_id: int | None = None
    hourly_price_usd: float | None = Field(default=None, ge=0.0)


class FeedbackRecord(Event):
    """A person's word on an instance (``feedback``, key: instance id): it is not idle."""

    tenant_id: str
    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN)
    verdict: Literal["not-idle", "anomaly-expected"] = "not-idle"
    incident_id: str | None = None
    """For ``anomaly-expected``: the :class:`AnomalyRecord` incident the person called expected."""
    metric: AnomalyMetric | None = None
    """For ``anomaly-expected``: the metric whose new level the model is to learn as normal."""
    actor: str
    at: AwareDatetime


class TenantSettingsRecord(Event):
    """A tenant's detection settings as last saved (``tenant-settings``, compacted, key: tenant
    id): its ceilings of rest (:mod:`spendsense.ceilings`), ``None`` for SpendSense's default."""

    tenant_id: str
    ceiling_cpu_percent: float | None = Field(None, ge=CPU_PERCENT.low, le=CPU_PERCENT.high)
    ceiling_network_bps: float | None = Field(None, ge=NETWORK_BPS.low, le=NETWORK_BPS.high)
    actor: str
    at: AwareDatetime


class DeadLetter(Event):
    """A record that could not be processed, with why (``deadletter``, key: source topic).

    Build one with :meth:`of`, which keeps the first :data:`RAW_KEEP` characters of the
    record as text:

    >>> letter = DeadLetter.of("metrics", b"x" * 20_000, "json: bad", partition=3, offset=7)
    >>> len(letter.raw), letter.source_topic, letter.partition, letter.offset
    (10000, 'metrics', 3, 7)
    >>> DeadLetter.of("metrics", None, "empty: record has no value").raw
    ''
    """

    source_topic: str
    partition: int | None = None
    offset: int | None = None
    reason: str
    raw: str
    at: AwareDatetime

    @classmethod
    def of(
        cls,
        source_topic: str,
        raw: bytes | str | None,
        reason: str,
        partition: int | None = None,
        offset: int | None = None,
        at: datetime | None = None,
    ) -> DeadLetter:
        """The dead letter of ``raw`` (its value as received; ``None``: none) read from
        ``source_topic`` (the broker-side name) at ``partition``/``offset``, now or ``at``."""
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw or ""
        return cls(
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            reason=reason,
            raw=text[:RAW_KEEP],
            at=at or datetime.now(UTC),
        )


E = TypeVar("E", bound=Event)


def parse_event(model: type[E], raw: bytes | str | None) -> E:
    """Parse one record or raise :class:`PoisonRecord` with a short reason."""
    if raw is None:
        raise PoisonRecord("empty: record has no value")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonRecord(f"json: {exc}") from None
    if not isinstance(data, dict):
        raise PoisonRecord("schema: record is not a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "record"
        raise PoisonRecord(f"schema: {where}: {err['msg']}") from None


class AccountRecord(Event):
    """A customer account connected or disconnected (``accounts``, compacted, key: ``key``,
    ``<tenant>/<account>``, filled in when not given): the collector owning the key's
    partition starts on a connected one at once.

    >>> AccountRecord(tenant_id="acme", account_id="111111111111", connected=True,
    ...               at="2026-11-01T00:00:00Z").key
    'acme/111111111111'
    """

    tenant_id: str
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    key: str = ""
    connected: bool
    at: AwareDatetime

    @model_validator(mode="after")
    def _keyed(self) -> AccountRecord:
        want = account_key(self.tenant_id, self.account_id)
        if not self.key:
            object.__setattr__(self, "key", want)
        elif self.key != want:
            raise ValueError(f"key must be {want!r}, the tenant and account ids")
        return self


ResourceKind = Literal[
    "ebs-volume", "elastic-ip", "nat-gateway", "load-balancer", "rds-instance", "ebs-snapshot"
]
"""The resource kinds beyond instances (each a plugin of ``waste.registry``)."""
RESOURCE_KINDS: tuple[str, ...] = get_args(ResourceKind)


class WasteRecord(Event):
    """One resource other than an instance, as last seen, with SpendSense's verdict on it
    (``waste``, compacted, key: ``key``, ``<tenant>/<kind>/<resource id>``, filled in when
    not given). ``waste`` is alertable; ``provisional`` looks wasted but is still in its
    grace period or behind a half-seen history (never alerted); ``gone`` says the resource
    no longer exists (deleted by SpendSense or anyone): the last record of its key.

    >>> WasteRecord(tenant_id="acme", account_id="111111111111", region="us-east-1",
    ...             kind="elastic-ip", resource_id="eipalloc-0abc", waste=True,
    ...             monthly_price_usd=3.6, observed_at="2026-11-01T00:00:00Z").key
    'acme/elastic-ip/eipalloc-0abc'
    """

    tenant_id: str
    account_id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    region: str
    kind: ResourceKind
    resource_id: str = Field(min_length=1, max_length=256)
    key: str = ""
    name: str = ""
    state: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    """Kind-specific facts the rule and the page use (size_gb, volume_type, attached_to,
    instance_state, public_ip, engine, ...)."""
    monthly_price_usd: float | None = None
    """What the resource costs a month at its region's price (None: no price known)."""
    waste: bool = False
    provisional: bool = False
    reason: str = ""
    since: AwareDatetime | None = None
    """When it became wasted (detached, unassociated, stopped, last active)."""
    gone: bool = False
    observed_at: AwareDatetime

    @model_validator(mode="after")
    def _keyed(self) -> WasteRecord:
        want = waste_key(self.tenant_id, self.kind, self.resource_id)
        if not self.key:
            object.__setattr__(self, "key", want)
        elif self.key != want:
            raise ValueError(f"key must be {want!r}, the tenant, kind and resource ids")
        return self

    @property
    def monthly_waste_usd(self) -> float:
        """What leaving it costs a month: its price when it is waste, else 0."""
        return (self.monthly_price_usd or 0.0) if self.waste else 0.0


def waste_key(tenant_id: str, kind: str, resource_id: str) -> str:
    """One resource's key, unique across tenants (``<tenant>/<kind>/<resource id>``)."""
    return f"{tenant_id}/{kind}/{resource_id}"


def account_key(tenant_id: str, account_id: str) -> str:
    """One account's key, unique across tenants (``<tenant>/<account>``)."""
    return f"{tenant_id}/{account_id}"
