"""The resource kinds beyond instances, registered by name as collectors and actions are.

A kind is one small class (:class:`ResourceKindPlugin`) in its own module under
``spendsense/resources/kinds/``. It declares what the customer role must allow for it
(``permissions`` to read, and each :class:`SafeAction`'s own permissions and the resources
they act on), how to list it (``describe``: one region's resources as :class:`Facts`), the
CloudWatch metrics that tell whether it is used (``metrics``: none for a kind judged by its
state alone), what it costs a month (``monthly_price``) and its waste rule (``judge``: a pure
function of the facts, the activity history, the time and the :class:`WasteRules`).

>>> sorted(load_kinds())
['ebs-snapshot', 'ebs-volume', 'elastic-ip', 'load-balancer', 'nat-gateway', 'rds-instance']
>>> "ec2:DescribeVolumes" in load_kinds().permissions()
True
>>> [a.name for a in load_kinds()["elastic-ip"].actions]
['release']
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from spendsense.registry import Registry
from spendsense.resources.activity import History, RestAllowance
from spendsense.resources.prices import PriceBook

ClientFactory = Callable[[str], Any]
"""A boto3 client for a service name, in the region being described (``ec2``, ``elbv2``, ...)."""

KIND_MODULES = (
    "spendsense.resources.kinds.ebs_volume",
    "spendsense.resources.kinds.elastic_ip",
    "spendsense.resources.kinds.nat_gateway",
    "spendsense.resources.kinds.load_balancer",
    "spendsense.resources.kinds.rds_instance",
    "spendsense.resources.kinds.ebs_snapshot",
)
"""Modules that register resource kinds; importing them fills :data:`kinds`."""

HOURS_PER_MONTH = 730.0


class WasteRules(BaseModel):
    """The thresholds the waste rules use (defaults as the product ships them).

    >>> WasteRules().volume_grace_h, WasteRules().quiet_factor
    (24.0, 1.5)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    volume_grace_h: float = Field(24.0, ge=0)
    """An ``available`` volume is waste after this long unattached."""
    stopped_instance_days: float = Field(7.0, ge=0)
    """A volume attached to an instance stopped longer than this is waste."""
    address_grace_h: float = Field(1.0, ge=0)
    """An Elastic IP is waste after this long unassociated."""
    snapshot_retention_days: float = Field(30.0, ge=0)
    """An orphaned snapshot (volume and AMIs gone) is waste once older than this."""
    lookback_days: int = Field(63, ge=14, le=63)
    """Daily activity history read per metric kind (CloudWatch keeps 5-minute data 63 days)."""
    quiet_min_days: int = Field(7, ge=1)
    """A metric kind's trailing quiet run must be longer than this ..."""
    quiet_factor: float = Field(1.5, ge=1.0)
    """... and longer than this times its longest quiet gap between active days."""
    min_history_days: int = Field(14, ge=1)
    """With less history than this, a quiet resource is only provisional."""
    rest_levels: bool = True
    """Judge each metric against the rest level learnt from the resource's own history
    (its :class:`~spendsense.resources.activity.RestAllowance`); off, any non-zero day is
    use (Trusted Advisor's clean floor: idle resources that hum are never found)."""
    unknown_cadence_days: int = Field(35, ge=1)
    """A history of one short spell of activity (under ``quiet_min_days`` days) tells no
    cadence: a monthly job's first run looks the same. Its quiet run must pass this (a month
    and its slack) before it is waste; until then it is provisional."""


@dataclass(frozen=True)
class Facts:
    """One resource as its region's Describe calls show it (what the rule and the price read).

    ``state_since``: when it entered ``state``, when AWS tells;
    the collector fills it from its own sightings otherwise. ``dimensions``: its CloudWatch
    dimension(s) for the kind's metrics.
    """

    kind: str
    resource_id: str
    region: str
    state: str = ""
    name: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    state_since: datetime | None = None
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Verdict:
    """A rule's answer: ``waste`` (alertable), ``provisional`` (looks wasted, too early to
    say), the reason in words and since when it has been wasted; ``hums``: its quiet is a
    background above zero (an agent's connection, scanners), not silence, so a person, never
    a policy, decides (:data:`HUMS`)."""

    waste: bool = False
    provisional: bool = False
    reason: str = ""
    since: datetime | None = None
    hums: bool = False


