"""The tenant's profile, policy, ceilings of rest and AWS accounts; the role set-up; Test
connection."""

from __future__ import annotations

import json
import logging
import threading

from botocore.exceptions import BotoCoreError, ClientError
from kafka.errors import KafkaError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions.audit import EventSink
from api.customer_permissions import declared
from api.errors import ApiError
from api.schemas.accounts import (
    Account,
    AccountCreate,
    AccountUpdate,
    AutostopPolicy,
    ConnectionTest,
    RestCeilings,
    RestCeilingsView,
    RoleSetupDoc,
    TenantSettings,
    WasteActionPolicy,
    account_of,
)
from api.services import alert_address
from api.state import AppState
from spendsense.access import AccountRef, TenantSessions, new_external_id
from spendsense.aws import AwsFactory
from spendsense.ceilings import CPU_PERCENT, NETWORK_BPS
from spendsense.customer_role import DEFAULT_ROLE_NAME, RoleSetup
from spendsense.errors import NotFound, ServiceError, TenantAccessError
from spendsense.events import AccountRecord, TenantSettingsRecord
from spendsense.settings import ApiSettings
from spendsense.store import (
    add_aws_account,
    get_aws_account,
    get_tenant,
    list_aws_accounts,
    remove_aws_account,
    set_account_status,
    update_aws_account,
)
from spendsense.store.models import AwsAccount, Tenant, utcnow
from spendsense.topics import ACCOUNTS, TENANT_SETTINGS

log = logging.getLogger(__name__)

TEMPLATE_PATH = "/api/public/role-template.json"


def _tenant(db: Session, tenant_id: str, *, for_update: bool = False) -> Tenant:
    tenant = get_tenant(db, tenant_id, for_update=for_update)
    if tenant is None:
        raise NotFound("your organisation no longer exists")
    return tenant


def read_settings(db: Session, tenant_id: str) -> TenantSettings:
    t = _tenant(db, tenant_id)
    return TenantSettings(
        organisation=t.name,
        alert_email=t.alert_email,
        alert_email_pending=t.alert_email_pending,
        autostop=AutostopPolicy(
            enabled=t.autostop_enabled,
            scope=t.autostop_scope,
            dry_run=t.autostop_dry_run,
            grace_minutes=t.autostop_grace_minutes,
            max_per_hour=t.autostop_max_per_hour,
        ),
        waste=WasteActionPolicy(
            enabled=t.waste_policy_enabled,
            dry_run=t.waste_policy_dry_run,
            max_per_hour=t.waste_policy_max_per_hour,
        ),
    )


def write_settings(
    db: Session, state: AppState, tenant_id: str, body: TenantSettings
) -> TenantSettings:
    """Save the profile and policy; a new alert address waits for its mailed link
    (``api.services.alert_address``: 429 past the organisation's confirmation mails, 503
    when the mail cannot be sent, nothing saved then)."""
    wanted = str(body.alert_email).lower() if body.alert_email else None
    if alert_address.needs_mail(db, _tenant(db, tenant_id), wanted):
        alert_address.count_mail(db, state, tenant_id)
    t = _tenant(db, tenant_id)
    t.name = body.organisation.strip()
    try:
        alert_address.set_alert_address(db, state, t, wanted)
    except ApiError:
        db.rollback()
        raise
    t.autostop_enabled = body.autostop.enabled
    t.autostop_scope = body.autostop.scope
    t.autostop_dry_run = body.autostop.dry_run
    t.autostop_grace_minutes = body.autostop.grace_minutes
    t.autostop_max_per_hour = body.autostop.max_per_hour
    t.waste_policy_enabled = body.waste.enabled
    t.waste_policy_dry_run = body.waste.dry_run
    t.waste_policy_max_per_hour = body.waste.max_per_hour
    db.commit()
    return read_settings(db, tenant_id)


def _ceilings(t: Tenant) -> RestCeilingsView:
    return RestCeilingsView(
        cpu_percent=t.ceiling_cpu_percent,
        network_bps=t.ceiling_network_bps,
        default_cpu_percent=CPU_PERCENT.default,
        default_network_bps=NETWORK_BPS.default,
    )


