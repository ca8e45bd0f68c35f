"""The sandbox's IAM policy evaluator: IAM's decision rule and the operators it implements."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.iam_policy import Request, UnsupportedPolicy, evaluate


def _one(effect: str = "Allow", **statement: Any) -> list[dict[str, Any]]:
    return [{"Statement": [{"Effect": effect, "Action": "ec2:CreateTags", **statement}]}]


def _tags(policy: list[dict[str, Any]], *keys: str) -> str:
    context = {"aws:TagKeys": list(keys)} if keys else {}
    return evaluate(policy, Request("ec2:CreateTags", "arn:aws:ec2:x:1:instance/i-1", context))


def test_deny_wins_over_allow_and_nothing_matching_is_an_implicit_deny() -> None:
    allow, deny = _one()[0], _one("Deny")[0]
    request = Request("ec2:CreateTags")
    assert evaluate([allow], request) == "allow"
    assert evaluate([allow, deny], request) == "deny"
    assert evaluate([deny, allow], request) == "deny"
    assert evaluate([], request) == "implicit-deny"
    assert evaluate([allow], Request("ec2:DeleteTags")) == "implicit-deny"


def test_actions_match_case_insensitively_resources_case_sensitively() -> None:
    policy = [
        {"Statement": [{"Effect": "Allow", "Action": "EC2:create*", "Resource": "arn:*:I-?"}]}
    ]
    assert evaluate(policy, Request("ec2:CreateTags", "arn:aws:I-1")) == "allow"
    assert evaluate(policy, Request("ec2:CreateTags", "arn:aws:i-1")) == "implicit-deny"
    assert evaluate(policy, Request("ec2:CreateTags", "arn:aws:I-12")) == "implicit-deny"


def test_for_all_values_holds_for_no_values_for_any_value_does_not() -> None:
    only_own = _one(Condition={"ForAllValues:StringLike": {"aws:TagKeys": ["own:*"]}})
    assert _tags(only_own, "own:a", "own:b") == "allow"
    assert _tags(only_own, "own:a", "other") == "implicit-deny"
    assert _tags(only_own) == "allow"  # IAM's trap: no keys at all pass ForAllValues
    keep = _one("Deny", Condition={"ForAnyValue:StringEquals": {"AWS:TAGKEYS": "keep"}})
    assert _tags(keep, "a", "keep") == "deny"
    assert _tags(keep, "a") == "implicit-deny"
    assert _tags(keep) == "implicit-deny"


def test_null_and_negated_operators() -> None:
    present = _one(Condition={"Null": {"aws:ResourceTag/keep": "false"}})
    absent = _one(Condition={"Null": {"aws:ResourceTag/keep": "true"}})
    tagged = Request("ec2:CreateTags", context={"aws:ResourceTag/keep": ""})
    assert (evaluate(present, tagged), evaluate(absent, tagged)) == ("allow", "implicit-deny")
    bare = Request("ec2:CreateTags")
    assert (evaluate(present, bare), evaluate(absent, bare)) == ("implicit-deny", "allow")
    not_a = _one(Condition={"StringNotEquals": {"k": "a"}})
    assert evaluate(not_a, Request("ec2:CreateTags", context={"k": "b"})) == "allow"
    assert evaluate(not_a, Request("ec2:CreateTags", context={"k": "a"})) == "implicit-deny"
    assert evaluate(not_a, bare) == "allow"  # a negated operator holds without its key


@pytest.mark.parametrize(
    "statement",
    [
        {"Condition": {"NumericLessThan": {"k": "1"}}},
        {"Condition": {"StringEqualsIfExists": {"k": "1"}}},
        {"Condition": {"ForAllValues:Null": {"k": "true"}}},
        {"Condition": {"StringEquals": {"aws:TagKeys": "a"}}},
        {"NotResource": "*"},
    ],
)
def test_what_it_cannot_evaluate_raises_rather_than_guesses(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicy):
        _tags(_one(**statement), "a")


def test_principals_apply_to_resource_based_policies_only() -> None:
    named = _one(Principal={"AWS": "arn:aws:iam::1:role/r"})
    unnamed = _one()
    role = Request("ec2:CreateTags", principals=frozenset({"arn:aws:iam::1:role/r"}))
    other = Request("ec2:CreateTags", principals=frozenset({"arn:aws:iam::1:user/u"}))
    assert (evaluate(named, role), evaluate(named, other)) == ("allow", "implicit-deny")
    assert evaluate(unnamed, role) == "implicit-deny"  # a trust statement must name its principal
    assert evaluate(_one(Principal="*"), other) == "allow"
