"""CloudWatch reads served from the trace fleet: GetMetricData and GetMetricStatistics.

Queries for ``AWS/EC2`` ``CPUUtilization``, ``NetworkIn`` and ``NetworkOut`` by
``InstanceId`` (of the caller's own account and region, as on AWS; ListMetrics too), and
for the fleet's NAT gateways, load balancers and databases by their dimensions
(:mod:`sandbox.resource_metrics`), are answered from :class:`~sandbox.timeline.Timeline` (moto's own
CloudWatch scans a list per query and cannot hold millions of points). Each 5-minute
trace point is one sample; a longer ``Period`` (a multiple of 300 s) aggregates samples
into buckets counted from the query's start time. AWS's limits hold: at most 500 queries and
100,800 datapoints per call (more datapoints continue through ``NextToken``), 1,440
datapoints per GetMetricStatistics call.

>>> import numpy as np
>>> ts, vals = aggregate(np.array([0, 300, 600, 900]), np.array([1.0, 3.0, 5.0, 7.0]),
...                      600, "Average")
>>> ts.tolist(), vals.tolist()
([0, 600], [2.0, 6.0])
>>> aggregate(np.array([0, 300]), np.array([1.0, 3.0]), 600, "SampleCount")[1].tolist()
[2.0]
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sandbox.resource_metrics import NAMESPACES, UNITS, Served
from sandbox.timeline import STEP_S, FloatArray, IntArray, Timeline
from sandbox.wire import ApiError
from spendsense.ec2_metrics import BY_NAME, CLOUDWATCH_NAMES

NAMESPACE = "AWS/EC2"
FLEET_NAMESPACES = frozenset({NAMESPACE, *NAMESPACES})
"""The namespaces served from the fleet: instances' and the other resources' metrics."""
MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800
MAX_STATISTICS_POINTS = 1440
LIST_PAGE = 500
_REDUCERS: dict[str, Callable[[FloatArray, IntArray, IntArray], FloatArray]] = {
    "Average": lambda v, first, counts: np.add.reduceat(v, first) / counts,
    "Maximum": lambda v, first, counts: np.maximum.reduceat(v, first),
    "Minimum": lambda v, first, counts: np.minimum.reduceat(v, first),
    "Sum": lambda v, first, counts: np.add.reduceat(v, first),
    "SampleCount": lambda v, first, counts: counts.astype(np.float64),
}


def aggregate(
    ts: IntArray, values: FloatArray, period: int, stat: str, origin: int = 0
) -> tuple[IntArray, FloatArray]:
    """Bucket 5-minute samples into ``period``-second buckets from ``origin``; reduce each with ``stat``."""
    if stat not in _REDUCERS:
        raise ApiError(
            "InvalidParameterValue", f"The statistic {stat} is not supported by the sandbox"
        )
    if ts.size == 0:
        return ts, values
    buckets = origin + (ts - origin) // period * period
    starts, first = np.unique(buckets, return_index=True)
    counts = np.diff(np.append(first, ts.size))
    return starts, _REDUCERS[stat](values, first, counts)


def _period(value: object) -> int:
    period = int(value) if isinstance(value, int | float) else 0
    if period <= 0 or period % 60:
        raise ApiError(
            "InvalidParameterValue", f"The parameter Period must be a multiple of 60; got {value!r}"
        )
    return max(STEP_S, period // STEP_S * STEP_S)


@dataclass(frozen=True)
class MetricScope:
    """What one caller sees: the fleet's instances in its own account and region only."""

    timeline: Timeline
    account: str
    region: str

    def instance(self, metric: dict[str, Any]) -> str | None:
        """The fleet instance a metric names, or ``None`` when the caller has no such metric."""
        if metric.get("Namespace") != NAMESPACE or metric.get("MetricName") not in BY_NAME:
            return None
        dims = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions") or []}
        if set(dims) != {"InstanceId"}:
            return None
        found = self.timeline.fleet.instances.get(str(dims["InstanceId"]))
        if found is None or (found.account_id, found.region) != (self.account, self.region):
            return None
        return found.instance_id

    def resource(self, metric: dict[str, Any]) -> Served | None:
        """The fleet resource and column a metric names, or ``None`` when the caller has none."""
        return self.timeline.directory.find(metric, self.account, self.region)


def is_fleet_query(params: dict[str, Any]) -> bool:
    """Whether a GetMetricData call asks for metrics of a fleet namespace (served from the fleet)."""
    return any(
        (q.get("MetricStat") or {}).get("Metric", {}).get("Namespace") in FLEET_NAMESPACES
        for q in params.get("MetricDataQueries") or []
    )


