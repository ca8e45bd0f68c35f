"""Ansible, Terraform and CloudFormation: syntax and lint pass, and the customer role grants
exactly the permissions the collectors and actions declare, with the guards and the trust
spendsense.customer_role builds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from api.customer_permissions import declared
from spendsense.customer_role import RoleSetup

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ANSIBLE = ROOT / "deploy" / "ansible"
TERRAFORM = ROOT / "deploy" / "terraform"
CFN_TEMPLATE = ROOT / "deploy" / "cloudformation" / "customer-role.yaml"
DECLARED = RoleSetup(
    vendor_account_id="210987654321", external_id="abc-123", permissions=declared()
)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=180)


def test_ansible_playbook_syntax_check() -> None:
    result = _run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            "inventory.example.yml",
            "site.yml",
        ],
        ANSIBLE,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile() -> None:
    result = _run([str(BIN / "ansible-lint"), "--nocolor", "site.yml"], ANSIBLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stderr + result.stdout


def test_ansible_env_template_writes_every_variable_compose_requires() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", compose))
    template = (ANSIBLE / "roles/spendsense/templates/env.j2").read_text()
    written = set(re.findall(r"^([A-Z_]+)=", template, re.M))
    assert required <= written, f"env.j2 misses {sorted(required - written)}"


def _unquote(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip('"')
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _tf_variables(path: Path) -> dict[str, dict[str, Any]]:
    blocks = hcl2.loads(path.read_text())["variable"]
    return {_unquote(name): body for block in blocks for name, body in block.items()}


def test_terraform_files_parse_as_hcl() -> None:
    files = sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tfvars.example"))
    assert len(files) >= 8
    for path in files:
        hcl2.loads(path.read_text())  # raises on a syntax error, naming the line


def test_terraform_host_and_security_group() -> None:
    main = hcl2.loads((TERRAFORM / "main.tf").read_text())
    resources = {
        (_unquote(kind), _unquote(name))
        for block in main["resource"]
        for kind, named in block.items()
        for name in named
    }
    for needed in [
        ("aws_instance", "host"),
        ("aws_security_group", "spendsense"),
        ("aws_iam_instance_profile", "host"),
        ("aws_eip", "host"),
    ]:
        assert needed in resources
    text = (TERRAFORM / "main.tf").read_text()
    assert 'http_tokens                 = "required"' in text


def test_terraform_customer_role_module_matches_the_registries() -> None:
    variables = _tf_variables(TERRAFORM / "modules/customer-role/variables.tf")
    grants = DECLARED.stop_grants()
    assert _unquote(variables["read_only_actions"]["default"]) == DECLARED.read_only_actions()
    assert _unquote(variables["stop_read_actions"]["default"]) == grants.reads
    assert _unquote(variables["stop_actions"]["default"]) == grants.instance
    assert _unquote(variables["tag_actions"]["default"]) == grants.tagging
    assert sorted(grants.reads + grants.instance + grants.tagging) == DECLARED.stop_actions()
    assert _unquote(variables["vendor_role_name"]["default"]) == DECLARED.service_role_name
    role = (TERRAFORM / "modules/customer-role/main.tf").read_text()
    assert '"arn:aws:iam::${var.vendor_account_id}:role/${var.vendor_role_name}"' in role
    assert ":root" not in role
    assert '"sts:ExternalId" = var.external_id' in role
    assert "count = var.allow_stop ? 1 : 0" in role
    sids = re.findall(r'Sid\s*=\s*"(\w+)"', role)
    rendered = [
        *DECLARED.stop_policy("111111111111")["Statement"],
        *DECLARED.waste_policy("111111111111")["Statement"],
    ]
    assert sids == ["SpendSenseReadOnly", *(s["Sid"] for s in rendered)]
    for guard in (
        'Null = { "aws:ResourceTag/${local.protect_tag}" = "false" }',
        '"ForAllValues:StringLike" = { "aws:TagKeys" = ["spendsense:*"] }',
        '"ForAnyValue:StringEquals" = { "aws:TagKeys" = [local.protect_tag] }',
        'Null = { "aws:TagKeys" = "true" }',
    ):
        assert guard in role, guard


def test_rendered_terraform_snippet_is_valid_hcl() -> None:
    parsed = hcl2.loads(DECLARED.terraform())
    assert {_unquote(k) for block in parsed["resource"] for k in block} >= {
        "aws_iam_role",
        "aws_iam_role_policy",
    }


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation's short-form intrinsics as {"!Tag": value}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    return {f"!{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def _long_form(value: Any) -> Any:
    """CloudFormation's short-form intrinsics ({"!Sub": x}) in long form ({"Fn::Sub": x})."""
    if isinstance(value, dict):
        return {
            (f"Fn::{k[1:]}" if k.startswith("!") and k != "!Ref" else k.lstrip("!")): _long_form(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_long_form(v) for v in value]
    return value


def _document(template: dict[str, Any], resource: str) -> dict[str, Any]:
    document: dict[str, Any] = template["Resources"][resource]["Properties"]["PolicyDocument"]
    return _long_form(document)


def _allowed(document: dict[str, Any]) -> list[str]:
    return sorted(a for s in document["Statement"] if s["Effect"] == "Allow" for a in s["Action"])


def test_cloudformation_template_grants_what_the_registries_declare() -> None:
    committed = yaml.load(CFN_TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)
    rendered = DECLARED.cloudformation()
    for resource in ("ReadOnlyPolicy", "StopPolicy", "WastePolicy"):
        assert _document(committed, resource) == _document(rendered, resource), resource
    assert _allowed(_document(committed, "ReadOnlyPolicy")) == sorted(DECLARED.read_only_actions())
    assert _allowed(_document(committed, "StopPolicy")) == sorted(DECLARED.stop_actions())
    assert not set(_allowed(_document(committed, "ReadOnlyPolicy"))) & set(
        _allowed(_document(committed, "StopPolicy"))
    ), "read-only and stop policies must stay separate"
    trust = committed["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert condition == {"sts:ExternalId": {"!Ref": "ExternalId"}}
    assert trust["Statement"][0]["Principal"] == {
        "AWS": {
            "!Sub": "arn:${AWS::Partition}:iam::${SpendSenseAccountId}:role/"
            "${SpendSenseServiceRoleName}"
        }
    }
    assert (
        committed["Parameters"]["SpendSenseServiceRoleName"]["Default"]
        == DECLARED.service_role_name
    )
    assert committed["Resources"]["StopPolicy"]["Condition"] == "StopAllowed"


def test_cfn_lint_passes_on_the_committed_and_the_rendered_template(tmp_path: Path) -> None:
    rendered = tmp_path / "rendered-role.json"
    rendered.write_text(json.dumps(DECLARED.cloudformation(), indent=2))
    result = _run([str(BIN / "cfn-lint"), str(CFN_TEMPLATE), str(rendered)], ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", ".github/workflows/deploy.yml"])
def test_workflows_parse(path: str) -> None:
    workflow = yaml.safe_load((ROOT / path).read_text())
    assert workflow["jobs"]
    for job in workflow["jobs"].values():
        assert job["runs-on"] and job["steps"]
