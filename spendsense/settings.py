"""The one ``Settings`` object, read from ``SPENDSENSE_*`` environment variables and ``.env``.

Nested groups use ``__``: ``SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092``.
Validation happens at start; :func:`load_settings` turns a validation error into
one :class:`~spendsense.errors.ConfigError` line that names the variable to fix and why,
never the value it was given (it may be a secret).

``SPENDSENSE_ENVIRONMENT=production`` (the compose stack sets it) refuses what only a local
run may use: the demo, an AWS endpoint override, a session cookie without ``Secure``.

>>> s = Settings(_env_file=None)
>>> s.kafka.bootstrap_servers
'127.0.0.1:9092'
>>> s.aws.endpoint_url is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from spendsense.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVICE_ROLE_NAME = "SpendSenseService"
MIN_KEY_LENGTH = 32


def _long_enough(value: SecretStr) -> SecretStr:
    """A signing key's check: at least :data:`MIN_KEY_LENGTH` characters."""
    if len(value.get_secret_value()) < MIN_KEY_LENGTH:
        raise ValueError(
            f"must be at least {MIN_KEY_LENGTH} characters (e.g. `openssl rand -hex 32`)"
        )
    return value


# An HMAC key (the session secret, the link-signing key): long enough not to be guessed.
SigningKey = Annotated[SecretStr, AfterValidator(_long_enough)]


class KafkaSettings(BaseModel):
    """The broker SpendSense produces to and consumes from (and, locally, runs)."""

    bootstrap_servers: str = "127.0.0.1:9092"
    controller_port: int = Field(9093, ge=1, le=65535)
    home: Path = ROOT / "var" / "kafka"
    heap: str = "512m"
    start_timeout_s: float = Field(90.0, gt=0)
    topic_prefix: str = ""
    partitions: int = Field(4, ge=1, le=256)
    metrics_partitions: int = Field(8, ge=1, le=256)
    # How every client reaches the broker (spendsense.kafka_clients builds each family's
    # settings from these): TLS with ssl_cafile (None: the system's CAs) for SSL and
    # SASL_SSL, a SASL user and password for SASL_PLAINTEXT and SASL_SSL.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> KafkaSettings:
        if self.sasl and (self.sasl_username is None or self.sasl_password is None):
            raise PydanticCustomError(
                "kafka_sasl",
                "a SASL security protocol needs __SASL_USERNAME and __SASL_PASSWORD set",
            )
        return self

    @property
    def sasl(self) -> bool:
        """Whether clients authenticate with SASL."""
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        """Whether clients speak TLS to the broker."""
        return self.security_protocol.endswith("SSL")

    @property
    def host(self) -> str:
        return self.bootstrap_servers.split(",")[0].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])


