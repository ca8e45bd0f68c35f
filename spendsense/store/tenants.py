"""Repository functions for tenants, their users and their AWS accounts.

Tenant isolation is the store's habit: every function that reads or changes
tenant-owned rows takes the tenant id and filters by it, so one tenant's id can
never reach another tenant's rows. The exceptions say why they need none:
:func:`list_tenants` (the collectors serve every tenant) and
:func:`find_user_by_email` (login, before a tenant is known).

>>> from spendsense.store.engine import make_engine, session_factory
>>> from spendsense.store.migrate import ensure_schema
>>> from spendsense.settings import StoreSettings
>>> engine = make_engine(StoreSettings(url="sqlite://"))
>>> _ = ensure_schema(engine)
>>> with session_factory(engine).begin() as session:
...     tenant = create_tenant(session, "Acme", tenant_id="acme")
...     account = add_aws_account(session, "acme", "123456789012", external_id="x-1",
...                               regions=["eu-west-1"])
...     _ = set_account_status(session, "acme", "123456789012", "ok")
...     [a.status for a in list_aws_accounts(session, "acme")]
['ok']
>>> with session_factory(engine)() as session:
...     get_aws_account(session, "someone-else", "123456789012") is None
True
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spendsense.errors import NotFound
from spendsense.store.models import AwsAccount, Tenant, User, utcnow

ACCOUNT_STATUSES = ("pending", "ok", "error")


def create_tenant(
    session: Session, name: str, *, tenant_id: str | None = None, alert_email: str | None = None
) -> Tenant:
    """Add a tenant (a random id unless one is given)."""
    tenant = Tenant(id=tenant_id or uuid.uuid4().hex, name=name, alert_email=alert_email)
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, tenant_id: str, *, for_update: bool = False) -> Tenant | None:
    """The tenant with this id, if any; ``for_update`` reads it afresh and locks its row until
    the transaction ends (on PostgreSQL; SQLite has one writer at a time anyway)."""
    return session.get(Tenant, tenant_id, with_for_update=for_update)


def list_tenants(session: Session) -> Sequence[Tenant]:
    """Every tenant, oldest first (the collectors and workers serve them all)."""
    return session.scalars(select(Tenant).order_by(Tenant.created_at, Tenant.id)).all()


def create_user(
    session: Session, tenant_id: str, email: str, password_hash: str, role: str = "admin"
) -> User:
    """Add an organisation's first member, its admin (the demo's onboarding, as a sign-up
    does); emails are unique across SpendSense. A member added later comes by invite with
    the role the invite names; the column's own default is the least, ``viewer``."""
    user = User(
        tenant_id=tenant_id, email=email.strip().lower(), password_hash=password_hash, role=role
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, tenant_id: str, user_id: int) -> User | None:
    """A user of this tenant by id."""
    return session.scalar(select(User).where(User.tenant_id == tenant_id, User.id == user_id))


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user logging in with this email (the one lookup made before a tenant is known)."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def list_users(session: Session, tenant_id: str) -> Sequence[User]:
    """A tenant's users by id."""
    return session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.id)).all()


def add_aws_account(
    session: Session,
    tenant_id: str,
    account_id: str,
    *,
    external_id: str,
    role_arn: str | None = None,
    regions: Sequence[str] = (),
) -> AwsAccount:
    """Connect an AWS account to a tenant; it starts ``pending`` until first reached."""
    account = AwsAccount(
        tenant_id=tenant_id,
        account_id=account_id,
        external_id=external_id,
        role_arn=role_arn,
        regions=list(regions),
        status="pending",
    )
    session.add(account)
    session.flush()
    return account


def get_aws_account(session: Session, tenant_id: str, account_id: str) -> AwsAccount | None:
    """One of this tenant's AWS accounts by its 12-digit id."""
    return session.scalar(
        select(AwsAccount).where(
            AwsAccount.tenant_id == tenant_id, AwsAccount.account_id == account_id
        )
    )


def list_aws_accounts(session: Session, tenant_id: str) -> Sequence[AwsAccount]:
    """A tenant's AWS accounts, in the order they were connected."""
    return session.scalars(
        select(AwsAccount).where(AwsAccount.tenant_id == tenant_id).order_by(AwsAccount.id)
    ).all()


def update_aws_account(
    session: Session,
    tenant_id: str,
    account_id: str,
    *,
    role_arn: str | None = None,
    regions: Sequence[str] | None = None,
) -> AwsAccount:
    """Change an account's role ARN and/or regions; raises NotFound for another tenant's."""
    account = _account_or_raise(session, tenant_id, account_id)
    if role_arn is not None:
        account.role_arn = role_arn
    if regions is not None:
        account.regions = list(regions)
    session.flush()
    return account


def set_account_status(
    session: Session,
    tenant_id: str,
    account_id: str,
    status: str,
    *,
    code: str | None = None,
    message: str | None = None,
    at: datetime | None = None,
) -> AwsAccount:
    """Record whether SpendSense could reach the account (``ok``: the next attempt is the
    next cycle's, without backoff) or why not (``error``)."""
    if status not in ACCOUNT_STATUSES:
        raise ValueError(f"account status must be one of {', '.join(ACCOUNT_STATUSES)}")
    account = _account_or_raise(session, tenant_id, account_id)
    if status == "ok":
        account.failures, account.next_attempt_at = 0, None
    account.status = status
    account.status_code = code
    account.status_message = message
    account.status_at = at or utcnow()
    session.flush()
    return account


def remove_aws_account(session: Session, tenant_id: str, account_id: str) -> None:
    """Disconnect an account; raises NotFound if this tenant has no such account."""
    session.delete(_account_or_raise(session, tenant_id, account_id))
    session.flush()


def _account_or_raise(session: Session, tenant_id: str, account_id: str) -> AwsAccount:
    account = get_aws_account(session, tenant_id, account_id)
    if account is None:
        raise NotFound(f"tenant {tenant_id} has no AWS account {account_id}")
    return account
