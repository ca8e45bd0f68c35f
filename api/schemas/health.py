"""Liveness and readiness."""

from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    store: str
    schema_revision: str | None = None
