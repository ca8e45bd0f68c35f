"""The whole local stack on the sandbox AWS account: what ``spendsense demo`` runs.

:class:`LocalStack` starts the broker and the sandbox, creates the topics, migrates the
store, onboards demo tenants exactly as a customer would (SpendSense generates an
ExternalId; the customer creates the role that trusts SpendSense with it), then starts
the pipeline's processes, each waited on until ready. The chaos run reuses it.

The sandbox is reached the way any AWS endpoint is: through ``SPENDSENSE_AWS__ENDPOINT_URL``
and SpendSense's own account key, set in the environment the processes inherit.

Each process's output goes to ``<var_dir>/log/<name>.log``. The console (``out``) shows the
stack's steps, each process ready, and each process's warnings and errors; ``verbose``
shows every line too, and ``milestones`` adds the pipeline's news (:mod:`devstack.milestones`).
"""

from __future__ import annotations

import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from devstack import broker, stack
from devstack.console import Console
from devstack.milestone_feed import MilestoneFeed
from devstack.supervisor import Supervisor
from spendsense import topic_admin
from spendsense.errors import ConfigError
from spendsense.settings import Settings, get_settings

if TYPE_CHECKING:
    from spendsense.store import Store

DEMO_REGIONS = ("us-east-1", "eu-west-1")
DEMO_RESOURCES = 4  # of each resource kind beyond instances, in the demo's fleet


@dataclass(frozen=True)
class DemoLogin:
    """A demo user's e-mail and password, and the AWS account connected for it."""

    email: str
    password: str
    account_id: str


def demo_environment(settings: Settings, sandbox_port: int, speed: float | None) -> dict[str, str]:
    """The environment every process of the local stack runs with."""
    from sandbox.accounts import VENDOR_USER, user_credentials

    vendor = settings.sandbox.vendor_account_id
    key, secret = user_credentials(vendor, VENDOR_USER)
    env = {
        "SPENDSENSE_AWS__ENDPOINT_URL": f"http://{settings.sandbox.host}:{sandbox_port}",
        "SPENDSENSE_AWS__ACCESS_KEY_ID": key,
        "SPENDSENSE_AWS__SECRET_ACCESS_KEY": secret,
        "SPENDSENSE_API__VENDOR_ACCOUNT_ID": vendor,
        "SPENDSENSE_API__DEMO_MODE": "true",
        "SPENDSENSE_SANDBOX__PORT": str(sandbox_port),
    }
    if speed is not None:
        env["SPENDSENSE_SANDBOX__SPEED"] = str(speed)
    return env


def _ports_in_use(settings: Settings) -> list[int]:
    det, act, api = settings.detector, settings.actions, settings.api
    ports = [
        settings.kafka.port,
        settings.kafka.controller_port,
        settings.sandbox.port,
        det.model_port,
        det.web_port,
        det.metrics_port,
        act.web_port,
        act.metrics_port,
        api.port,
        api.projector_metrics_port,
        settings.ingest.metrics_port,
    ]
    return [p for p in ports if p and broker.port_open("127.0.0.1", p)]


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


