"""A role's trust policy, evaluated as STS evaluates it for AssumeRole (moto does not).

The caller may assume the role when some ``Allow`` statement for ``sts:AssumeRole`` names
its principal (the account, its root ARN, the caller's own ARN, the role behind an
assumed-role session, or ``*``) and every condition of that statement holds, and no
``Deny`` statement matches (:mod:`sandbox.iam_policy` evaluates the document; the context
holds ``sts:ExternalId`` and ``aws:PrincipalAccount``). A document the sandbox cannot
evaluate grants nothing.

>>> policy = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
...     "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
...     "Condition": {"StringEquals": {"sts:ExternalId": "ss-abc"}}}]}
>>> caller = Caller("210987654321", "arn:aws:iam::210987654321:user/spendsense")
>>> allows(policy, caller, "ss-abc")
True
>>> allows(policy, caller, "ss-wrong"), allows(policy, caller, None)
(False, False)
>>> allows(policy, Caller("123456789012", "arn:aws:iam::123456789012:root"), "ss-abc")
False
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from sandbox.iam_policy import Request, UnsupportedPolicy, evaluate


@dataclass(frozen=True)
class Caller:
    """Who calls: the account and the ARN AWS names in its errors.

    ``role_arn`` is the role behind an assumed-role session (a trust policy may name it).
    """

    account: str
    arn: str
    role_arn: str | None = None


def parse_policy(document: str | dict[str, Any]) -> dict[str, Any]:
    """A policy document as stored by IAM (JSON, possibly URL-encoded) as a dict."""
    if isinstance(document, dict):
        return document
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)
    data = json.loads(text)
    return data if isinstance(data, dict) else {}


def principal_names(caller: Caller) -> frozenset[str]:
    """The names a trust policy's ``Principal`` may call ``caller`` by."""
    names = {caller.account, f"arn:aws:iam::{caller.account}:root", caller.arn}
    if caller.role_arn:
        names.add(caller.role_arn)
    return frozenset(names)


def allows(policy: dict[str, Any], caller: Caller, external_id: str | None) -> bool:
    """Whether ``policy`` lets ``caller`` assume the role with ``external_id``."""
    context = {"aws:PrincipalAccount": caller.account}
    if external_id is not None:
        context["sts:ExternalId"] = external_id
    request = Request("sts:AssumeRole", context=context, principals=principal_names(caller))
    try:
        return evaluate([policy], request) == "allow"
    except UnsupportedPolicy:
        return False
