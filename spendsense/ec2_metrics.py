"""The EC2 CloudWatch metrics SpendSense reads, declared once: each metric's CloudWatch
name, the statistic asked for, its unit, and the ``MetricRecord`` field it fills. The
collector polls them, the instance page charts them, the sandbox serves them.

>>> CLOUDWATCH_NAMES
('CPUUtilization', 'NetworkIn', 'NetworkOut')
>>> BY_NAME["NetworkIn"].field, BY_NAME["NetworkIn"].statistic
('network_in_bytes', 'Sum')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ec2Metric:
    """One CloudWatch metric of the ``AWS/EC2`` namespace, as SpendSense uses it."""

    name: str
    statistic: str
    unit: str
    field: str


EC2_METRICS = (
    Ec2Metric("CPUUtilization", "Average", "Percent", "cpu_percent"),
    Ec2Metric("NetworkIn", "Sum", "Bytes", "network_in_bytes"),
    Ec2Metric("NetworkOut", "Sum", "Bytes", "network_out_bytes"),
)
CLOUDWATCH_NAMES = tuple(m.name for m in EC2_METRICS)
BY_NAME = {m.name: m for m in EC2_METRICS}