def read_ceilings(db: Session, tenant_id: str) -> RestCeilingsView:
    return _ceilings(_tenant(db, tenant_id))


def write_ceilings(
    db: Session, events: EventSink, tenant_id: str, actor: str, body: RestCeilings
) -> RestCeilingsView:
    """Save the ceilings and put them on ``tenant-settings`` for every detector worker: both
    or neither. The tenant's row stays locked until the broker has the record, so concurrent
    saves reach the topic in the order they reach the store; a broker that does not take it
    undoes the save (503, nothing changed)."""
    t = _tenant(db, tenant_id, for_update=True)
    t.ceiling_cpu_percent = body.cpu_percent
    t.ceiling_network_bps = body.network_bps
    db.flush()
    record = TenantSettingsRecord(
        tenant_id=tenant_id,
        ceiling_cpu_percent=body.cpu_percent,
        ceiling_network_bps=body.network_bps,
        actor=actor,
        at=utcnow(),
    )
    try:
        events.send(TENANT_SETTINGS, record)
    except (KafkaError, ServiceError) as exc:
        db.rollback()
        log.warning("ceilings of tenant %s not saved: %s", tenant_id, exc)
        raise ApiError(
            503,
            "broker_unavailable",
            "the ceilings were not saved: the detectors could not be told (Kafka is "
            "unreachable); save again in a minute",
        ) from None
    db.commit()
    return _ceilings(t)


def to_schema(a: AwsAccount) -> Account:
    return Account.model_validate(a, from_attributes=True)


def list_accounts(db: Session, tenant_id: str) -> list[Account]:
    return [to_schema(a) for a in list_aws_accounts(db, tenant_id)]


def get_account(db: Session, tenant_id: str, account_id: str) -> AwsAccount:
    account = get_aws_account(db, tenant_id, account_id)
    if account is None:
        raise NotFound(f"no AWS account {account_id} is connected to your organisation")
    return account


def connect_account(
    db: Session, settings: ApiSettings, tenant_id: str, body: AccountCreate
) -> Account:
    """Connect the role's account with a fresh ExternalId; 409 if already connected or when
    the tenant has ``accounts_max_per_tenant`` (its row locked: parallel connects count)."""
    _tenant(db, tenant_id, for_update=True)
    account_id = account_of(body.role_arn)
    if get_aws_account(db, tenant_id, account_id) is not None:
        raise ApiError(
            409,
            "account_connected",
            f"AWS account {account_id} is already connected: change its role ARN instead",
        )
    limit = settings.accounts_max_per_tenant
    if len(list_aws_accounts(db, tenant_id)) >= limit:
        raise ApiError(
            409,
            "account_limit",
            f"your organisation has connected {limit} AWS accounts, the most allowed: "
            "disconnect one first",
        )
    try:
        account = add_aws_account(
            db,
            tenant_id,
            account_id,
            external_id=new_external_id(),
            role_arn=body.role_arn,
            regions=body.regions,
        )
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(
            409, "account_connected", f"AWS account {account_id} is already connected"
        ) from None
    return to_schema(account)


def change_account(db: Session, tenant_id: str, account_id: str, body: AccountUpdate) -> Account:
    get_account(db, tenant_id, account_id)
    if body.role_arn is not None and account_of(body.role_arn) != account_id:
        raise ApiError(
            422,
            "invalid_request",
            f"role_arn: the role must be in account {account_id}; connect "
            f"{account_of(body.role_arn)} as a new account instead",
        )
    account = update_aws_account(
        db, tenant_id, account_id, role_arn=body.role_arn, regions=body.regions
    )
    db.commit()
    return to_schema(account)


def disconnect_account(db: Session, tenant_id: str, account_id: str) -> None:
    get_account(db, tenant_id, account_id)
    remove_aws_account(db, tenant_id, account_id)
    db.commit()


