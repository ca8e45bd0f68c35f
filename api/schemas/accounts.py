"""The tenant's profile, auto-stop policy and connected AWS accounts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, field_validator

ROLE_ARN = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$"
)
REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")


def account_of(role_arn: str) -> str:
    """The 12-digit account id in a (validated) role ARN.

    >>> account_of("arn:aws:iam::123456789012:role/SpendSense")
    '123456789012'
    """
    match = ROLE_ARN.match(role_arn)
    assert match is not None
    return match.group(1)


def check_role_arn(value: str) -> str:
    """A role ARN, or a message saying what one looks like.

    >>> check_role_arn("arn:aws:iam::12345:role/x")
    Traceback (most recent call last):
    ...
    ValueError: must be an IAM role ARN like arn:aws:iam::123456789012:role/SpendSense (12-digit account id, then role/ and the role's name)
    """
    value = value.strip()
    if not ROLE_ARN.match(value):
        raise ValueError(
            "must be an IAM role ARN like arn:aws:iam::123456789012:role/SpendSense "
            "(12-digit account id, then role/ and the role's name)"
        )
    return value


def check_regions(values: list[str]) -> list[str]:
    out = []
    for value in values:
        region = value.strip()
        if not REGION.match(region):
            raise ValueError(f"{value!r} is not an AWS region name (like us-east-1)")
        if region not in out:
            out.append(region)
    return out


class AutostopPolicy(BaseModel):
    """Whether and how SpendSense stops idle instances by itself."""

    enabled: bool = False
    scope: Literal["tag", "all"] = "tag"
    dry_run: bool = True
    grace_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    max_per_hour: int = Field(5, ge=1, le=1000)


class TenantSettings(BaseModel):
    """The organisation's profile and policy."""

    organisation: str = Field(min_length=1, max_length=200)
    alert_email: EmailStr | None = None
    autostop: AutostopPolicy


class AccountCreate(BaseModel):
    """Connect an AWS account by the role SpendSense will assume there."""

    role_arn: str = Field(max_length=2048)
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1, max_length=30)

    @field_validator("role_arn")
    @classmethod
    def _arn(cls, v: str) -> str:
        return check_role_arn(v)

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        return check_regions(v)


class AccountUpdate(BaseModel):
    """Change the role ARN (same account) or the regions scanned."""

    role_arn: str | None = Field(default=None, max_length=2048)
    regions: list[str] | None = Field(default=None, min_length=1, max_length=30)

    @field_validator("role_arn")
    @classmethod
    def _arn(cls, v: str | None) -> str | None:
        return None if v is None else check_role_arn(v)

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_regions(v)


class Account(BaseModel):
    """A connected AWS account and whether SpendSense reaches it."""

    account_id: str
    role_arn: str | None
    external_id: str
    regions: list[str]
    status: str
    status_code: str | None
    status_message: str | None
    status_at: datetime | None
    created_at: datetime


class ConnectionTest(BaseModel):
    """The outcome of assuming the account's role now."""

    ok: bool
    code: str | None
    message: str
    account: Account


class RoleSetupDoc(BaseModel):
    """Everything the customer needs to create the role, three ways."""

    role_name: str
    external_id: str
    vendor_account_id: str
    read_only_actions: list[str]
    stop_actions: list[str]
    cloudformation_template: str
    template_url: str
    console_url: str
    terraform: str