class AwsSettings(BaseModel):
    """How SpendSense reaches AWS. ``endpoint_url`` is the only override of AWS's endpoints."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    session_name: str = "SpendSense"
    max_attempts: int = Field(6, ge=1, le=20)
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(20.0, gt=0)
    # The credentials SpendSense itself holds (its own account). Customer accounts are
    # reached only through AssumeRole; these never belong to a customer. Unset: the
    # default chain (on the SpendSense host, its instance profile: the service role).
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    # The role SpendSense's processes run as in its own account: customer roles trust this
    # role only. With a key above (an IAM user's: roles have no long-lived keys) SpendSense
    # first assumes this role, then the customer's.
    service_role_name: str = Field(DEFAULT_SERVICE_ROLE_NAME, pattern=r"^[\w+=,.@-]{1,64}$")


class SandboxSettings(BaseModel):
    """The local sandbox AWS account (moto server plus a simulated fleet)."""

    host: str = "127.0.0.1"
    port: int = Field(5055, ge=0, le=65535)  # 0: any free port (the ready line names it)
    fleet_dir: Path = ROOT / "var" / "fleet"
    seed: int = 7
    # SpendSense's own AWS account in the sandbox; tenant accounts come from the fleet.
    vendor_account_id: str = Field("210987654321", pattern=r"^\d{12}$")
    # the fleet's first history_days of trace end at the sandbox's start; the rest plays live
    history_days: int = Field(14, ge=1, le=63)
    # sandbox seconds per real second (60: one sandbox minute per second, for demos and chaos)
    speed: float = Field(1.0, gt=0, le=100_000)
    # the verified SES sender of SpendSense's alerts (the vendor account's identity)
    sender: str = "alerts@spendsense.example"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class StoreSettings(BaseModel):
    """The relational store: SQLite file by default, PostgreSQL by URL."""

    url: str = f"sqlite:///{ROOT / 'var' / 'spendsense.db'}"
    pool_size: int = Field(5, ge=1, le=100)  # PostgreSQL only
    max_overflow: int = Field(10, ge=0, le=100)  # PostgreSQL only


class ApiSettings(BaseModel):
    """The API + dashboard (``uvicorn api.main:app``) and its projector (``spendsense project``)."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8000"
    # None: a random key generated once and kept in var/api-session-secret (local runs).
    session_secret: SigningKey | None = None
    session_cookie: str = "spendsense_session"
    csrf_cookie: str = "spendsense_csrf"
    cookie_secure: bool = False
    cookie_samesite: Literal["lax", "strict"] = "lax"
    session_ttl_hours: float = Field(12.0, gt=0, le=24 * 30)
    # Keep logins in memory until any log-out (a counter shared through var/ by this host's
    # API processes). Turn off when API processes run on several hosts.
    session_cache: bool = True
    login_max_failures: int = Field(5, ge=1, le=1000)
    login_window_s: int = Field(900, ge=1)
    # Tenant limits (docs/security.md): every log-in from one client address, successful or
    # not, in login_window_s (an argon2 hash each); sign-ups per address in signup_window_s;
    # open live feeds per user (per API process), each re-checking its session every
    # feed_recheck_s; AWS accounts per tenant.
    login_max_per_client: int = Field(60, ge=1, le=100_000)
    signup_max_per_client: int = Field(10, ge=1, le=10_000)
    signup_window_s: int = Field(3600, ge=1)
    feed_max_per_user: int = Field(5, ge=1, le=100)
    feed_recheck_s: float = Field(30.0, ge=0.1, le=3600)
    accounts_max_per_tenant: int = Field(25, ge=1, le=10_000)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, JSON list);
    # none by default: every other caller is counted by its socket address.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    # Where the API queries Prometheus's HTTP API for the monitoring page (server side), and
    # how long it waits; the page's links to Prometheus and Grafana (what a browser opens:
    # nginx serves both behind the log-in, deploy/nginx).
    prometheus_url: str = "http://127.0.0.1:9090"
    prometheus_timeout_s: float = Field(2.0, gt=0, le=30)
    prometheus_link: str = "/prometheus/"
    grafana_link: str = "/grafana/"
    # Who may open Prometheus and Grafana through nginx (and sees the page's links to them):
    # SpendSense's own operators, by log-in e-mail (JSON list). Never a customer: those
    # metrics name every tenant and account. Empty: nobody.
    operator_emails: list[str] = Field(default_factory=list)
    demo_mode: bool = False
    projector_metrics_port: int = Field(9304, ge=1, le=65535)
    projector_group_id: str = "spendsense-projector"
    # SpendSense's own AWS account, trusted by customer roles (None: asked of STS once).
    vendor_account_id: str | None = Field(None, pattern=r"^\d{12}$")
    # Where the console's quick-create link fetches the role template (an S3 URL in
    # production); None: this API's own /api/public/role-template.json.
    role_template_url: str | None = None

    def is_operator(self, email: str) -> bool:
        """Whether the log-in ``email`` is one of :attr:`operator_emails` (any case).

        >>> ApiSettings(operator_emails=["Ops@Example.com"]).is_operator("ops@example.com")
        True
        """
        return email.lower() in {e.lower() for e in self.operator_emails}


