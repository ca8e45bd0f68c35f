"""The Ansible play (deploy/ansible/site.yml) run for real: ``ansible-playbook`` over SSH
against a container made from the local Debian base (tests/deploy/ansible_host: sshd and
Python, nothing of Docker), deploying this working tree with the image built here.

What runs for real: SSH, fact gathering and ``become``; the docker role installing Debian's
``docker.io`` from the Debian mirror and checking the daemon answers and compose v2 is
there; the release unpacked; the env file written (0600, every value compose requires);
``docker compose up --wait`` starting the stack from the built image until every
healthcheck passes; the play's readiness check through nginx over HTTPS. The test then
checks the stack from outside: every service healthy, nginx answering, the monitoring
routes behind the log-in.

What a container cannot do, and what stands in (passed as extra vars, each a role default
in production):

- Docker's apt repository is unreachable here: ``docker_apt_repository=false`` with
  ``docker_packages=[docker.io]``; and Debian bookworm packages no compose v2 plugin, so
  the host's own (deploy/scripts/docker-host.sh builds it) is mounted into the container.
- dockerd cannot run in an unprivileged container without an init system:
  ``docker_manage_service=false``, and the container talks to this machine's daemon
  through its mounted socket. The stack's containers are therefore siblings of the
  "host", and compose's bind mounts resolve on this machine: the stack's folder, the
  certificate and the ACME folder are mounted into the container at the same paths.
- Docker Hub is unreachable: the stand-ins (tests/deploy/images.py) are tagged with the
  official names docker-compose.yml uses, for the run only.
- The daemon is shared: the stack runs as its own compose project on its own subnet and
  ports, and the play's image prune is off.
- The play's first step packages ``git archive HEAD``; the test ships the working tree
  instead (``--limit`` leaves that step out), so what is tested is what is checked out.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from spendsense.ports import free_port
from tests.deploy.images import PROJECT_IMAGE, build_all, docker_build, stack_standins
from tests.fixtures.served import self_signed_certificate

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "deploy" / "ansible"
BIN = Path(sys.executable).parent
WORK = ROOT / "var" / "ansible-play"
HOST_IMAGE = "spendsense-test/ansible-host:bookworm"
HOST_NAME = "spendsense-ansible-host"
PROJECT = "spendsense-ansible"
SUBNET, PROXY = "172.30.81.0/24", "172.30.81.10"
COMPOSE_PLUGIN = "/usr/libexec/docker/cli-plugins/docker-compose"
SECRETS = {
    "SPENDSENSE_PUBLIC_URL": "https://spendsense.example",
    "SPENDSENSE_SENDER": "alerts@spendsense.example",
    "SPENDSENSE_VENDOR_ACCOUNT_ID": "210987654321",
    "POSTGRES_PASSWORD": "p" * 24,
    "SPENDSENSE_SESSION_SECRET": "s" * 64,
    "SPENDSENSE_LINK_SIGNING_KEY": "k" * 64,
    "GRAFANA_ADMIN_PASSWORD": "g" * 16,
}
OPERATORS = "ops@spendsense.example, oncall@spendsense.example"


def run(
    *args: str,
    check: bool = True,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """A command's result; a failure shows its output's tail."""
    proc = subprocess.run(
        args, capture_output=True, text=True, check=False, cwd=cwd, env=env, timeout=timeout
    )
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise AssertionError(f"{' '.join(args[:4])} ... failed ({proc.returncode}):\n{tail}")
    return proc


def release_archive(path: Path) -> Path:
    """The working tree as the play ships a release: tracked and untracked files git does
    not ignore (``git archive HEAD`` would ship the last commit only)."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    with tarfile.open(path, "w:gz") as tar:
        for name in sorted(set(filter(None, listed.stdout.split("\0")))):
            if (ROOT / name).is_file():
                tar.add(ROOT / name, arcname=name)
    return path


@dataclass(frozen=True)
class Host:
    """The container the play deploys to, reached over SSH."""

    address: str
    key: Path
    known_hosts: Path
    gateway: str  # where the container reaches this machine's published ports


@pytest.fixture(scope="module")
def images() -> Iterator[None]:
    """Docker running, the stand-ins and the project's image built, the stand-ins tagged
    with the official names for the run (untagged after)."""
    run("bash", str(ROOT / "deploy/scripts/docker-host.sh"))
    build_all()
    docker_build(HOST_IMAGE, Path(__file__).parent / "ansible_host")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    official = {
        stand_in: compose[service]["image"] for service, stand_in in stack_standins().items()
    }
    for stand_in, name in official.items():
        run("docker", "tag", stand_in, name)
    yield
    for name in official.values():
        run("docker", "rmi", name, check=False)