class LocalStack:
    """Starts and stops the broker, the sandbox and every pipeline process."""

    def __init__(
        self,
        fleet_dir: Path | None = None,
        speed: float | None = None,
        out: IO[str] | None = None,
        *,
        verbose: bool = True,
        milestones: bool = False,
    ) -> None:
        self.speed = speed
        self.settings = get_settings()
        self.console = Console(out or sys.stdout, verbose=verbose)
        self.log_dir = self.settings.var_dir / "log"
        self.supervisor = Supervisor(self.console, log_dir=self.log_dir)
        self.milestones = milestones
        self.feed: MilestoneFeed | None = None
        self.fleet_dir = fleet_dir or self.settings.sandbox.fleet_dir
        self.env: dict[str, str] = {}

    def _say(self, line: str) -> None:
        self.console.step(line)

    def _apply_environment(self) -> None:
        """The demo's environment, for the processes it starts (this process's own
        environment stays as it was: the tests run stacks in-process one after another)."""
        self.env = demo_environment(self.settings, self.settings.sandbox.port, self.speed)
        self.settings = stack.settings_for(self.env)

    def start(self) -> list[DemoLogin]:
        """Start everything; returns the demo logins. Raises with one line on failure."""
        taken = _ports_in_use(self.settings)
        if taken:
            raise ConfigError(
                f"ports already taken: {', '.join(map(str, taken))}; stop what uses them "
                "(a running demo? `spendsense kafka stop`) and try again"
            )
        self._ensure_fleet()
        self._apply_environment()
        signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            for spec in stack.infrastructure(self.settings, self.fleet_dir, self.env):
                self._say(f"starting {spec.name}")
                self.supervisor.start(spec)
            topic_admin.create_topics(self.settings.kafka)
            self._say("migrating the store and onboarding the demo tenants")
            logins = self.onboard()
            if self.milestones:
                self.feed = MilestoneFeed(self.settings, self.console.milestone)
                self.feed.mark()  # before the pipeline: its first news is after the marks
            for spec in stack.pipeline(self.settings, self.env):
                self._say(f"starting {spec.name}")
                self.supervisor.start(spec)
            if self.feed is not None:
                self.feed.start()
        except BaseException:
            self.stop()
            raise
        return logins

    def _ensure_fleet(self) -> None:
        if (self.fleet_dir / "instances.json").exists():
            return
        from sandbox.fleet import FleetSpec, generate_fleet, write_fleet

        self._say(f"generating the sandbox fleet into {self.fleet_dir}")
        # a few of each resource kind beyond instances, so the waste cards have something
        spec = FleetSpec(seed=self.settings.sandbox.seed, resources=DEMO_RESOURCES)
        write_fleet(generate_fleet(spec), self.fleet_dir)

    def onboard(self) -> list[DemoLogin]:
        """One demo user per sandbox tenant account, with SpendSense's role created there."""
        from sandbox.control import health
        from spendsense.store import open_store

        accounts = sorted(health(self.settings.sandbox.url)["tenant_accounts"])
        store = open_store(self.settings.store)  # migrates the schema, once
        try:
            return [self._onboard_one(store, i, acct) for i, acct in enumerate(accounts)]
        finally:
            store.dispose()

    def _onboard_one(self, store: Store, index: int, account_id: str) -> DemoLogin:
        from api.customer_permissions import declared
        from api.security import hash_password
        from sandbox.customer import create_spendsense_role
        from spendsense.access import new_external_id
        from spendsense.store import (
            add_aws_account,
            create_tenant,
            create_user,
            find_user_by_email,
            get_aws_account,
        )

        email = "demo@spendsense.example" if index == 0 else f"demo{index + 1}@spendsense.example"
        password_file = self.settings.var_dir / "demo" / f"{email}.password"
        with store.sessions() as db:
            user = find_user_by_email(db, email)
            if user is None:
                password = _new_password(password_file)
                tenant = create_tenant(db, name=f"Demo tenant {index + 1}", alert_email=email)
                create_user(db, tenant.id, email, hash_password(password))
                tenant_id = tenant.id
            elif password_file.exists():
                password = password_file.read_text().strip()
                tenant_id = user.tenant_id
            else:  # the store outlived var/demo/: a new password for the demo user
                password = _new_password(password_file)
                user.password_hash = hash_password(password)
                tenant_id = user.tenant_id
            role_arn = f"arn:aws:iam::{account_id}:role/SpendSense"
            account = get_aws_account(db, tenant_id, account_id)
            if account is None:
                account = add_aws_account(
                    db,
                    tenant_id,
                    account_id,
                    external_id=new_external_id(),
                    role_arn=role_arn,
                    regions=DEMO_REGIONS,
                )
            external_id = account.external_id
            db.commit()
        create_spendsense_role(
            self.settings.sandbox.url,
            account_id,
            external_id,
            self.settings.sandbox.vendor_account_id,
            declared(),
            role_name="SpendSense",
            service_role_name=self.settings.aws.service_role_name,
        )
        return DemoLogin(email, password, account_id)

    def run_forever(self) -> None:
        """Supervise until Ctrl-C or SIGTERM, then stop every process."""
        try:
            self.supervisor.run_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop reading milestones and stop every process."""
        if self.feed is not None:
            self.feed.stop()
            self.feed = None
        self.supervisor.stop_all()


def _new_password(password_file: Path) -> str:
    """A new demo password, kept in ``password_file`` (owner-only)."""
    password = secrets.token_urlsafe(12)
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.write_text(password)
    password_file.chmod(0o600)
    return password
