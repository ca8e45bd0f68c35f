"""The worker's HTTP client to the model service: one call per batch, waits out outages.

:meth:`ModelClient.score_batch` posts a whole batch of :class:`~detector.protocol.SeriesItem`
to ``/score_batch``. When the service is down, times out or answers 5xx, it waits (exponential
backoff with jitter, capped at ``retry_max_s``) and tries again, for as long as it takes: the
caller's records stay unacknowledged meanwhile, so nothing is skipped. A 4xx answer is the
batch's own fault and raises :class:`ModelRejected` at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence

import httpx
from pydantic import TypeAdapter

from detector.protocol import BatchRequest, SeriesItem, SeriesResult
from spendsense.errors import ServiceError
from spendsense.settings import DetectorSettings

log = logging.getLogger(__name__)

_RESULTS = TypeAdapter(list[SeriesResult])


class ModelRejected(ServiceError):
    """The model service refused a batch (4xx): retrying the same batch would not help."""


def backoff_delays(initial_s: float, max_s: float, seed: int | None = None) -> Callable[[], float]:
    """A function giving the next wait: doubling from ``initial_s`` up to ``max_s``, +-20% jitter.

    >>> nxt = backoff_delays(0.5, 4.0, seed=1)
    >>> [round(nxt(), 1) for _ in range(6)]
    [0.4, 1.1, 2.2, 3.6, 4.0, 3.9]
    """
    rng = random.Random(seed)
    current = initial_s / 2

    def next_delay() -> float:
        nonlocal current
        current = min(current * 2, max_s)
        return current * rng.uniform(0.8, 1.2)

    return next_delay


class ModelClient:
    """Async client to the BentoML model service."""

    def __init__(
        self,
        settings: DetectorSettings,
        http: httpx.AsyncClient | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._http = http or httpx.AsyncClient(
            base_url=settings.model_url,
            timeout=settings.request_timeout_s,
            limits=httpx.Limits(max_connections=4),
        )
        self._on_retry = on_retry

    async def aclose(self) -> None:
        await self._http.aclose()

    async def score_batch(self, items: Sequence[SeriesItem]) -> list[SeriesResult]:
        """Score and learn ``items``; waits and retries while the service is unavailable."""
        if not items:
            return []
        body = BatchRequest(items=list(items)).model_dump_json(exclude_defaults=True)
        next_delay = backoff_delays(self.settings.retry_initial_s, self.settings.retry_max_s)
        while True:
            try:
                response = await self._http.post(
                    "/score_batch", content=body, headers={"content-type": "application/json"}
                )
            except httpx.TransportError as exc:
                kind, detail = "model_unavailable", f"{exc.__class__.__name__}: {exc}"
            else:
                if response.status_code < 400:
                    results = _RESULTS.validate_json(response.content)
                    if len(results) != len(items):
                        raise ServiceError(
                            f"model service answered {len(results)} results for {len(items)} items"
                        )
                    return results
                if response.status_code < 500:
                    raise ModelRejected(
                        f"model service rejected the batch ({response.status_code}): "
                        f"{response.text[:300]}"
                    )
                kind, detail = "model_error", f"HTTP {response.status_code}"
            delay = next_delay()
            if self._on_retry is not None:
                self._on_retry(kind)
            log.warning(
                "model service at %s not answering (%s); retrying in %.1fs",
                self.settings.model_url,
                detail,
                delay,
            )
            await asyncio.sleep(delay)
