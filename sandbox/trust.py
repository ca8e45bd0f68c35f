"""A role's trust policy, evaluated as STS evaluates it for AssumeRole (moto does not).

The caller may assume the role when some ``Allow`` statement for ``sts:AssumeRole`` names
its principal (the account, its root ARN, the caller's own ARN, or ``*``) and every
condition of that statement holds, and no ``Deny`` statement matches. Conditions cover
what customer roles use: ``StringEquals``, ``StringLike``, ``StringNotEquals``,
``StringNotLike`` and ``Null`` on ``sts:ExternalId`` and ``aws:PrincipalAccount``
(keys compared case-insensitively, as IAM does).

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

import fnmatch
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote


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


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _action_matches(statement: dict[str, Any]) -> bool:
    return any(
        fnmatch.fnmatchcase("sts:assumerole", str(a).lower())
        for a in _listed(statement.get("Action", []))
    )


def _principal_matches(statement: dict[str, Any], caller: Caller) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    names = {caller.account, f"arn:aws:iam::{caller.account}:root", caller.arn, "*"}
    if caller.role_arn:
        names.add(caller.role_arn)
    return any(str(p) in names for p in _listed(principal.get("AWS", [])))


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key.lower())
            wanted = [str(v) for v in _listed(expected)]
            if operator == "Null":
                if (actual is None) != (wanted[0].lower() == "true"):
                    return False
            elif operator in {"StringEquals", "StringLike"}:
                like = operator == "StringLike"
                if actual is None or not any(
                    fnmatch.fnmatchcase(actual, w) if like else actual == w for w in wanted
                ):
                    return False
            elif operator in {"StringNotEquals", "StringNotLike"}:
                like = operator == "StringNotLike"
                if actual is not None and any(
                    fnmatch.fnmatchcase(actual, w) if like else actual == w for w in wanted
                ):
                    return False
            else:
                return False  # an operator the sandbox does not know never grants access
    return True


def allows(policy: dict[str, Any], caller: Caller, external_id: str | None) -> bool:
    """Whether ``policy`` lets ``caller`` assume the role with ``external_id``."""
    context = {"aws:principalaccount": caller.account}
    if external_id is not None:
        context["sts:externalid"] = external_id
    allowed = False
    for statement in _listed(policy.get("Statement", [])):
        if not isinstance(statement, dict) or not _action_matches(statement):
            continue
        if not _principal_matches(statement, caller):
            continue
        if not _condition_holds(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
