"""Sign-up, log-in, passwords and who-am-I."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, EmailStr, Field

NewPassword = Annotated[
    str, Field(min_length=10, max_length=200, description="at least 10 characters")
]


class SignupRequest(BaseModel):
    """A new organisation and its first user (created once the mailed link is used)."""

    email: EmailStr
    password: NewPassword
    organisation: str | None = Field(default=None, max_length=200)


class LoginRequest(BaseModel):
    """E-mail and password."""

    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class ForgotPassword(BaseModel):
    """The address whose password was forgotten."""

    email: EmailStr


class PasswordReset(BaseModel):
    """The token of a mailed reset link and the new password."""

    token: str = Field(min_length=10, max_length=200)
    password: NewPassword


class PasswordChange(BaseModel):
    """The current password (checked) and the new one."""

    current_password: str = Field(min_length=1, max_length=200)
    new_password: NewPassword


class Me(BaseModel):
    """The logged-in user, their tenant, and the CSRF token to send with changes."""

    user_id: int
    email: str
    tenant_id: str
    tenant_name: str
    csrf_token: str
    role: str  # viewer | operator | admin (api.deps.ROLES)


class CsrfToken(BaseModel):
    """The token to send in the ``X-CSRF-Token`` header (also set as the csrf cookie)."""

    csrf_token: str
