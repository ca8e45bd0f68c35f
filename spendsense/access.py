"""Reaching a customer's AWS account: STS AssumeRole with the account's ExternalId.

SpendSense never holds a customer's keys. Each connected account has a role that
trusts SpendSense's service role on the condition ``sts:ExternalId == <external_id>``;
the ExternalId is generated here when the account is added (:func:`new_external_id`).
:class:`TenantSessions` assumes the role (as the service role: SpendSense's own
credentials, or, when the settings hold an IAM user's key, the service role assumed
with it first), caches the temporary credentials, refreshes them before they expire and
hands out boto3 clients (always built by :class:`~spendsense.aws.AwsFactory`). AWS
errors that mean "SpendSense cannot act in this account" become
:class:`~spendsense.errors.TenantAccessError` with a message the account's owner can act
on; everything else (throttling, bugs) propagates unchanged.

>>> eid = new_external_id()
>>> len(eid) >= 32 and set(eid) <= set(EXTERNAL_ID_ALPHABET)
True
>>> new_external_id() != eid
True
>>> account = AccountRef("t1", "111111111111", "arn:aws:iam::111111111111:role/SpendSense", eid)
>>> session_name_for(account, "SpendSense")
'SpendSense-t1'
>>> err = ClientError({"Error": {"Code": "OptInRequired", "Message": "x"}}, "DescribeInstances")
>>> print(translate_error(err, account, region="ap-east-1", operation="DescribeInstances").message)
Region ap-east-1 is not enabled in AWS account 111111111111: enable it in the AWS console, or remove it from this account's regions in SpendSense.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import string
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from spendsense.aws import AwsFactory
from spendsense.errors import TenantAccessError

EXTERNAL_ID_ALPHABET = string.ascii_letters + string.digits + "_+=,.@:/-"
EXTERNAL_ID_LENGTH = 48

# Error codes, grouped by what the owner has to do about them.
ROLE_CODES = frozenset({"AccessDenied", "AccessDeniedException", "NoSuchEntity"})
PERMISSION_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
)
REGION_CODES = frozenset(
    {
        "OptInRequired",
        "AuthFailure",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "RegionDisabledException",
    }
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})

ROLE_CHAINING_MAX_S = 3600
"""AWS's limit on a session assumed with another role's credentials (role chaining)."""

CallHook = Callable[["AccountRef", str, str], None]
"""Called once per AWS API call with (account, service, operation), retries excluded."""


def new_external_id(length: int = EXTERNAL_ID_LENGTH) -> str:
    """A random ExternalId for a newly connected account (letters, digits and ``_+=,.@:/-``)."""
    if length < 32:
        raise ValueError("an ExternalId must be at least 32 characters")
    return "".join(secrets.choice(EXTERNAL_ID_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class AccountRef:
    """What SpendSense needs to reach one customer account."""

    tenant_id: str
    account_id: str
    role_arn: str
    external_id: str

    @classmethod
    def of(cls, account: Any) -> AccountRef:
        """From a stored :class:`~spendsense.store.models.AwsAccount` (or anything shaped so)."""
        role_arn = account.role_arn or f"arn:aws:iam::{account.account_id}:role/SpendSense"
        return cls(account.tenant_id, account.account_id, role_arn, account.external_id)


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials from AssumeRole."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


def _credentials(resp: dict[str, Any]) -> Credentials:
    c = resp["Credentials"]
    expiration = c["Expiration"]
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], expiration)


def session_name_for(account: AccountRef, prefix: str) -> str:
    """The RoleSessionName: SpendSense's name and the tenant, as CloudTrail shows them."""
    name = re.sub(r"[^\w+=,.@-]", "-", f"{prefix}-{account.tenant_id}")
    return name[:64]


def translate_error(
    exc: ClientError, account: AccountRef, *, region: str | None, operation: str
) -> TenantAccessError | None:
    """The :class:`TenantAccessError` an AWS error means for this account, or None.

    None means the error is not about access (throttling, validation...): re-raise it.
    """
    code = str(exc.response.get("Error", {}).get("Code", ""))
    where = f"AWS account {account.account_id}"
    if operation == "AssumeRole":
        if code in ROLE_CODES:
            return TenantAccessError(
                code,
                f"SpendSense cannot assume role {account.role_arn} in {where}: the role was "
                f"deleted, does not trust SpendSense's service role, or its ExternalId condition "
                f"is not {account.external_id}. Re-create the role from the setup template "
                f"with this ExternalId, then press Test connection.",
            )
        if code in REGION_CODES:
            return TenantAccessError(
                code,
                f"STS refused SpendSense's request for {where} ({code}): check that the "
                f"role ARN {account.role_arn} is right and STS is enabled in its region.",
            )
    if code in EXPIRED_CODES:
        return TenantAccessError(
            code,
            f"Temporary credentials for {where} expired before SpendSense could renew them; "
            f"it assumes the role again on its next cycle. If this repeats, check the role's "
            f"maximum session duration.",
        )
    if code in REGION_CODES:
        return TenantAccessError(
            code,
            f"Region {region} is not enabled in {where}: enable it in the AWS console, "
            f"or remove it from this account's regions in SpendSense.",
        )
    if code in PERMISSION_CODES:
        return TenantAccessError(
            code,
            f"The SpendSense role in {where} is not allowed to call {operation}"
            f"{' in ' + region if region else ''}: attach SpendSense's read-only policy "
            f"to role {account.role_arn}.",
        )
    return None


