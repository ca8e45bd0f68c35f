"""Which fleet resource and metric column a CloudWatch metric names, by namespace and dimension.

NAT gateways answer in ``AWS/NATGateway`` by ``NatGatewayId``; load balancers in
``AWS/ApplicationELB`` or ``AWS/NetworkELB`` (by their type) by ``LoadBalancer``, the ARN's
part after ``loadbalancer/`` (``HealthyHostCount`` also with a ``TargetGroup`` dimension, as
AWS keeps it); a network load balancer's ``ActiveFlowCount`` is its ``RequestCount`` column;
databases in ``AWS/RDS`` by ``DBInstanceIdentifier``, the ARN's part after ``:db:``.

>>> dimension_value("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/0a1b")
'app/web/0a1b'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.fleet import Fleet
from sandbox.fleet.layout import RESOURCE_METRICS
from sandbox.fleet.model import FleetResource

NAMESPACES: dict[str, tuple[str, str]] = {
    "AWS/NATGateway": ("nat-gateway", "NatGatewayId"),
    "AWS/ApplicationELB": ("load-balancer", "LoadBalancer"),
    "AWS/NetworkELB": ("load-balancer", "LoadBalancer"),
    "AWS/RDS": ("rds-instance", "DBInstanceIdentifier"),
}
"""Namespace: the resource kind it holds and the dimension naming a resource."""
UNITS = {
    "BytesOutToDestination": "Bytes",
    "ProcessedBytes": "Bytes",
}
_NETWORK_NAMES = {"ActiveFlowCount": "RequestCount"}


def dimension_value(resource_id: str) -> str:
    """What CloudWatch names a resource by: a load balancer ARN's part after
    ``loadbalancer/``, a DB instance ARN's identifier, else the id itself.

    >>> dimension_value("arn:aws:rds:us-east-1:111111111111:db:app-db")
    'app-db'
    """
    for marker in (":loadbalancer/", ":db:"):
        if marker in resource_id:
            return resource_id.split(marker, 1)[1]
    return resource_id


def namespace_of(resource: FleetResource) -> str:
    """The CloudWatch namespace of a metric kind's resource."""
    if resource.kind == "load-balancer":
        return "AWS/NetworkELB" if resource.facts.get("type") == "network" else "AWS/ApplicationELB"
    return next(ns for ns, (kind, _) in NAMESPACES.items() if kind == resource.kind)


def metric_names(resource: FleetResource) -> dict[str, str]:
    """CloudWatch metric name to the resource's CSV column."""
    columns = RESOURCE_METRICS[resource.kind]
    if namespace_of(resource) == "AWS/NetworkELB":
        back = {column: name for name, column in _NETWORK_NAMES.items()}
        return {back.get(c, c): c for c in columns}
    return {c: c for c in columns}


@dataclass(frozen=True)
class Served:
    """One resource's metric as the sandbox serves it: the resource id and its CSV column."""

    resource_id: str
    column: str


class ResourceDirectory:
    """The fleet's metric-kind resources by namespace, dimension value, account and region
    (a database's identifier is unique only within one account and region)."""

    def __init__(self, fleet: Fleet) -> None:
        self._by_name: dict[tuple[str, str, str, str], FleetResource] = {
            (namespace_of(r), dimension_value(rid), r.account_id, r.region): r
            for rid, r in fleet.resources.items()
            if rid in fleet.series
        }

    def find(self, metric: dict[str, Any], account: str, region: str) -> Served | None:
        """The resource and column ``metric`` names in the caller's account and region, if any."""
        namespace = metric.get("Namespace", "")
        if namespace not in NAMESPACES:
            return None
        dimension = NAMESPACES[namespace][1]
        dims = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions") or []}
        if dimension not in dims or set(dims) - {dimension, "TargetGroup"}:
            return None
        resource = self._by_name.get((namespace, str(dims[dimension]), account, region))
        if resource is None:
            return None
        column = metric_names(resource).get(str(metric.get("MetricName")))
        if column is None or ("TargetGroup" in dims and column != "HealthyHostCount"):
            return None
        return Served(resource.resource_id, column)

    def list(self, namespace: str, account: str, region: str) -> list[dict[str, Any]]:
        """ListMetrics' entries for ``namespace`` in the caller's account and region."""
        dimension = NAMESPACES[namespace][1]
        return [
            {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": dimension, "Value": value}],
            }
            for (ns, value, acc, reg), r in self._by_name.items()
            if (ns, acc, reg) == (namespace, account, region)
            for name in metric_names(r)
        ]
