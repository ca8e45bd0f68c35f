"""Application and Network Load Balancers: no requests or bytes for longer than their history
explains, and no healthy targets now (a balancer still fronting healthy targets is left alone).

ALBs are judged by ``RequestCount`` and ``ProcessedBytes`` (``AWS/ApplicationELB``), NLBs by
``ActiveFlowCount`` and ``ProcessedBytes`` (``AWS/NetworkELB``); the CloudWatch dimension
is the part of the ARN after ``loadbalancer/``. Priced per hour; LCUs are not (idle: none).

>>> dimension("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/50dc6c495c0c9188")
'app/web/50dc6c495c0c9188'
>>> nlb = Facts("load-balancer", "arn:x", "us-east-1", details={"type": "network"})
>>> [m.name for m in LoadBalancer.metrics_of(nlb)]
['ActiveFlowCount', 'ProcessedBytes']
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from spendsense.resources.activity import History, RestAllowance, judge_activity
from spendsense.resources.prices import PriceBook
from spendsense.resources.registry import (
    OK,
    ClientFactory,
    Facts,
    Metric,
    ResourceKindPlugin,
    SafeAction,
    Verdict,
    WasteRules,
    aware,
    register,
    tags_of,
)

NAMESPACES = {"application": "AWS/ApplicationELB", "network": "AWS/NetworkELB"}
TAG_BATCH = 20  # DescribeTags takes at most 20 ARNs
NO_GROUPS = ("TargetGroupNotFound", "LoadBalancerNotFound")
"""What DescribeTargetGroups may answer for a balancer without target groups (moto) or one
deleted since it was listed."""


def dimension(arn: str) -> str:
    """The ``LoadBalancer`` dimension of a balancer's ARN."""
    return arn.split(":loadbalancer/", 1)[1]


@register("load-balancer")
class LoadBalancer(ResourceKindPlugin):
    """An ALB or NLB (gateway balancers are not judged), keyed by its ARN."""

    permissions = (
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "cloudwatch:GetMetricData",
    )
    metrics = (
        # an internet-facing balancer nobody uses still counts scanners' requests (answered
        # 503 with no healthy target) and their bytes: that is rest, not use
        Metric("AWS/ApplicationELB", "RequestCount", "Sum", RestAllowance(100, 3, 300)),
        Metric("AWS/ApplicationELB", "ProcessedBytes", "Sum", RestAllowance(1e6, 3, 2e6)),
        Metric("AWS/NetworkELB", "ActiveFlowCount", "Maximum", RestAllowance(3, 3, 10)),
        Metric("AWS/NetworkELB", "ProcessedBytes", "Sum", RestAllowance(1e6, 3, 2e6)),
    )
    actions = (
        SafeAction("tag-and-notify", ("elasticloadbalancing:AddTags",), ("loadbalancer",)),
        SafeAction(
            "delete", ("elasticloadbalancing:DeleteLoadBalancer",), ("loadbalancer",), confirm=True
        ),
    )

    @classmethod
    def metrics_of(cls, facts: Facts) -> tuple[Metric, ...]:
        namespace = NAMESPACES.get(facts.details.get("type", ""))
        return tuple(m for m in cls.metrics if m.namespace == namespace)

    @staticmethod
    def describe(client: ClientFactory, region: str) -> list[Facts]:
        elbv2 = client("elbv2")
        balancers = [
            lb
            for page in elbv2.get_paginator("describe_load_balancers").paginate()
            for lb in page["LoadBalancers"]
            if lb.get("Type") in NAMESPACES
        ]
        arns = [lb["LoadBalancerArn"] for lb in balancers]
        tags: dict[str, dict[str, str]] = {}
        for i in range(0, len(arns), TAG_BATCH):
            for desc in elbv2.describe_tags(ResourceArns=arns[i : i + TAG_BATCH])[
                "TagDescriptions"
            ]:
                tags[desc["ResourceArn"]] = tags_of(desc)
        return [
            _facts(lb, tags.get(lb["LoadBalancerArn"], {}), _healthy(elbv2, lb), region)
            for lb in balancers
        ]

    @staticmethod
    def monthly_price(facts: Facts, prices: PriceBook) -> float | None:
        return prices.monthly(facts.region, f"load-balancer:{facts.details.get('type')}")

    @staticmethod
    def judge(facts: Facts, history: History | None, now: datetime, rules: WasteRules) -> Verdict:
        if facts.state != "active" or facts.details.get("healthy_targets", 0) > 0:
            return OK
        return judge_activity("requests or bytes", history, now, rules)


def _healthy(elbv2: Any, balancer: dict[str, Any]) -> int:
    """How many of the balancer's targets are healthy now (none without target groups)."""
    try:
        groups = elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in NO_GROUPS:
            raise
        return 0
    healthy = 0
    for group in groups["TargetGroups"]:
        health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
        healthy += sum(
            1
            for t in health["TargetHealthDescriptions"]
            if (t.get("TargetHealth") or {}).get("State") == "healthy"
        )
    return healthy


def _facts(lb: dict[str, Any], tags: dict[str, str], healthy: int, region: str) -> Facts:
    arn = lb["LoadBalancerArn"]
    return Facts(
        kind="load-balancer",
        resource_id=arn,
        region=region,
        state=(lb.get("State") or {}).get("Code", ""),
        name=lb.get("LoadBalancerName", ""),
        tags=tags,
        details={
            "type": lb.get("Type"),
            "dns_name": lb.get("DNSName"),
            "healthy_targets": healthy,
        },
        created_at=aware(lb.get("CreatedTime")),
        dimensions=(("LoadBalancer", dimension(arn)),),
    )