class TenantSessions:
    """Assumed-role credentials and boto3 clients per customer account, cached and refreshed.

    Thread-safe: the collector drives many accounts from a thread pool.
    """

    def __init__(
        self,
        factory: AwsFactory,
        *,
        duration_s: int = 3600,
        refresh_margin: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_call: CallHook | None = None,
    ) -> None:
        self.factory = factory
        self.duration_s = duration_s
        self.refresh_margin = refresh_margin
        self.clock = clock
        self.on_call = on_call
        self._lock = threading.Lock()
        self._creds: dict[AccountRef, Credentials] = {}
        self._clients: dict[tuple[AccountRef, str, str], tuple[datetime, Any]] = {}
        self._sts: Any = None
        self._service: tuple[datetime, Any] | None = None

    @property
    def chained(self) -> bool:
        """Whether SpendSense holds an IAM user's key and assumes its service role with it.

        The settings hold no session token, so a key there is long-lived: a user's, never
        the service role's. Without one, SpendSense's credentials (the host's instance
        profile) are the service role's already.
        """
        return self.factory.settings.access_key_id is not None

    def _sts_client(self) -> Any:
        """STS as SpendSense's service role, the one principal customer roles trust."""
        if not self.chained:
            if self._sts is None:
                self._sts = self.factory.client("sts")
            return self._sts
        with self._lock:
            service = self._service
        if service is None or self.clock() >= service[0] - self.refresh_margin:
            creds = self._assume_service_role()
            client = self.factory.client_with_credentials(
                "sts",
                self.factory.settings.region,
                creds.access_key_id,
                creds.secret_access_key,
                creds.session_token,
            )
            service = (creds.expiration, client)
            with self._lock:
                self._service = service
        return service[1]

    def _assume_service_role(self) -> Credentials:
        own = self.factory.client("sts")
        account = str(own.get_caller_identity()["Account"])
        role_arn = f"arn:aws:iam::{account}:role/{self.factory.settings.service_role_name}"
        try:
            resp = own.assume_role(
                RoleArn=role_arn,
                RoleSessionName=self.factory.settings.session_name,
                DurationSeconds=ROLE_CHAINING_MAX_S,
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ROLE_CODES:
                raise
            raise TenantAccessError(
                code,
                f"SpendSense cannot assume its own service role {role_arn} with the key in "
                f"its settings: SpendSense's set-up, not your account, needs fixing.",
            ) from None
        return _credentials(resp)

    def credentials(self, account: AccountRef) -> Credentials:
        """Cached credentials for ``account``, assuming the role again when they near expiry."""
        with self._lock:
            cached = self._creds.get(account)
            if cached is not None and self.clock() < cached.expiration - self.refresh_margin:
                return cached
        creds = self._assume(account)
        with self._lock:
            self._creds[account] = creds
        return creds

    def _assume(self, account: AccountRef) -> Credentials:
        sts = self._sts_client()
        if self.on_call is not None:
            self.on_call(account, "sts", "AssumeRole")
        try:
            resp = sts.assume_role(
                RoleArn=account.role_arn,
                RoleSessionName=session_name_for(account, self.factory.settings.session_name),
                ExternalId=account.external_id,
                DurationSeconds=(
                    min(self.duration_s, ROLE_CHAINING_MAX_S) if self.chained else self.duration_s
                ),
            )
        except ClientError as exc:
            err = translate_error(exc, account, region=None, operation="AssumeRole")
            if err is None:
                raise
            raise err from None
        return _credentials(resp)

    def invalidate(self, account: AccountRef) -> None:
        """Forget an account's credentials and clients (after ExpiredToken, or a role change)."""
        with self._lock:
            self._creds.pop(account, None)
            for key in [k for k in self._clients if k[0] == account]:
                del self._clients[key]

    def client(self, account: AccountRef, service: str, region: str) -> Any:
        """A boto3 client for ``service`` in ``region`` acting as SpendSense's role there."""
        creds = self.credentials(account)
        key = (account, service, region)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None and cached[0] == creds.expiration:
                return cached[1]
        client = self.factory.client_with_credentials(
            service, region, creds.access_key_id, creds.secret_access_key, creds.session_token
        )
        if self.on_call is not None:
            hook = self.on_call

            def count(model: Any, **_: Any) -> None:
                hook(account, service, model.name)

            client.meta.events.register("before-call", count)
        with self._lock:
            self._clients[key] = (creds.expiration, client)
        return client

    @contextlib.contextmanager
    def guard(self, account: AccountRef, region: str | None, operation: str) -> Iterator[None]:
        """Turn access errors raised inside into :class:`TenantAccessError`.

        Expired credentials are forgotten, so the next call assumes the role again.
        """
        try:
            yield
        except ClientError as exc:
            err = translate_error(exc, account, region=region, operation=operation)
            if err is None:
                raise
            if err.code in EXPIRED_CODES:
                self.invalidate(account)
            raise err from None

    def test_connection(self, account: AccountRef) -> str:
        """Assume the role and ask STS who we are; returns the account id reached.

        Raises :class:`TenantAccessError` when the role cannot be assumed or lands in
        another account than the one connected.
        """
        region = self.factory.settings.region
        with self.guard(account, region, "GetCallerIdentity"):
            ident = self.client(account, "sts", region).get_caller_identity()
        reached = str(ident["Account"])
        if reached != account.account_id:
            raise TenantAccessError(
                "AccountMismatch",
                f"Role {account.role_arn} belongs to AWS account {reached}, not "
                f"{account.account_id}: fix the account id or the role ARN.",
            )
        return reached
