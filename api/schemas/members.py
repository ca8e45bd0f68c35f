"""The people of an organisation, their roles, and invites."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr

Role = Literal["viewer", "operator", "admin"]  # api.deps.ROLES, weakest first


class Member(BaseModel):
    """A person who logs in to this organisation."""

    user_id: int
    email: str
    role: Role
    joined_at: datetime


class PendingInvite(BaseModel):
    """An invite mailed and not used yet."""

    email: str
    role: Role
    expires_at: datetime


class Members(BaseModel):
    """The organisation's members, and the invites waiting to be accepted."""

    members: list[Member]
    invites: list[PendingInvite]


class InviteRequest(BaseModel):
    """Who to invite, and the role they get on accepting."""

    email: EmailStr
    role: Role


class RoleChange(BaseModel):
    """A member's new role."""

    role: Role
