"""``spendsense sandbox``: the local sandbox AWS account (moto server + trace fleet), foreground.

Prints one ``sandbox ready`` line with the endpoint once seeded; readiness for other
processes is ``GET <endpoint>/_sandbox/health`` (200 when ready). SIGTERM or Ctrl-C
stops it cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from sandbox.accounts import VENDOR_USER, user_credentials
from sandbox.fleet import Fleet, load_fleet, write_fleet
from sandbox.fleet.generator import FleetSpec, generate_fleet
from sandbox.fleet.layout import INSTANCES_FILE
from sandbox.ports import listen
from spendsense.errors import ConfigError
from spendsense.settings import SandboxSettings, get_settings


def _fleet(folder: Path | None, settings: SandboxSettings) -> Fleet:
    if folder is not None:
        return load_fleet(folder)
    folder = settings.fleet_dir
    if not (folder / INSTANCES_FILE).is_file():
        print(
            f"no fleet in {folder}: generating one (seed {settings.seed})",
            file=sys.stderr,
            flush=True,
        )
        write_fleet(
            generate_fleet(FleetSpec(seed=settings.seed, history_days=settings.history_days)),
            folder,
        )
    return load_fleet(folder)


def _run(args: argparse.Namespace) -> int:
    updates: dict[str, object] = {}
    if args.port is not None:
        updates["port"] = args.port
    if args.seed is not None:
        updates["seed"] = args.seed
    if args.speed is not None:
        updates["speed"] = args.speed
    try:
        settings = SandboxSettings.model_validate(
            {**get_settings().sandbox.model_dump(), **updates}
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"--{err['loc'][0]}: {err['msg']} (got {err.get('input')!r})") from None
    if args.print_env:
        key, secret = user_credentials(settings.vendor_account_id, VENDOR_USER)
        print(f"SPENDSENSE_AWS__ENDPOINT_URL={settings.url}")
        print(f"SPENDSENSE_AWS__ACCESS_KEY_ID={key}")
        print(f"SPENDSENSE_AWS__SECRET_ACCESS_KEY={secret}")
        return 0
    began = time.monotonic()
    listener = listen(settings.host, settings.port)
    try:
        fleet = _fleet(args.fleet, settings)
    except BaseException:
        listener.close()
        raise
    # moto is heavy to import: only this command needs it, not every `spendsense` call
    from sandbox.server import SandboxServer

    server = SandboxServer(settings, fleet, get_settings().aws.service_role_name)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        endpoint = server.start(listener)
        key, _ = user_credentials(settings.vendor_account_id, VENDOR_USER)
        print(
            f"sandbox ready at {endpoint} ({len(fleet.instances)} instances, tenants "
            f"{', '.join(server.state.tenants)}; vendor account {settings.vendor_account_id} key {key}; "
            f"seeded in {time.monotonic() - began:.1f} s)",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("sandbox stopped", flush=True)
    sys.stderr.flush()
    # Interpreter teardown would spend seconds freeing moto's backends; the port is
    # released and nothing else is left to finalize, so leave at once.
    os._exit(0)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sandbox", help="run the sandbox AWS account (moto + trace fleet) in the foreground"
    )
    parser.add_argument(
        "--fleet",
        type=Path,
        help="trace-fleet folder (default: settings fleet_dir, generated if empty)",
    )
    parser.add_argument(
        "--port", type=int, help="port on 127.0.0.1 (default 5055; 0 picks a free one)"
    )
    parser.add_argument("--seed", type=int, help="seed for generated fleets and stop protection")
    parser.add_argument("--speed", type=float, help="sandbox seconds per real second (default 1)")
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print the SPENDSENSE_AWS__* settings that point SpendSense at this sandbox, and exit",
    )
    parser.set_defaults(func=_run)
