"""Who owns an access key in moto, and the long-lived users the sandbox puts in accounts.

moto attributes a request to the account whose IAM backend holds the request's access
key (an IAM user's key, or the temporary key STS AssumeRole made for a role in that
account); unknown keys land in moto's default account ``123456789012``.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import AccessKey, iam_backends
from moto.sts.models import sts_backends

from sandbox.accounts import user_credentials
from sandbox.trust import Caller

PARTITION = "aws"


def ensure_user(account_id: str, user: str) -> tuple[str, str]:
    """Create ``user`` in ``account_id`` with its derived key (idempotent); returns the key."""
    backend: Any = iam_backends[account_id][PARTITION]
    key_id, secret = user_credentials(account_id, user)
    if key_id in backend.access_keys:
        return key_id, secret
    if user not in backend.users:
        backend.create_user(region_name="us-east-1", user_name=user, path="/")
    key = backend.create_access_key(user)
    del backend.access_keys[key.physical_resource_id]
    key.access_key_id = key_id
    key.secret_access_key = secret
    backend.access_keys[key_id] = key
    return key_id, secret


def ensure_service_role(account_id: str, role_name: str, user: str) -> str:
    """Create SpendSense's service role in its own account (idempotent); returns its ARN.

    It trusts the account's ``user``, whose key SpendSense holds in the sandbox: with a key,
    SpendSense assumes this role first, as customer roles trust only the service role.
    """
    backend: Any = iam_backends[account_id][PARTITION]
    if not any(r.name == role_name for r in backend.get_roles()):
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:user/{user}"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        backend.create_role(role_name, json.dumps(trust), "/", None, "SpendSense", [], None)
    return str(backend.get_role(role_name).arn)


def account_of(access_key: str) -> str:
    """The account moto attributes a request signed with ``access_key`` to."""
    for account_id, account in list(iam_backends.items()):
        if access_key in account[PARTITION].access_keys:
            return str(account_id)
    return DEFAULT_ACCOUNT_ID


def caller_of(access_key: str) -> Caller:
    """Who a request signed with ``access_key`` comes from, as STS would name it."""
    account = account_of(access_key)
    if account in iam_backends:
        key: AccessKey | None = iam_backends[account][PARTITION].access_keys.get(access_key)
        if key is not None and key.user_name:
            return Caller(account, f"arn:aws:iam::{account}:user/{key.user_name}")
        if key is not None and key.role_arn:
            assumed = sts_backends[account][PARTITION].get_assumed_role_from_access_key(access_key)
            if assumed is not None:
                return Caller(account, assumed.arn, key.role_arn)
    return Caller(account, f"arn:aws:iam::{account}:root")
