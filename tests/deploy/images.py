"""The deployment test's images: the stand-ins for Docker Hub's, and the project's own.

Docker Hub is not reachable here, so every image docker-compose.yml and the Dockerfile name
from there has a stand-in under ``tests/deploy/standins/<name>/``, built FROM the
debootstrap base (``deploy/scripts/docker-host.sh``). The tags are read, never repeated:

- the Dockerfile's base images keep their official names (``FROM python:...`` is built from
  ``standins/python``), so the project's Dockerfile builds unchanged;
- the stack's images are the ones ``compose.test.yml`` swaps in, one folder per service.

>>> dockerfile_bases("FROM node:20-slim AS ui\\nFROM python:3.11 AS deps\\nFROM deps AS x\\n")
{'node': 'node:20-slim', 'python': 'python:3.11'}
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from devstack.broker import KAFKA_JAR_GLOB, BrokerPaths, ensure_jars
from spendsense.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "tests/deploy/standins"
OVERRIDE = ROOT / "tests/deploy/compose.test.yml"
WORK = ROOT / "var/deploy-test"
PROJECT_IMAGE = "spendsense:latest"
SANDBOX_IMAGE = "spendsense-sandbox:test"


def dockerfile_bases(text: str) -> dict[str, str]:
    """The Dockerfile's external base images by stand-in folder (the image's name)."""
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", text, re.M))
    images = [i for i in re.findall(r"^FROM (\S+)", text, re.M) if i not in stages]
    return {image.split(":")[0].split("/")[-1]: image for image in images}


def stack_standins() -> dict[str, str]:
    """compose.test.yml's swapped images by service (= stand-in folder)."""
    services = yaml.safe_load(OVERRIDE.read_text())["services"]
    return {name: svc["image"] for name, svc in services.items() if "image" in svc}


def docker_build(tag: str, context: Path, *options: str) -> float:
    """``docker build``; the seconds it took. A failed build fails with its output's tail."""
    began = time.monotonic()
    proc = subprocess.run(
        ["docker", "build", "-t", tag, *options, str(context)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise AssertionError(f"docker build of {tag} failed:\n{tail}")
    return time.monotonic() - began


def kafka_context() -> Path:
    """The Kafka stand-in's build context: its folder plus the broker jars the project
    fetches from Maven Central (deploy/kafka/pom.xml), hard-linked in as ``libs/``."""
    paths = BrokerPaths(get_settings().kafka.home)
    ensure_jars(paths)
    context = WORK / "kafka-context"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(STANDINS / "kafka", context)
    (context / "libs").mkdir()
    for jar in paths.libs.glob("*.jar"):
        target = context / "libs" / jar.name
        try:
            target.hardlink_to(jar)
        except OSError:
            shutil.copy2(jar, target)
    assert list((context / "libs").glob(KAFKA_JAR_GLOB)), "no Kafka jar in the stand-in's context"
    return context


def build_all() -> dict[str, float]:
    """Every stand-in (three at a time: mostly apt's downloads), then the project's image
    and its sandbox target; seconds by image."""
    WORK.mkdir(parents=True, exist_ok=True)
    contexts = {
        tag: STANDINS / folder
        for folder, tag in dockerfile_bases((ROOT / "Dockerfile").read_text()).items()
    }
    for service, tag in stack_standins().items():
        contexts[tag] = kafka_context() if service == "kafka" else STANDINS / service
    with ThreadPoolExecutor(max_workers=3) as pool:
        builds = {tag: pool.submit(docker_build, tag, context) for tag, context in contexts.items()}
        took = {tag: build.result() for tag, build in builds.items()}
    took[PROJECT_IMAGE] = docker_build(PROJECT_IMAGE, ROOT)
    took[SANDBOX_IMAGE] = docker_build(SANDBOX_IMAGE, ROOT, "--target", "sandbox")
    return took


def image_size_mb(tag: str) -> float:
    """The image's size as ``docker image inspect`` reports it, in MB."""
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip()) / 1e6