class ActionsSettings(BaseModel):
    """The actions worker: alert emails (cooldown, signed links) and stopping (tags, rails)."""

    cooldown_s: int = Field(3600, ge=1)
    # 8 h: a working day to act on an alert; a forwarded or archived e-mail's links die soon
    link_ttl_s: int = Field(8 * 3600, ge=60)
    # HMAC key for Stop / Not idle links. Unset: a random key is generated once and kept in
    # ``<var_dir>/secrets/link-signing.key`` (local runs); production sets it.
    link_signing_key: SigningKey | None = None
    sender: str = "alerts@spendsense.example"
    public_base_url: str = "http://127.0.0.1:8000"
    protect_tag: str = "spendsense:protect"
    optin_tag: str = "spendsense:auto-stop"
    grace_tag: str = "spendsense:stop-after"
    ses_region: str | None = None
    flush_interval_s: float = Field(30.0, gt=0)
    # the alerts agent takes up to batch_size detections or what arrived within batch_latency_ms,
    # and acts on each instance's verdict changes and latest word (actions.coalesce)
    batch_size: int = Field(1000, ge=1, le=20000)
    batch_latency_ms: int = Field(200, ge=1, le=60000)
    email_lease_s: int = Field(600, ge=1)
    metrics_port: int = Field(9303, ge=0, le=65535)
    web_port: int = Field(6067, ge=1, le=65535)
    # How soon the group notices a dead worker and hands its partitions to another.
    session_timeout_s: float = Field(30.0, ge=6.0, le=300.0)
    heartbeat_interval_s: float = Field(3.0, gt=0, le=60.0)


class ChannelsSettings(BaseModel):
    """Notification channels (Slack, Teams, signed webhooks): ``SPENDSENSE_CHANNELS__*``.

    A channel's URL must be https and its host must resolve to public addresses only (not
    loopback, private, link-local, multicast, reserved or unspecified), except for the
    hosts named in ``allow_hosts``: plain http and any address are admitted for them (for
    example ``["127.0.0.1"]`` for a receiver on this machine).
    """

    allow_hosts: list[str] = Field(default_factory=list)
    max_attempts: int = Field(6, ge=1, le=20)  # then the delivery is dead
    timeout_s: float = Field(10.0, gt=0, le=60)
    lease_s: int = Field(300, ge=1)  # a delivery left sending this long is unknown, not resent


class DetectorSettings(BaseModel):
    """The detector: the BentoML model service and the Faust worker that calls it."""

    model_url: str = "http://127.0.0.1:3000"
    model_port: int = Field(3000, ge=1, le=65535)
    # the worker's batches: up to batch_size records, or whatever arrived within batch_latency_ms
    batch_size: int = Field(1000, ge=1, le=20000)
    batch_latency_ms: int = Field(100, ge=1, le=60000)
    # the service's adaptive batching (bentoml.api max_batch_size / max_latency_ms)
    service_max_batch_size: int = Field(8192, ge=2, le=100000)
    service_max_latency_ms: int = Field(200, ge=1, le=60000)
    # model service worker processes; each keeps its own checkpoint (<path stem>-<n><suffix>)
    service_workers: int = Field(1, ge=1, le=64)
    # live models the service keeps to skip rebuilding them from state bytes (a cache: 0 = off)
    warm_models: int = Field(50000, ge=0)
    request_timeout_s: float = Field(30.0, gt=0)
    retry_initial_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(10.0, gt=0)
    app_id: str = "spendsense-detector"
    # how soon the group gives a killed worker's partitions to another (Faust's default is 60 s)
    session_timeout_s: float = Field(10.0, ge=6.0, le=300.0)
    # the state table's store: rocksdb (under <var_dir>/faust; a restart reads only the
    # changelog's tail) or memory (a restart replays the whole changelog)
    store: Literal["rocksdb", "memory"] = "rocksdb"
    # other workers keeping a warm copy of each partition's state, to take it over at once
    standby_replicas: int = Field(1, ge=0, le=8)
    metrics_port: int = Field(9302, ge=0, le=65535)
    web_enabled: bool = True
    web_port: int = Field(6066, ge=1, le=65535)
    # the model service's own state (fleet-wide counters), written periodically and on shutdown
    checkpoint_path: Path = ROOT / "var" / "detector" / "model-service.json"
    checkpoint_interval_s: float = Field(30.0, gt=0)
    # a metric period this far ahead of the worker's clock is an absurd value (dead letter)
    max_future_skew_s: float = Field(3600.0, gt=0)
    # an idle verdict alerts only on a period that ended at most this long ago (the live edge):
    # the slowest polling tier (6 h) plus the settle time and a margin; older periods (a backfill,
    # a worker catching up) give provisional verdicts
    live_edge_s: float = Field(25_200.0, gt=0)


