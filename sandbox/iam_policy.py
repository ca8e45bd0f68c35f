"""IAM policy documents evaluated as AWS evaluates them (the subset SpendSense's documents use).

moto stores policies but enforces none of them. This evaluator answers, for one request
(an action on a resource, with its context keys and, for a resource-based policy such as
a role's trust policy, the names its principal goes by), what a set of policy documents
in one account decides: an explicit ``Deny`` that matches wins, else an ``Allow`` that
matches allows, else the request is denied implicitly.

Supported: ``Action`` and ``Resource`` with ``*`` and ``?`` wildcards (actions compared
case-insensitively), ``Principal`` (``"*"`` or ``{"AWS": ...}``: account ids, ARNs), and
the condition operators ``StringEquals``, ``StringNotEquals``, ``StringLike``,
``StringNotLike`` and ``Null``; the string ones may be qualified ``ForAllValues:`` or
``ForAnyValue:`` for multi-valued keys such as ``aws:TagKeys``. Condition key names are
case-insensitive, as in IAM. Anything else (another operator, ``NotAction``,
``NotResource``, ``NotPrincipal``, a bare operator on a multi-valued key) raises
:class:`UnsupportedPolicy`: nothing is decided by guesswork.

>>> policy = {"Statement": [
...     {"Effect": "Allow", "Action": "ec2:*Instances",
...      "Resource": "arn:aws:ec2:*:111111111111:instance/*"},
...     {"Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*",
...      "Condition": {"Null": {"aws:ResourceTag/keep": "false"}}}]}
>>> arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-1"
>>> evaluate([policy], Request("ec2:StopInstances", arn))
'allow'
>>> evaluate([policy], Request("ec2:StopInstances", arn, {"aws:ResourceTag/keep": "yes"}))
'deny'
>>> evaluate([policy], Request("ec2:TerminateInstances", arn.replace("111111111111", "2" * 12)))
'implicit-deny'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

Decision = Literal["allow", "deny", "implicit-deny"]
ContextValue = str | Sequence[str]

_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "Resource", "Principal", "Condition"})
_QUALIFIERS = frozenset({"", "ForAllValues", "ForAnyValue"})


class UnsupportedPolicy(ValueError):
    """The document uses an IAM feature this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One request: ``action`` (``service:Action``) on ``resource``, with its context keys.

    ``principals``: the names the caller goes by (account id, ARNs), given when the
    policy is resource-based (a trust policy); its statements then apply only to the
    principals they name.
    """

    action: str
    resource: str = "*"
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    principals: frozenset[str] = frozenset()


@lru_cache(maxsize=512)
def _pattern(wildcard: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wildcard)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(value: str, wildcard: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one character.

    >>> like("spendsense:stop-after", "spendsense:*"), like("Name", "spendsense:*")
    (True, False)
    """
    return _pattern(wildcard, ignore_case).fullmatch(value) is not None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _string_test(operator: str) -> tuple[Callable[[str, str], bool], bool]:
    """The per-value test of a string operator and whether the operator negates it."""
    negated = operator.startswith("StringNot")
    base = operator.replace("StringNot", "String", 1)
    if base == "StringEquals":
        return (lambda value, wanted: value == wanted), negated
    if base == "StringLike":
        return like, negated
    raise UnsupportedPolicy(f"condition operator {operator!r} is not supported")


def _holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in _QUALIFIERS:
        raise UnsupportedPolicy(f"condition qualifier {qualifier!r} is not supported")
    actual = context.get(key.lower())
    wanted = [str(v) for v in _listed(expected)]
    if base == "Null":
        if qualifier:
            raise UnsupportedPolicy(f"{operator!r}: Null takes no qualifier")
        return (actual is None) == (wanted[0].lower() == "true")
    test, negated = _string_test(base)

    def matches(value: str) -> bool:
        return any(test(value, w) for w in wanted) != negated

    values = [] if actual is None else [actual] if isinstance(actual, str) else list(actual)
    if qualifier == "ForAllValues":
        return all(matches(v) for v in values)  # true when the key is absent, as in IAM
    if qualifier == "ForAnyValue":
        return any(matches(v) for v in values)
    if actual is None:
        return negated  # a negated operator holds when the key is absent
    if not isinstance(actual, str):
        raise UnsupportedPolicy(f"{operator!r} on the multi-valued key {key!r} needs a qualifier")
    return matches(actual)


def _principal_matches(statement: Mapping[str, Any], principals: frozenset[str]) -> bool:
    if "Principal" not in statement:
        return not principals  # identity policies name no principal; trust policies must
    named = statement["Principal"]
    if named == "*":
        return True
    if not isinstance(named, dict):
        raise UnsupportedPolicy(f"principal {named!r} is not supported")
    return any(str(p) == "*" or str(p) in principals for p in _listed(named.get("AWS", [])))


def _applies(statement: Mapping[str, Any], request: Request, context: Mapping[str, Any]) -> bool:
    unknown = set(statement) - _STATEMENT_KEYS
    if unknown:
        raise UnsupportedPolicy(f"statement keys {sorted(unknown)} are not supported")
    if not any(
        like(request.action, str(a), ignore_case=True) for a in _listed(statement.get("Action", []))
    ):
        return False
    if not any(like(request.resource, str(r)) for r in _listed(statement.get("Resource", "*"))):
        return False
    if not _principal_matches(statement, request.principals):
        return False
    conditions = statement.get("Condition") or {}
    return all(
        _holds(operator, key, expected, context)
        for operator, tests in conditions.items()
        for key, expected in tests.items()
    )


def evaluate(policies: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """What ``policies`` (all in one account) decide for ``request``."""
    context = {k.lower(): v for k, v in request.context.items()}
    allowed = False
    for policy in policies:
        for statement in _listed(policy.get("Statement", [])):
            if not _applies(statement, request, context):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            allowed = allowed or statement.get("Effect") == "Allow"
    return "allow" if allowed else "implicit-deny"