def _series(
    scope: MetricScope, metric: dict[str, Any], start: float, end: float, period: int, stat: str
) -> tuple[IntArray, FloatArray]:
    timeline = scope.timeline
    iid, served = scope.instance(metric), scope.resource(metric)
    if iid is not None:
        ts, values = timeline.values(iid, metric["MetricName"], timeline.slots(start, end))
    elif served is not None:
        slots = timeline.slots(start, end)
        ts, values = timeline.resource_values(served.resource_id, served.column, slots)
    else:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.astype(np.float64)
    return aggregate(ts, values, period, stat, origin=-(-int(start) // STEP_S) * STEP_S)


def _encode_token(cursor: list[int], start: float, end: float) -> str:
    return base64.urlsafe_b64encode(
        json.dumps({"c": cursor, "s": start, "e": end}).encode()
    ).decode()


def _decode_token(token: str, queries: int) -> list[int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        cursor = [int(x) for x in data["c"]]
    except (ValueError, KeyError, TypeError):
        raise ApiError("InvalidNextToken", "The NextToken is not valid") from None
    if len(cursor) != queries:
        raise ApiError("InvalidNextToken", "The NextToken does not belong to these queries")
    return cursor


def get_metric_data(scope: MetricScope, params: dict[str, Any]) -> dict[str, Any]:
    """Answer a GetMetricData call (awsJson body as botocore sends it)."""
    queries = params.get("MetricDataQueries") or []
    if len(queries) > MAX_QUERIES:
        raise ApiError(
            "ValidationError",
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.",
        )
    if not queries:
        raise ApiError("ValidationError", "MetricDataQueries must not be empty.")
    start, end = float(params["StartTime"]), float(params["EndTime"])
    if end <= start:
        raise ApiError(
            "ValidationError", "The parameter StartTime must be less than the parameter EndTime."
        )
    budget = min(int(params.get("MaxDatapoints") or MAX_DATAPOINTS), MAX_DATAPOINTS)
    descending = params.get("ScanBy", "TimestampDescending") != "TimestampAscending"
    token = params.get("NextToken")
    cursor = _decode_token(token, len(queries)) if token else [0] * len(queries)
    results: list[dict[str, Any]] = []
    more = False
    for n, query in enumerate(queries):
        stat = query.get("MetricStat")
        if not stat:
            raise ApiError(
                "ValidationError", "The sandbox serves MetricStat queries only (no Expression)."
            )
        ts, values = _series(
            scope,
            stat["Metric"],
            start,
            end,
            _period(stat.get("Period")),
            stat.get("Stat", "Average"),
        )
        if descending:
            ts, values = ts[::-1], values[::-1]
        take = max(0, min(ts.size - cursor[n], budget))
        page = slice(cursor[n], cursor[n] + take)
        cursor[n] += take
        budget -= take
        partial = cursor[n] < ts.size
        more = more or partial
        result: dict[str, Any] = {
            "Id": query["Id"],
            "Label": query.get("Label") or stat["Metric"]["MetricName"],
            "Timestamps": ts[page].tolist(),
            "Values": values[page].tolist(),
            "StatusCode": "PartialData" if partial else "Complete",
        }
        if query.get("ReturnData", True):
            results.append(result)
    answer: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if more:
        answer["NextToken"] = _encode_token(cursor, start, end)
    return answer


def get_metric_statistics(scope: MetricScope, params: dict[str, Any]) -> dict[str, Any]:
    """Answer a GetMetricStatistics call (awsJson body as botocore sends it)."""
    period = _period(params.get("Period"))
    start, end = float(params["StartTime"]), float(params["EndTime"])
    requested = (end - start) / period
    if requested > MAX_STATISTICS_POINTS:
        raise ApiError(
            "InvalidParameterCombination",
            f"You have requested up to {int(requested)} datapoints, which exceeds the limit of {MAX_STATISTICS_POINTS}. "
            "You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
        )
    stats = params.get("Statistics") or []
    name = params.get("MetricName", "")
    unit = BY_NAME[name].unit if name in BY_NAME else UNITS.get(name, "Count")
    points: dict[int, dict[str, Any]] = {}
    for stat in stats:
        ts, values = _series(scope, params, start, end, period, stat)
        for t, v in zip(ts.tolist(), values.tolist(), strict=True):
            points.setdefault(t, {"Timestamp": t, "Unit": unit})[stat] = v
    return {"Label": name, "Datapoints": [points[t] for t in sorted(points)]}


def _instance_metrics(
    scope: MetricScope, wanted_name: str | None, wanted_dims: dict[str, str]
) -> list[dict[str, Any]]:
    metrics = []
    for instance in scope.timeline.fleet.instances.values():
        if (instance.account_id, instance.region) != (scope.account, scope.region):
            continue
        if set(wanted_dims) - {"InstanceId"} or wanted_dims.get("InstanceId") not in (
            None,
            instance.instance_id,
        ):
            continue
        for name in CLOUDWATCH_NAMES:
            if wanted_name in (None, name):
                dims = [{"Name": "InstanceId", "Value": instance.instance_id}]
                metrics.append({"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims})
    return metrics


def list_metrics(scope: MetricScope, params: dict[str, Any]) -> dict[str, Any]:
    """Answer ListMetrics: for ``AWS/EC2`` the caller's fleet instances' three metrics, for a
    resource namespace its resources' metrics."""
    wanted_name = params.get("MetricName")
    wanted_dims = {d.get("Name"): d.get("Value") for d in params.get("Dimensions") or []}
    if params.get("Namespace") in NAMESPACES:
        listed = scope.timeline.directory.list(params["Namespace"], scope.account, scope.region)
        metrics = [
            m
            for m in listed
            if wanted_name in (None, m["MetricName"])
            and all({"Name": k, "Value": v} in m["Dimensions"] for k, v in wanted_dims.items())
        ]
    else:
        metrics = _instance_metrics(scope, wanted_name, wanted_dims)
    offset = int(params.get("NextToken") or 0)
    page: dict[str, Any] = {"Metrics": metrics[offset : offset + LIST_PAGE]}
    if offset + LIST_PAGE < len(metrics):
        page["NextToken"] = str(offset + LIST_PAGE)
    return page
