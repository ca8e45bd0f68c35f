"""Trace fleets: simulated EC2 fleets with 5-minute metrics and ground-truth idle labels.

Format (one folder)
-------------------
``instances.json``
    A JSON list, one object per instance: ``instance_id``, ``account_id``, ``tenant``,
    ``region``, ``instance_type``, ``launch_time`` (UTC ISO 8601), ``lifecycle``
    (``on-demand`` | ``spot``), ``root_device_type`` (``ebs`` | ``instance-store``),
    ``asg_name`` (null or the Auto Scaling group, also in tag ``aws:autoscaling:groupName``),
    ``kind`` (the workload that made the trace), ``state`` (``running``), ``tags``
    (object of string to string). ``tenant``, ``asg_name``, ``kind`` and ``state`` may be
    left out by hand-made fleets.
``<instance_id>.csv``
    Header ``timestamp,cpu_percent,network_in_bytes,network_out_bytes``; one row every
    5 minutes exactly (timestamps UTC ISO 8601 like ``2026-11-01T00:05:00Z``, on the
    5-minute grid); network bytes are per 5-minute period (CloudWatch ``Sum``).
``labels.json``
    ``{instance_id: idle_since | null}``: the ground truth. From ``idle_since`` on the
    instance does no useful work for the rest of its trace; ``null``: never idle.

``resources.json`` and ``resources/<id>.csv`` (optional)
    The resources beyond instances and their labels, and the metrics of NAT gateways, load
    balancers and databases: :mod:`sandbox.fleet.resource_files` describes the format,
    :mod:`sandbox.fleet.resources` the kinds' cases and labels.

Public API
----------
- :func:`load_fleet` ``(path) -> Fleet``: read and validate a folder; a malformed one
  raises :class:`spendsense.errors.ConfigError` with one line naming the file and fault.
- :func:`write_fleet` ``(fleet, out)``: write a folder, byte for byte stable.
- :func:`generate_fleet` ``(FleetSpec(seed, instances=300, days=21, tenants=2,
  start=2026-11-01T00:00Z, history_days=14), progress=None) -> Fleet``: the seeded
  synthetic fleet; workload kinds and what counts as idle are in
  :mod:`sandbox.fleet.workloads`.
- :class:`Fleet`: ``path``, ``instances: dict[str, FleetInstance]`` (file order),
  ``traces: dict[str, Trace]``, ``labels: dict[str, datetime | None]``, properties
  ``start`` / ``end`` (earliest / latest timestamp of any trace).
- :class:`FleetInstance`: ``instance_id, account_id, tenant, region, instance_type,
  launch_time, lifecycle, root_device_type, asg_name, kind, state, tags``.
- :class:`Trace`: ``start`` (aware UTC datetime of the first point), ``cpu_percent``,
  ``network_in_bytes``, ``network_out_bytes`` (float64 numpy arrays, one value per
  5 minutes), ``len(trace)``, ``end``, ``index_at(datetime)``, ``timestamp_at(i)``.
- :data:`STEP` (``timedelta(minutes=5)``).
"""

from __future__ import annotations

from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.loader import load_fleet
from sandbox.fleet.model import STEP, Fleet, FleetInstance, Trace
from sandbox.fleet.writer import write_fleet

__all__ = [
    "STEP",
    "Fleet",
    "FleetInstance",
    "FleetSpec",
    "Trace",
    "generate_fleet",
    "load_fleet",
    "write_fleet",
]
