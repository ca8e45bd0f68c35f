"""Sign-up, log-in and who-am-I."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field


class SignupRequest(BaseModel):
    """A new organisation and its first user."""

    email: EmailStr
    password: str = Field(min_length=10, max_length=200, description="at least 10 characters")
    organisation: str | None = Field(default=None, max_length=200)


class LoginRequest(BaseModel):
    """E-mail and password."""

    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    """The logged-in user, their tenant, and the CSRF token to send with changes."""

    user_id: int
    email: str
    tenant_id: str
    tenant_name: str
    csrf_token: str


class CsrfToken(BaseModel):
    """The token to send in the ``X-CSRF-Token`` header (also set as the csrf cookie)."""

    csrf_token: str