def announce(events: EventSink, tenant_id: str, account_id: str, *, connected: bool) -> None:
    """Tell the collectors, on ``accounts``, that the account was connected (its collector
    starts on it at once) or disconnected, in the background: the request never waits for
    the broker. Best effort: the store is what collectors collect from, so a record the
    broker does not take only delays a new account to its collector's next cycle."""
    record = AccountRecord(
        tenant_id=tenant_id, account_id=account_id, connected=connected, at=utcnow()
    )

    def send() -> None:
        try:
            events.send(ACCOUNTS, record)
        except (KafkaError, ServiceError) as exc:
            log.warning("the collectors were not told of %s (%s)", record.key, exc)

    threading.Thread(target=send, name="announce-account", daemon=True).start()


def check_connection(
    db: Session, factory: AwsFactory, tenant_id: str, account_id: str
) -> ConnectionTest:
    """Assume the account's role now; record and report the outcome (the exact AWS error)."""
    account = get_account(db, tenant_id, account_id)
    if not account.role_arn:
        raise ApiError(422, "invalid_request", "role_arn: set the role ARN first")
    code: str | None
    try:
        TenantSessions(factory).test_connection(AccountRef.of(account))
    except TenantAccessError as exc:
        code, message, ok = exc.code, exc.message, False
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "ClientError"))
        message = f"AWS answered {code}: {err.get('Message', '')}".strip()
        ok = False
    except BotoCoreError as exc:
        code, message, ok = type(exc).__name__, f"could not reach AWS: {exc}", False
    else:
        code, message, ok = (
            None,
            f"SpendSense assumed {account.role_arn}: the connection works",
            True,
        )
    set_account_status(
        db,
        tenant_id,
        account_id,
        "ok" if ok else "error",
        code=code,
        message=None if ok else message,
    )
    db.commit()
    return ConnectionTest(ok=ok, code=code, message=message, account=to_schema(account))


class VendorAccount:
    """SpendSense's own AWS account id (the setting, else asked of STS once) and the role
    set-up customers create, trusting SpendSense's service role there."""

    def __init__(self, settings: ApiSettings, factory: AwsFactory) -> None:
        self._id = settings.vendor_account_id
        self._factory = factory
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._id is None:
                try:
                    ident = self._factory.client("sts").get_caller_identity()
                except (ClientError, BotoCoreError) as exc:
                    raise ApiError(
                        502,
                        "vendor_account_unknown",
                        "SpendSense does not know its own AWS account id: set "
                        f"SPENDSENSE_API__VENDOR_ACCOUNT_ID ({type(exc).__name__})",
                    ) from None
                self._id = str(ident["Account"])
            return self._id

    def setup(self, external_id: str, role_name: str = DEFAULT_ROLE_NAME) -> RoleSetup:
        """The role a customer creates: trusting this account's service role only."""
        return RoleSetup(
            vendor_account_id=self.get(),
            external_id=external_id,
            permissions=declared(),
            role_name=role_name,
            service_role_name=self._factory.settings.service_role_name,
        )


def template_url(settings: ApiSettings) -> str:
    return settings.role_template_url or settings.public_url.rstrip("/") + TEMPLATE_PATH


def role_setup(
    db: Session,
    settings: ApiSettings,
    vendor: VendorAccount,
    tenant_id: str,
    account_id: str,
    region: str,
) -> RoleSetupDoc:
    account = get_account(db, tenant_id, account_id)
    role_name = (account.role_arn or "").rsplit("/", 1)[-1] or DEFAULT_ROLE_NAME
    setup = vendor.setup(account.external_id, role_name)
    url = template_url(settings)
    return RoleSetupDoc(
        role_name=setup.role_name,
        external_id=setup.external_id,
        vendor_account_id=setup.vendor_account_id,
        read_only_actions=setup.read_only_actions(),
        stop_actions=setup.stop_actions(),
        cloudformation_template=json.dumps(setup.cloudformation(), indent=2),
        template_url=url,
        console_url=setup.console_url(url, region),
        terraform=setup.terraform(),
    )


def generic_template(vendor: VendorAccount) -> dict[str, object]:
    """The template the console link launches: the ExternalId comes as a parameter."""
    template = vendor.setup(external_id="").cloudformation()
    del template["Parameters"]["ExternalId"]["Default"]
    return template