@pytest.fixture(scope="module")
def host(images: None) -> Iterator[Host]:
    """The target host: the ansible_host image with this machine's Docker socket, the
    compose plugin and the stack's folder mounted (paths as on this machine)."""
    run("docker", "rm", "-f", HOST_NAME, check=False)
    WORK.mkdir(parents=True, exist_ok=True)
    key = WORK / "id_ed25519"
    key.unlink(missing_ok=True)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    run(
        *("docker", "run", "-d", "--name", HOST_NAME),
        *("-v", "/var/run/docker.sock:/var/run/docker.sock"),
        *("-v", f"{COMPOSE_PLUGIN}:{COMPOSE_PLUGIN}:ro"),
        *("-v", f"{WORK}:{WORK}"),
        *("-v", f"{key}.pub:/root/.ssh/authorized_keys:ro"),
        HOST_IMAGE,
    )
    try:
        inspect = json.loads(run("docker", "inspect", HOST_NAME).stdout)[0]
        network = inspect["NetworkSettings"]["Networks"]["bridge"]
        address = network["IPAddress"]
        host_key = run("docker", "exec", HOST_NAME, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
        known_hosts = WORK / "known_hosts"
        known_hosts.write_text(f"{address} {host_key.stdout.strip()}\n")
        yield Host(address, key, known_hosts, network["Gateway"])
    finally:
        run("docker", "rm", "-f", HOST_NAME, check=False)


@dataclass(frozen=True)
class Deployed:
    src: Path
    https_port: int
    play: subprocess.CompletedProcess[str]
    seconds: float


def compose_ps(src: Path) -> list[dict[str, str]]:
    """``docker compose ps`` of the stack in ``src``: one JSON object a line (compose
    2.21 and later) or one array."""
    listed = run("docker", "compose", "--project-directory", str(src), "ps", "--format", "json")
    out: list[dict[str, str]] = []
    for line in filter(str.strip, listed.stdout.splitlines()):
        value = json.loads(line)
        out.extend(value if isinstance(value, list) else [value])
    return out


def compose_down(src: Path) -> None:
    if (src / ".env").exists():
        run("docker", "compose", "--project-directory", str(src), "down", "-v", check=False)


@pytest.fixture(scope="module")
def deployed(host: Host) -> Iterator[Deployed]:
    """``ansible-playbook site.yml`` against the host; the stack torn down after."""
    site = WORK / "opt"
    src = site / "src"
    compose_down(src)
    run("rm", "-rf", str(site))
    tls = WORK / "tls"
    tls.mkdir(exist_ok=True)
    self_signed_certificate(tls)
    https_port = free_port()
    inventory = WORK / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "spendsense": {
                            "hosts": {
                                "container": {
                                    "ansible_host": host.address,
                                    "ansible_user": "root",
                                    "ansible_ssh_private_key_file": str(host.key),
                                    "ansible_ssh_common_args": (
                                        f"-o UserKnownHostsFile={host.known_hosts}"
                                    ),
                                }
                            }
                        }
                    }
                }
            }
        )
    )
    extra = {
        "docker_apt_repository": False,
        "docker_packages": ["docker.io"],
        "docker_manage_service": False,
        "docker_users": [],
        "spendsense_dir": str(site),
        "spendsense_image": PROJECT_IMAGE,
        "spendsense_compose_project": PROJECT,
        "spendsense_subnet": SUBNET,
        "spendsense_proxy_address": PROXY,
        "spendsense_http_port": free_port(),
        "spendsense_https_port": https_port,
        "spendsense_tls_dir": str(tls),
        "spendsense_acme_dir": str(WORK / "acme"),
        "spendsense_ready_host": host.gateway,
        "spendsense_ready_timeout_s": 400,
        "spendsense_prune_images": False,
    }
    env = {
        **os.environ,
        **SECRETS,
        "SPENDSENSE_OPERATOR_EMAILS": OPERATORS,
        "SPENDSENSE_ARCHIVE": str(release_archive(WORK / "release.tar.gz")),
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    began = time.monotonic()
    play = run(
        str(BIN / "ansible-playbook"),
        *("-i", str(inventory), "--limit", "spendsense"),
        *("--extra-vars", json.dumps(extra)),
        "site.yml",
        check=False,
        cwd=ANSIBLE,
        env=env,
        timeout=1200,
    )
    took = time.monotonic() - began
    try:
        yield Deployed(src, https_port, play, took)
    finally:
        compose_down(src)


def test_the_play_installs_docker_writes_the_env_file_and_brings_the_stack_up(
    deployed: Deployed,
) -> None:
    play = deployed.play
    assert play.returncode == 0, play.stdout[-6000:] + play.stderr[-2000:]
    assert "failed=0" in play.stdout and "unreachable=0" in play.stdout
    print(f"ansible-playbook until the stack was healthy: {deployed.seconds:.0f} s")

    # Docker installed on the host by the docker role, talking to a daemon
    dpkg = run("docker", "exec", HOST_NAME, "dpkg-query", "-W", "-f", "${Status}", "docker.io")
    assert dpkg.stdout == "install ok installed"
    run("docker", "exec", HOST_NAME, "docker", "compose", "version")

    # the env file: root's only, every value the play was given
    stat = run("docker", "exec", HOST_NAME, "stat", "-c", "%a %U", f"{deployed.src}/.env")
    assert stat.stdout.split() == ["600", "root"]
    written = dict(
        line.split("=", 1)
        for line in (deployed.src / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert {k: written.get(k) for k in SECRETS} == SECRETS
    assert written["SPENDSENSE_IMAGE"] == PROJECT_IMAGE
    assert written["COMPOSE_PROJECT_NAME"] == PROJECT
    assert written["SPENDSENSE_OPERATOR_EMAILS"] == (
        """'["ops@spendsense.example", "oncall@spendsense.example"]'"""
    )

    # every service up and healthy, the Python ones from the built image
    services = compose_ps(deployed.src)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {s["Service"] for s in services} == set(compose)
    unhealthy = {s["Service"]: s["Health"] for s in services if s["Health"] != "healthy"}
    assert not unhealthy, unhealthy
    assert {s["Image"] for s in services if s["Service"] == "api"} == {PROJECT_IMAGE}

    # nginx answers over HTTPS; the monitoring routes want SpendSense's log-in
    verify = ssl.create_default_context(cafile=str(WORK / "tls" / "fullchain.pem"))
    with httpx.Client(base_url=f"https://127.0.0.1:{deployed.https_port}", verify=verify) as web:
        assert web.get("/readyz").status_code == 200
        for path in ("/grafana/", "/prometheus/"):
            refused = web.get(path)
            assert refused.status_code == 302, (path, refused.status_code)
            assert refused.headers["location"].endswith(f"/login?next={path}")
