"""What the worker and the model service say to each other over HTTP (pydantic, JSON).

A batch is a list of :class:`SeriesItem`: one per instance, carrying the instance's learned
state (base64 of the model's bytes, ``None`` for a new instance) and its new points in time
order. The answer gives each item back with one verdict per point and the updated state, so
the service itself keeps no per-instance state.

>>> item = SeriesItem(key="i-0abc1234", points=[PointIn(
...     timestamp="2026-11-01T00:00:00Z", cpu_percent=1.0,
...     network_in_bytes=10.0, network_out_bytes=5.0)])
>>> SeriesItem.model_validate_json(item.model_dump_json()) == item
True
>>> decode_state(encode_state(b"\\x00\\x01")) == b"\\x00\\x01"
True
>>> decode_state(None) is None
True
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from spendsense.ceilings import CPU_PERCENT, NETWORK_BPS
from spendsense.events import AnomalyMetric


class PointIn(BaseModel):
    """One 5-minute period of one instance (None: CloudWatch had no value)."""

    timestamp: AwareDatetime
    cpu_percent: float | None = Field(default=None, ge=0.0, le=100.0)
    network_in_bytes: float | None = Field(default=None, ge=0.0)
    network_out_bytes: float | None = Field(default=None, ge=0.0)


class CeilingsIn(BaseModel):
    """A tenant's absolute ceilings of rest (see :class:`detector.model.points.Ceilings`)."""

    cpu_percent: float = Field(CPU_PERCENT.default, gt=0.0, le=100.0)
    network_bps: float = Field(NETWORK_BPS.default, gt=0.0)


class SeriesItem(BaseModel):
    """One instance's new points and its state so far; ``not_idle`` applies a person's word first,
    and so does ``expected`` (the metrics whose last anomaly a person called expected);
    ``ceilings`` are its tenant's (the defaults when ``None``); no point before ``alerts_from``
    (the live edge) opens an anomaly incident (``None``: any may)."""

    key: str
    state: str | None = None
    not_idle: bool = False
    expected: list[AnomalyMetric] = []
    ceilings: CeilingsIn | None = None
    alerts_from: AwareDatetime | None = None
    points: list[PointIn]


class BatchRequest(BaseModel):
    """The body of ``POST /score_batch``."""

    items: list[SeriesItem]


class IncidentOut(BaseModel):
    """A usage anomaly incident that a point opened or closed
    (:class:`detector.model.incidents.Transition`)."""

    metric: AnomalyMetric
    status: Literal["open", "closed"]
    since: AwareDatetime
    ended_at: AwareDatetime | None = None
    observed: float
    expected_low: float
    expected_high: float
    score: float


class VerdictOut(BaseModel):
    """The model's answer for one point; ``incidents``: the anomaly incidents it opened or
    closed (a person's "expected" closes one at the item's first point)."""

    score: float
    idle: bool
    idle_since: AwareDatetime | None = None
    confidence: float
    reason: str
    provisional: bool = False
    rest_cpu_percent: float | None = None
    rest_network_bps: float | None = None
    incidents: list[IncidentOut] = []


class SeriesResult(BaseModel):
    """One item's verdicts (one per point, same order) and its updated state.

    ``error`` says why an item could not be scored (its state was not a model's bytes); such
    an item has no verdicts and no state, and the other items of the batch are unaffected.
    """

    key: str
    state: str | None = None
    verdicts: list[VerdictOut] = []
    error: str | None = None


def encode_state(state: bytes) -> str:
    """Model bytes as they travel in JSON."""
    return base64.b64encode(state).decode("ascii")


def decode_state(text: str | None) -> bytes | None:
    """The inverse of :func:`encode_state`; raises ValueError on text that is not base64."""
    if text is None:
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"state is not base64: {exc}") from None