class IngestSettings(BaseModel):
    """The collectors (``spendsense collect``): cadence, backfill, budgets, polling policy."""

    metrics_port: int = Field(9301, ge=0, le=65535)
    concurrency: int = Field(8, ge=1, le=256)  # accounts collected at once
    cycle_s: float = Field(300.0, gt=0)  # how often the loop looks for due work
    regions: list[str] = ["us-east-1"]  # used when an account lists none
    backfill_days: float = Field(14.0, ge=0, le=63)  # CloudWatch keeps 5-minute data 63 days
    settle_s: int = Field(600, ge=0)  # a period is published once it ended this long ago
    late_s: int = Field(3600, ge=0)  # empty periods are asked for again this long
    policy: str = "adaptive"  # ingest.polling: naive, hourly, adaptive, tiered
    assume_duration_s: int = Field(3600, ge=900, le=43200)
    # An account SpendSense cannot reach is tried again after retry_initial_s, then twice as
    # long after each failure in a row, at most retry_max_s (Test connection resets it).
    retry_initial_s: float = Field(300.0, gt=0, le=86400)
    retry_max_s: float = Field(6 * 3600.0, gt=0, le=7 * 86400)
    ce_calls_per_day: int = Field(4, ge=0, le=100)  # Cost Explorer: $0.01 per request
    ce_refresh_h: float = Field(8.0, gt=0)  # CE data refreshes up to 3 times a day
    cost_days: int = Field(30, ge=1, le=365)


# What a production stack refuses: (variable, whether the settings use it, why not).
PRODUCTION_REFUSES: tuple[tuple[str, Callable[[Settings], bool], str], ...] = (
    (
        "SPENDSENSE_API__DEMO_MODE",
        lambda s: s.api.demo_mode,
        "must be false in production (the demo's mail view is for the sandbox)",
    ),
    (
        "SPENDSENSE_AWS__ENDPOINT_URL",
        lambda s: s.aws.endpoint_url is not None,
        "must be unset in production (AWS is reached at its own endpoints only)",
    ),
    (
        "SPENDSENSE_API__COOKIE_SECURE",
        lambda s: not s.api.cookie_secure,
        "must be true in production (the session cookie goes over HTTPS only)",
    ),
)


class Settings(BaseSettings):
    """Everything configurable, validated at start."""

    model_config = SettingsConfigDict(
        env_prefix="SPENDSENSE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    # production: the deployed stack (refuses PRODUCTION_REFUSES); development: local runs
    environment: Literal["development", "production"] = "development"
    var_dir: Path = ROOT / "var"
    log_level: str = "INFO"
    # where every process's /metrics listens (0.0.0.0 in containers: Prometheus scrapes them)
    metrics_host: str = "127.0.0.1"
    kafka: KafkaSettings = KafkaSettings()
    aws: AwsSettings = AwsSettings()
    sandbox: SandboxSettings = SandboxSettings()
    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    actions: ActionsSettings = ActionsSettings()
    channels: ChannelsSettings = ChannelsSettings()
    detector: DetectorSettings = DetectorSettings()
    api: ApiSettings = ApiSettings()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        level = v.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment == "production":
            for variable, used, why in PRODUCTION_REFUSES:
                if used(self):
                    raise PydanticCustomError(
                        "production", "{variable}: {why}", {"variable": variable, "why": why}
                    )
        return self


def _env_name(loc: tuple[object, ...]) -> str:
    return "SPENDSENSE_" + "__".join(str(p).upper() for p in loc)


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings; a bad value becomes one line naming its variable and
    why, without the value (pydantic's own message would quote it, secrets included).

    >>> import os
    >>> os.environ["SPENDSENSE_KAFKA__PARTITIONS"] = "0"
    >>> try:
    ...     load_settings()
    ... except ConfigError as e:
    ...     print(e)
    SPENDSENSE_KAFKA__PARTITIONS: Input should be greater than or equal to 1
    >>> del os.environ["SPENDSENSE_KAFKA__PARTITIONS"]
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        where = f"{_env_name(err['loc'])}: " if err["loc"] else ""  # a rule across settings
        raise ConfigError(where + err["msg"]) from None
    except SettingsError as exc:  # a JSON-valued variable that is not JSON
        raise ConfigError(f"{exc} (write the variable as JSON)") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load_settings()


def settings_or_exit(process: str) -> Settings:
    """:func:`get_settings` at a process's entry point (uvicorn's or Faust's app module):
    bad settings end the process with one line, ``<process>: <variable>: <why>``."""
    try:
        return get_settings()
    except ConfigError as exc:
        raise SystemExit(f"{process}: {exc}") from None
