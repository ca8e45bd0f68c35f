"""docker-compose.yml: every service healthy-checked and restarted, one image for Python,
secrets only from the environment, commands that exist in the tree, scrape ports that match."""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from devstack import stack
from spendsense.cli import build_parser
from tests.fixtures.compose import COMPOSE, REQUIRED_ENV, ROOT, compose_service, interpolate

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (inside a container)
PYTHON_SERVICES = {"collector", "detector", "model", "actions", "api", "projector"}
OTHER_SERVICES = {"kafka", "postgres", "prometheus", "grafana", "node-exporter", "nginx"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == PYTHON_SERVICES | OTHER_SERVICES
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:3.9.")
    assert "grafana-data" in compose["volumes"]
    assert "grafana-data:/var/lib/grafana" in compose["services"]["grafana"]["volumes"]


def test_every_service_has_a_healthcheck_and_restart_policy(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} has no healthcheck"


def test_python_services_share_one_dockerfile_and_image(compose: dict[str, Any]) -> None:
    images = set()
    for name in PYTHON_SERVICES:
        service = compose["services"][name]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        images.add(service["image"])
    assert len(images) == 1
    for name in OTHER_SERVICES:
        assert "build" not in compose["services"][name], f"{name} should use a published image"


def test_secrets_come_from_the_environment() -> None:
    text = COMPOSE.read_text()
    secret_keys = re.compile(r"^\s*([A-Z_]*(PASSWORD|SECRET|SIGNING_KEY)[A-Z_]*):\s*(.+)$", re.M)
    found = secret_keys.findall(text)
    assert found, "expected the stack's secrets in the environment section"
    for key, _, value in found:
        assert re.search(r"\$\{[A-Z_]+:\?[^}]+\}", value), f"{key} is not required from the env"
    store_url = re.search(r"SPENDSENSE_STORE__URL: (.+)", text)
    assert store_url and "${POSTGRES_PASSWORD:?" in store_url.group(1)


def _faust_or_uvicorn_module(command: list[str]) -> str | None:
    if command[0] == "faust":
        return command[command.index("-A") + 1]
    if command[0] == "uvicorn":
        return command[1].split(":")[0]
    return None


def test_commands_exist_in_the_tree(compose: dict[str, Any]) -> None:
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name in PYTHON_SERVICES:
        command = compose["services"][name]["command"]
        module = _faust_or_uvicorn_module(command)
        if module is not None:
            assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"
        elif command[0] == "spendsense":
            assert command[1] in subcommands, f"{name}: no `spendsense {command[1]}`"
        else:
            assert command[:2] == ["bentoml", "serve"], name
            module, attr = command[2].split(":")
            spec = importlib.util.find_spec(module)
            assert spec is not None and spec.origin is not None
            tree = ast.parse(Path(spec.origin).read_text())
            assert attr in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}


def test_compose_runs_the_table_s_commands() -> None:
    """Each Python service runs the command the table of processes gives for the settings
    its environment sets, listening on every interface."""
    for name in PYTHON_SERVICES:
        service = compose_service(name)
        environment = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        settings = stack.settings_for(environment, inherit=False)
        assert service["command"] == stack.command(name, settings, host=ALL_INTERFACES), name


def test_prometheus_scrapes_each_process_on_its_health_checked_port(
    compose: dict[str, Any],
) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    for name in PYTHON_SERVICES:
        health_url = compose["services"][name]["healthcheck"]["test"][-1]
        port = re.search(r":(\d+)/", health_url)
        assert port, name
        assert targets[{"model": "model"}.get(name, name)] == f"{name}:{port.group(1)}"
    assert targets["node"] == "node-exporter:9100"


def _ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def test_dockerfile_copies_what_the_build_context_holds() -> None:
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    sources = re.findall(r"^COPY (?!--from)(\S+(?: \S+)*) \S+$", dockerfile, re.M)
    assert sources
    for group in sources:
        for source in group.split():
            path = source.rstrip("/")
            assert (ROOT / path).exists(), f"Dockerfile copies {source}, which does not exist"
            assert not _ignored(path, ignore), f".dockerignore excludes {source}"
    assert os.access(ROOT / "deploy/docker/entrypoint.sh", os.X_OK)


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    document = yaml.safe_load(interpolate(COMPOSE.read_text(), REQUIRED_ENV))
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        interpolate(
            COMPOSE.read_text(), {k: v for k, v in REQUIRED_ENV.items() if k != "POSTGRES_PASSWORD"}
        )


def _docker_compose_works() -> str | None:
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"docker compose plugin unavailable: {(probe.stderr or probe.stdout).strip()}"
    return None


def test_docker_compose_config_validates() -> None:
    why = _docker_compose_works()
    if why is not None:
        pytest.skip(f"`docker compose config` not run: {why}")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, **REQUIRED_ENV},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in REQUIRED_ENV},
        cwd=ROOT,
    )
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr
