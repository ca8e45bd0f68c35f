"""The in-memory form of a trace fleet: typed, immutable dataclasses over numpy arrays.

A :class:`Trace` is one instance's metrics on the 5-minute grid: ``cpu_percent`` (0-100),
``network_in_bytes`` and ``network_out_bytes`` (bytes per 5-minute period), all
``float64`` arrays of the same length, the first point at ``start``.

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> t = Trace(datetime(2026, 11, 1, tzinfo=timezone.utc), np.array([1.0, 2.0, 3.0]),
...           np.zeros(3), np.zeros(3))
>>> len(t), t.end.isoformat()
(3, '2026-11-01T00:10:00+00:00')
>>> t.index_at(datetime(2026, 11, 1, 0, 5, tzinfo=timezone.utc))
1
>>> t.timestamp_at(2).isoformat()
'2026-11-01T00:10:00+00:00'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

STEP = timedelta(minutes=5)
"""The fixed spacing of every trace (CloudWatch basic monitoring's period)."""
STEP_SECONDS = 300

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FleetInstance:
    """One EC2 instance as ``instances.json`` describes it.

    ``lifecycle`` is ``"on-demand"`` or ``"spot"``; ``root_device_type`` is ``"ebs"`` or
    ``"instance-store"``; ``asg_name`` is the Auto Scaling group it belongs to (also in
    its ``aws:autoscaling:groupName`` tag) or ``None``; ``kind`` names the workload that
    produced its trace (see :mod:`sandbox.fleet.workloads`); ``state`` is the EC2 state
    at the start of the trace (``"running"``).
    """

    instance_id: str
    account_id: str
    tenant: str
    region: str
    instance_type: str
    launch_time: datetime
    lifecycle: str
    root_device_type: str
    asg_name: str | None
    kind: str
    state: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """One instance's 5-minute metrics, the first point at ``start`` (UTC)."""

    start: datetime
    cpu_percent: FloatArray
    network_in_bytes: FloatArray
    network_out_bytes: FloatArray

    def __len__(self) -> int:
        return int(self.cpu_percent.shape[0])

    @property
    def end(self) -> datetime:
        """The timestamp of the last point."""
        return self.start + STEP * (len(self) - 1)

    def index_at(self, when: datetime) -> int:
        """The index of the point at or just before ``when`` (may be out of range)."""
        return int((when - self.start) // STEP)

    def timestamp_at(self, index: int) -> datetime:
        """The timestamp of point ``index``."""
        return self.start + STEP * index


@dataclass(frozen=True)
class AnomalyWindow:
    """A labelled usage anomaly of one instance: its points ``start`` to before ``end``.

    ``kind`` names what happened (:data:`sandbox.fleet.anomalies.ANOMALY_KINDS`); ``metric``
    the metric that shows it first; ``added_cpu`` and ``added_out_bytes`` what it added, on
    average per point, to CPU (percentage points) and to network out (bytes per 5 minutes):
    what pricing it needs.
    """

    kind: str
    metric: str
    start: datetime
    end: datetime
    added_cpu: float = 0.0
    added_out_bytes: float = 0.0

    @property
    def hours(self) -> float:
        """How long it lasts."""
        return (self.end - self.start) / timedelta(hours=1)


@dataclass(frozen=True)
class Fleet:
    """A whole trace fleet: instances (in file order), their traces and the ground truth.

    ``labels[instance_id]`` is the time from which the instance is idle for the rest of
    the horizon, or ``None`` when it is never idle in the horizon. ``anomalies`` are the
    labelled usage anomalies per instance (an instance without any is absent). ``resources``
    are the other resources (volumes, addresses, NAT gateways, load balancers, databases,
    snapshots; none in a fleet without ``resources.json``), ``series`` the metrics of those
    that have them. ``start`` and ``end`` are the earliest and latest timestamps over all
    instance traces.
    """

    path: Path | None
    instances: dict[str, FleetInstance]
    traces: dict[str, Trace]
    labels: dict[str, datetime | None]
    anomalies: dict[str, tuple[AnomalyWindow, ...]] = field(default_factory=dict)
    resources: dict[str, FleetResource] = field(default_factory=dict)
    series: dict[str, ResourceSeries] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        """The earliest timestamp of any trace."""
        return min(t.start for t in self.traces.values())

    @property
    def end(self) -> datetime:
        """The latest timestamp of any trace."""
        return max(t.end for t in self.traces.values())


@dataclass(frozen=True)
class ResourceLabel:
    """The ground truth about one resource: ``waste`` at the end of the horizon, why, since
    when the rules call it waste (``since``: the state change plus its grace period, or the
    start of the quiet its history does not explain; ``None`` when it never is), and what it
    costs a month (``monthly_usd``, at its region's price: the dollars a finding on it is
    worth)."""

    waste: bool
    reason: str
    monthly_usd: float
    since: datetime | None = None

    def waste_at(self, when: datetime) -> bool:
        """Whether the rules call the resource waste at ``when``."""
        return self.since is not None and self.since <= when


@dataclass(frozen=True)
class FleetResource:
    """One resource other than an instance, as ``resources.json`` describes it.

    ``kind`` is one of :data:`spendsense.events.RESOURCE_KINDS`; ``facts`` are the kind's own
    (JSON values: sizes, types, states, attachment, times as UTC ISO 8601 text, engine,
    class, ...; :mod:`sandbox.fleet.resources` lists them per kind).
    """

    kind: str
    resource_id: str
    tenant: str
    account_id: str
    region: str
    name: str
    label: ResourceLabel
    tags: dict[str, str] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)

    def time(self, fact: str) -> datetime | None:
        """A time fact (UTC ISO 8601 text in ``facts``) as an aware datetime, or ``None``."""
        text = self.facts.get(fact)
        return datetime.fromisoformat(text) if isinstance(text, str) else None


@dataclass(frozen=True)
class ResourceSeries:
    """One resource's CloudWatch metrics on the 5-minute grid from ``start``: each column a
    float64 array of the same length (sums per 5 minutes for counts and bytes, the level for
    connections and healthy hosts)."""

    start: datetime
    columns: dict[str, FloatArray]

    def __len__(self) -> int:
        return int(next(iter(self.columns.values())).shape[0])

    @property
    def end(self) -> datetime:
        """The timestamp of the last point."""
        return self.start + STEP * (len(self) - 1)
