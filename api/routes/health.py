"""Health (``/healthz`` alive, ``/readyz`` store reachable and migrated) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from api.deps import StateDep
from api.errors import ApiError
from api.schemas.health import Health
from spendsense.store.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok", store="unchecked")


@router.get("/readyz", responses={503: {"model": Health}})
def readyz(state: StateDep) -> Health:
    """Ready to serve: the store answers and is at the newest schema revision."""
    try:
        revision = current_revision(state.engine)
    except SQLAlchemyError as exc:
        raise ApiError(
            503, "store_unreachable", f"the store does not answer: {type(exc).__name__}"
        ) from None
    if revision != head_revision():
        raise ApiError(
            503, "store_not_migrated", f"the store is at revision {revision}, not the newest"
        )
    return Health(status="ok", store="ok", schema_revision=revision)


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(state: StateDep) -> Response:
    """Prometheus exposition of this process's registry."""
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
