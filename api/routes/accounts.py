"""The caller's AWS accounts: connect, change, disconnect, test, and the role to create."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import AdminLogin, DbSession, StateDep, ViewerLogin
from api.errors import ERROR_RESPONSES
from api.schemas.accounts import Account, AccountCreate, AccountUpdate, ConnectionTest, RoleSetupDoc
from api.schemas.common import Ok
from api.services import accounts as svc

router = APIRouter(tags=["accounts"], responses=ERROR_RESPONSES)
public = APIRouter(tags=["accounts"], responses=ERROR_RESPONSES)

AccountId = Annotated[str, Path(pattern=r"^\d{12}$", description="12-digit AWS account id")]


def vendor(state: StateDep) -> svc.VendorAccount:
    cached = state.extras.get("vendor")
    if not isinstance(cached, svc.VendorAccount):
        cached = svc.VendorAccount(state.settings.api, state.aws)
        state.extras["vendor"] = cached
    return cached


@router.get("/api/accounts")
def list_accounts(login: ViewerLogin, db: DbSession) -> list[Account]:
    """Connected accounts, with whether SpendSense reaches each."""
    return svc.list_accounts(db, login.tenant_id)


@router.post("/api/accounts", status_code=201)
def connect_account(
    body: AccountCreate, login: AdminLogin, state: StateDep, db: DbSession
) -> Account:
    """Connect the account of ``role_arn``; SpendSense generates its ExternalId (409 past
    the organisation's limit of accounts)."""
    account = svc.connect_account(db, state.settings.api, login.tenant_id, body)
    svc.announce(state.events, login.tenant_id, account.account_id, connected=True)
    return account


@router.get("/api/accounts/{account_id}")
def get_account(account_id: AccountId, login: ViewerLogin, db: DbSession) -> Account:
    return svc.to_schema(svc.get_account(db, login.tenant_id, account_id))


@router.patch("/api/accounts/{account_id}")
def change_account(
    account_id: AccountId, body: AccountUpdate, login: AdminLogin, db: DbSession
) -> Account:
    """Change the role ARN (same account) or the regions."""
    return svc.change_account(db, login.tenant_id, account_id, body)


@router.delete("/api/accounts/{account_id}")
def disconnect_account(
    account_id: AccountId, login: AdminLogin, db: DbSession, state: StateDep
) -> Ok:
    svc.disconnect_account(db, login.tenant_id, account_id)
    svc.announce(state.events, login.tenant_id, account_id, connected=False)
    return Ok(message=f"AWS account {account_id} disconnected")


@router.post("/api/accounts/{account_id}/test")
def test_connection(
    account_id: AccountId, login: AdminLogin, db: DbSession, state: StateDep
) -> ConnectionTest:
    """Assume the role now (AssumeRole with the ExternalId); the exact error if it fails."""
    return svc.check_connection(db, state.aws, login.tenant_id, account_id)


@router.get("/api/accounts/{account_id}/setup")
def role_setup(
    account_id: AccountId, login: ViewerLogin, db: DbSession, state: StateDep
) -> RoleSetupDoc:
    """The role to create: CloudFormation (and its console link) or Terraform."""
    return svc.role_setup(
        db,
        state.settings.api,
        vendor(state),
        login.tenant_id,
        account_id,
        state.settings.aws.region,
    )


@public.get("/api/public/role-template.json")
def role_template(state: StateDep) -> dict[str, Any]:
    """The CloudFormation template the console's quick-create link launches (no log-in)."""
    return svc.generic_template(vendor(state))
