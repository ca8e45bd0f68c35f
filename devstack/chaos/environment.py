"""An isolated local stack for one chaos run: its own broker, ports, store and var dir.

The run restarts its broker, so it never uses the shared one: the broker gets a home
under the run's var dir (its jars linked from the project's broker home, so nothing is
fetched) and free ports, as does every other process. Everything reaches the processes
as ``SPENDSENSE_*`` variables, the only way settings travel.
"""

from __future__ import annotations

from pathlib import Path

from spendsense.ports import free_ports
from spendsense.settings import Settings

PORT_VARS = (
    "SPENDSENSE_SANDBOX__PORT",
    "SPENDSENSE_DETECTOR__MODEL_PORT",
    "SPENDSENSE_DETECTOR__WEB_PORT",
    "SPENDSENSE_DETECTOR__METRICS_PORT",
    "SPENDSENSE_ACTIONS__WEB_PORT",
    "SPENDSENSE_ACTIONS__METRICS_PORT",
    "SPENDSENSE_API__PORT",
    "SPENDSENSE_API__PROJECTOR_METRICS_PORT",
    "SPENDSENSE_INGEST__METRICS_PORT",
)


def chaos_environment(
    base: Settings, var_dir: Path, speed: float, cooldown_s: int
) -> dict[str, str]:
    """The variables of an isolated stack under ``var_dir`` (created; broker jars linked)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    kafka_home = var_dir / "kafka"
    kafka_home.mkdir(exist_ok=True)
    libs = kafka_home / "libs"
    if not libs.exists():
        libs.symlink_to(base.kafka.home.resolve() / "libs", target_is_directory=True)
    kafka_port, controller_port, *ports = free_ports(2 + len(PORT_VARS))
    env = dict(zip(PORT_VARS, map(str, ports), strict=True))
    model_port = env["SPENDSENSE_DETECTOR__MODEL_PORT"]
    api_port = env["SPENDSENSE_API__PORT"]
    env.update(
        {
            "SPENDSENSE_VAR_DIR": str(var_dir),
            "SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
            "SPENDSENSE_KAFKA__CONTROLLER_PORT": str(controller_port),
            "SPENDSENSE_KAFKA__HOME": str(kafka_home),
            "SPENDSENSE_KAFKA__TOPIC_PREFIX": "",
            "SPENDSENSE_STORE__URL": f"sqlite:///{var_dir / 'spendsense.db'}",
            "SPENDSENSE_SANDBOX__FLEET_DIR": str(var_dir / "fleet"),
            "SPENDSENSE_DETECTOR__MODEL_URL": f"http://127.0.0.1:{model_port}",
            "SPENDSENSE_DETECTOR__CHECKPOINT_PATH": str(var_dir / "detector" / "model.json"),
            "SPENDSENSE_DETECTOR__CHECKPOINT_INTERVAL_S": "5",
            "SPENDSENSE_DETECTOR__RETRY_MAX_S": "2",
            "SPENDSENSE_API__PUBLIC_URL": f"http://127.0.0.1:{api_port}",
            "SPENDSENSE_ACTIONS__PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
            "SPENDSENSE_ACTIONS__COOLDOWN_S": str(cooldown_s),
            "SPENDSENSE_ACTIONS__FLUSH_INTERVAL_S": "5",
            "SPENDSENSE_INGEST__CYCLE_S": "5",
            "SPENDSENSE_INGEST__BACKFILL_DAYS": "8",  # an idle verdict needs a week of history
            "SPENDSENSE_INGEST__POLICY": "naive",
            "SPENDSENSE_AWS__MAX_ATTEMPTS": "4",
            "SPENDSENSE_SANDBOX__SPEED": str(speed),
            "SPENDSENSE_LOG_LEVEL": "INFO",
        }
    )
    return env
