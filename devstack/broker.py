"""The local Apache Kafka 3.9 broker (KRaft, one combined broker+controller node).

Its jars come from Maven Central through ``deploy/kafka/pom.xml`` into
``<kafka.home>/libs``; storage is formatted once; the broker runs as a plain
``java ... kafka.Kafka`` process with its log in ``<kafka.home>/broker.log``.
``spendsense kafka start|stop|status|run|topics`` drives it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from spendsense.errors import ConfigError, DependencyMissing, ServiceError
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import ROOT, KafkaSettings

log = logging.getLogger(__name__)

POM = ROOT / "deploy" / "kafka" / "pom.xml"
KAFKA_JAR_GLOB = "kafka_2.13-3.9.*.jar"


@dataclass(frozen=True)
class BrokerPaths:
    """Where the local broker keeps its jars, config, data, pid and log."""

    home: Path

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.home / "log4j.properties"

    @property
    def pid(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log(self) -> Path:
        return self.home / "broker.log"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _require(program: str, hint: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise DependencyMissing(f"{program} not found: {hint}")
    return path


def ensure_jars(paths: BrokerPaths) -> None:
    """Fetch the broker's runtime classpath with Maven unless it is already there."""
    if list(paths.libs.glob(KAFKA_JAR_GLOB)):
        return
    _require("java", "install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)")
    mvn = _require("mvn", "install Maven (Debian: apt-get install maven)")
    paths.libs.mkdir(parents=True, exist_ok=True)
    print(f"fetching Kafka 3.9 jars with Maven into {paths.libs} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={paths.libs}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not list(paths.libs.glob(KAFKA_JAR_GLOB)):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise ServiceError(
            f"Maven could not fetch the Kafka jars ({tail[0]}); check network access"
        )


def write_config(settings: KafkaSettings, paths: BrokerPaths) -> None:
    """Write server.properties and log4j.properties for a single-node KRaft broker."""
    host, port = settings.host, settings.port
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{settings.controller_port}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{settings.controller_port}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={paths.data}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "log.retention.hours=336",
                "log.segment.bytes=67108864",
                "log.cleaner.dedupe.buffer.size=16777216",
                "",
            ]
        )
    )
    paths.log4j.write_text(
        "\n".join(
            [
                "log4j.rootLogger=INFO, file",
                "log4j.appender.file=org.apache.log4j.RollingFileAppender",
                f"log4j.appender.file.File={paths.log}",
                "log4j.appender.file.MaxFileSize=20MB",
                "log4j.appender.file.MaxBackupIndex=2",
                "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
                "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
                "log4j.logger.kafka=INFO",
                "log4j.logger.org.apache.kafka=WARN",
                "log4j.logger.state.change.logger=WARN",
                "",
            ]
        )
    )


def _java_cmd(settings: KafkaSettings, paths: BrokerPaths, *args: str) -> list[str]:
    java = _require("java", "install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)")
    return [
        java,
        f"-Xmx{settings.heap}",
        f"-Xms{settings.heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{paths.log4j}",
        "-cp",
        f"{paths.libs}/*",
        *args,
    ]


def format_storage(settings: KafkaSettings, paths: BrokerPaths) -> None:
    """Format the KRaft log directory once (a no-op when it is already formatted)."""
    if (paths.data / "meta.properties").exists():
        return
    cluster_id = (
        subprocess.run(
            _java_cmd(settings, paths, "kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
            check=False,
        )
        .stdout.strip()
        .splitlines()
    )
    cid = cluster_id[-1] if cluster_id else ""
    if len(cid) != 22:
        cid = uuid.uuid4().bytes.hex()[:22]
    proc = subprocess.run(
        _java_cmd(
            settings,
            paths,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cid,
            "-c",
            str(paths.config),
            "--ignore-formatted",
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ServiceError(f"formatting Kafka storage failed: {proc.stderr.strip()[-200:]}")


def prepare(settings: KafkaSettings) -> BrokerPaths:
    """Jars, config and formatted storage: everything the broker needs before it starts."""
    paths = BrokerPaths(settings.home)
    ensure_jars(paths)
    write_config(settings, paths)
    format_storage(settings, paths)
    return paths


def running_pid(paths: BrokerPaths) -> int | None:
    """The pid of the broker this project started, if it is alive."""
    try:
        pid = int(paths.pid.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def broker_ready(settings: KafkaSettings, timeout: float = 3.0) -> bool:
    """True when the broker answers a metadata request."""
    if not port_open(settings.host, settings.port):
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            **kafka_python_config(
                settings, request_timeout_ms=int(timeout * 1000), client_id="spendsense-probe"
            )
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def wait_ready(settings: KafkaSettings, paths: BrokerPaths, pid: int | None) -> None:
    """Block until the broker answers, or raise with the log's path after the timeout."""
    deadline = time.monotonic() + settings.start_timeout_s
    while time.monotonic() < deadline:
        if broker_ready(settings):
            return
        if pid is not None and running_pid(paths) is None:
            raise ServiceError(f"the Kafka broker exited during start; see {paths.log}")
        time.sleep(0.5)
    raise ServiceError(
        f"the Kafka broker did not answer at {settings.bootstrap_servers} within "
        f"{settings.start_timeout_s:.0f}s; see {paths.log}"
    )


def start(settings: KafkaSettings) -> int:
    """Start the broker in the background (idempotent) and wait until it is ready."""
    paths = BrokerPaths(settings.home)
    pid = running_pid(paths)
    if pid is not None:
        wait_ready(settings, paths, pid)
        return pid
    for port in (settings.port, settings.controller_port):
        if port_open(settings.host, port):
            raise ConfigError(
                f"port {settings.host}:{port} is already taken by another program; stop it or "
                "set SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS / SPENDSENSE_KAFKA__CONTROLLER_PORT"
            )
    paths = prepare(settings)
    with paths.log.with_suffix(".out").open("ab") as out:
        proc = subprocess.Popen(
            _java_cmd(settings, paths, "kafka.Kafka", str(paths.config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    paths.pid.write_text(str(proc.pid))
    try:
        wait_ready(settings, paths, proc.pid)
    except ServiceError:
        stop(settings)
        raise
    return proc.pid


def stop(settings: KafkaSettings, timeout: float = 30.0) -> bool:
    """Stop the broker this project started; True if one was running."""
    paths = BrokerPaths(settings.home)
    pid = running_pid(paths)
    if pid is None:
        paths.pid.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(paths) is not None:
        time.sleep(0.2)
    if running_pid(paths) is not None:
        os.kill(pid, signal.SIGKILL)
    paths.pid.unlink(missing_ok=True)
    return True


def run_foreground(settings: KafkaSettings) -> None:
    """Replace this process with the broker (for a supervisor such as honcho)."""
    for port in (settings.port, settings.controller_port):
        if port_open(settings.host, port):
            raise ConfigError(f"port {settings.host}:{port} is already taken by another program")
    paths = prepare(settings)
    cmd = _java_cmd(settings, paths, "kafka.Kafka", str(paths.config))
    os.execv(cmd[0], cmd)
