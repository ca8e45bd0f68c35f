"""Shapes shared by several areas."""

from __future__ import annotations

from pydantic import BaseModel


class Ok(BaseModel):
    """A plain acknowledgement."""

    ok: bool = True
    message: str = ""