OK = Verdict()
HUMS = "quiet_above_rest_level"
"""The detail a finding carries (``True``) when its verdict :attr:`~Verdict.hums`."""


@dataclass(frozen=True)
class Metric:
    """A CloudWatch metric that shows use: a day above its rest level (``rest``, over the
    floor learnt from the resource's own history) is an active day."""

    namespace: str
    name: str
    stat: str = "Sum"
    rest: RestAllowance = field(default_factory=RestAllowance)


@dataclass(frozen=True)
class SafeAction:
    """An action a kind allows (implemented in ``actions/``, found by this name).

    ``resources`` are the ARN types (:data:`spendsense.customer_role.RESOURCE_ARNS`) its
    mutating permissions act on; ``confirm``: only with a typed confirmation, never by policy.
    """

    name: str
    permissions: tuple[str, ...]
    resources: tuple[str, ...]
    confirm: bool = False


class ResourceKindPlugin(ABC):
    """One kind of resource: how to list it, watch it, price it and judge it."""

    name: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]]
    """IAM actions ``describe`` (and the kind's metrics) need: the read-only policy."""
    metrics: ClassVar[tuple[Metric, ...]] = ()
    actions: ClassVar[tuple[SafeAction, ...]] = ()

    @classmethod
    def metrics_of(cls, facts: Facts) -> tuple[Metric, ...]:
        """The metrics that show this resource's use (all the kind's, unless it says)."""
        return cls.metrics

    @staticmethod
    @abstractmethod
    def describe(client: ClientFactory, region: str) -> list[Facts]:
        """Every resource of this kind in ``region``."""

    @staticmethod
    @abstractmethod
    def monthly_price(facts: Facts, prices: PriceBook) -> float | None:
        """What it costs a month where it is (None: the price book lacks it)."""

    @staticmethod
    @abstractmethod
    def judge(facts: Facts, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
        """Its verdict; ``history`` is its daily activity (metric kinds only)."""


kinds: Registry[type[ResourceKindPlugin]] = Registry("resource kind")


def register(name: str) -> Callable[[type[ResourceKindPlugin]], type[ResourceKindPlugin]]:
    """Class decorator: register a kind under ``name`` (and set its ``name``)."""
    add = kinds.register(name)

    def wrap(cls: type[ResourceKindPlugin]) -> type[ResourceKindPlugin]:
        cls.name = name
        return add(cls)

    return wrap


def load_kinds() -> Registry[type[ResourceKindPlugin]]:
    """The registry with every kind module imported."""
    for module in KIND_MODULES:
        importlib.import_module(module)
    return kinds


def action_permissions() -> list[tuple[str, str]]:
    """Every (IAM action, ARN type) the kinds' safe actions declare, sorted.

    >>> ("ec2:ReleaseAddress", "elastic-ip") in action_permissions()
    True
    """
    pairs: set[tuple[str, str]] = set()
    for _, kind in load_kinds().items():
        for action in kind.actions:
            pairs.update((p, r) for p in action.permissions for r in action.resources)
    return sorted(pairs)


def tags_of(described: dict[str, Any], key: str = "Tags") -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` list as a dict.

    >>> tags_of({"Tags": [{"Key": "Name", "Value": "db"}]})
    {'Name': 'db'}
    """
    return {t["Key"]: t.get("Value", "") for t in described.get(key) or []}


def aware(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC (boto3 gives aware datetimes; moto's may be naive).

    >>> aware(datetime(2026, 1, 1)).tzinfo
    datetime.timezone.utc
    """
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def after_grace(what: str, since: datetime | None, grace: timedelta, now: datetime) -> Verdict:
    """The verdict for a resource unused since ``since``: provisional within ``grace``.

    >>> t = datetime(2026, 11, 1, tzinfo=UTC)
    >>> after_grace("unattached", t, timedelta(hours=24), t + timedelta(hours=2)).provisional
    True
    >>> after_grace("unattached", t, timedelta(hours=24), t + timedelta(hours=30)).reason
    'unattached for 1 day'
    """
    start = since or now
    waited = now - start
    if waited <= grace:
        return Verdict(provisional=True, reason=f"{what}, within its grace period", since=start)
    return Verdict(waste=True, reason=f"{what} for {_span(waited)}", since=start)


def _span(delta: timedelta) -> str:
    days = delta.days
    if days >= 1:
        return f"{days} day{'s' if days > 1 else ''}"
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"
