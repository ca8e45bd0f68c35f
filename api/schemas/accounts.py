"""The tenant's profile, auto-stop policy, ceilings of rest and connected AWS accounts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field, field_validator

from spendsense.ceilings import CPU_PERCENT, NETWORK_BPS, Ceiling

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


class WasteActionPolicy(BaseModel):
    """Whether SpendSense acts on wasted resources by itself: only a volume's
    snapshot-then-delete and a database's stop, each once per finding."""

    enabled: bool = False
    dry_run: bool = True
    max_per_hour: int = Field(5, ge=1, le=1000)


class TenantSettings(BaseModel):
    """The organisation's profile and policy."""

    organisation: str = Field(min_length=1, max_length=200)
    alert_email: EmailStr | None = Field(
        None,
        description="where alert digests go; a new address is kept pending, and mailed a "
        "confirmation link, until confirmed (read back: the confirmed address)",
    )
    alert_email_pending: EmailStr | None = Field(
        None, description="read-only: the address waiting for its confirmation link"
    )
    autostop: AutostopPolicy
    waste: WasteActionPolicy = Field(
        default_factory=WasteActionPolicy,
        description="the waste policy (left out: off, dry run, the default cap)",
    )


def _bounds(ceiling: Ceiling, description: str) -> Any:
    """A nullable ceiling field, its range in the OpenAPI schema (checked by the validator)."""
    return Field(
        None,
        description=f"{description}; null: the default, {ceiling.default_words}",
        json_schema_extra={"minimum": ceiling.low, "maximum": ceiling.high},
    )


class RestCeilings(BaseModel):
    """The idle model's ceilings of rest for the organisation: an instance above either is
    never at rest, whatever rest level SpendSense learnt for it; null keeps the default."""

    cpu_percent: float | None = _bounds(CPU_PERCENT, "average CPU, in %")
    network_bps: float | None = _bounds(NETWORK_BPS, "network in + out, in bytes per second")

    @field_validator("cpu_percent")
    @classmethod
    def _cpu(cls, v: float | None) -> float | None:
        return CPU_PERCENT.check(v)

    @field_validator("network_bps")
    @classmethod
    def _network(cls, v: float | None) -> float | None:
        return NETWORK_BPS.check(v)


class RestCeilingsView(RestCeilings):
    """The ceilings as saved, with the defaults that apply where they are null."""

    default_cpu_percent: float
    default_network_bps: float


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
    # Failed attempts to reach the account in a row; when the collector tries it again
    # (None: at its next cycle).
    failures: int
    next_attempt_at: datetime | None
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
