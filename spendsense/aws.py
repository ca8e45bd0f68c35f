"""The AWS session factory: the only place that knows where AWS is.

Every boto3 client in SpendSense comes from :class:`AwsFactory`, which applies the
endpoint override from settings (the sandbox sets it; production leaves it unset),
adaptive retries and timeouts. Nothing here knows whether it talks to the sandbox.

The AWS error codes that mean "try again later" are declared here, once: the collector's
region faults (:mod:`ingest.faults`), the API's metric history and the alert emails'
retries (:mod:`actions.delivery`) all read them.

>>> "RequestLimitExceeded" in THROTTLING_CODES, "ServiceUnavailable" in RETRYABLE_CODES
(True, True)
>>> "AccessDenied" in RETRYABLE_CODES
False
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from spendsense.settings import AwsSettings

# Error codes botocore's standard retry mode treats as throttling or transient.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceeded",  # SES: sending quota
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)
SERVER_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
RETRYABLE_CODES = THROTTLING_CODES | SERVER_CODES
"""Throttled or failed on AWS's side: the same request may succeed later."""


class AwsFactory:
    """Builds boto3 sessions and clients with SpendSense's endpoint, retry and timeout policy."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self.config = Config(
            retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
        )
        self._base: boto3.session.Session | None = None
        self._base_lock = threading.Lock()

    def session(
        self,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        region: str | None = None,
    ) -> boto3.session.Session:
        """A session with explicit credentials, or SpendSense's own when none are given."""
        if access_key_id is None and self.settings.access_key_id is not None:
            access_key_id = self.settings.access_key_id.get_secret_value()
            secret_access_key = (
                self.settings.secret_access_key.get_secret_value()
                if self.settings.secret_access_key
                else None
            )
        return boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region or self.settings.region,
        )

    def client(
        self, service: str, session: boto3.session.Session | None = None, region: str | None = None
    ) -> Any:
        """A client for ``service`` (``ec2``, ``cloudwatch``, ``ce``, ``sts``, ``ses``...)."""
        session = session or self.session(region=region)
        return session.client(
            service,  # type: ignore[call-overload]
            region_name=region or session.region_name or self.settings.region,
            endpoint_url=self.settings.endpoint_url,
            config=self.config,
        )

    def client_with_credentials(
        self,
        service: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
    ) -> Any:
        """A client acting with explicit (e.g. assumed-role) credentials.

        Built from one shared session, so botocore parses each service model once per
        factory instead of once per credential set (seconds for EC2); thread-safe.
        """
        with self._base_lock:
            if self._base is None:
                self._base = boto3.session.Session(region_name=self.settings.region)
            return self._base.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=self.settings.endpoint_url,
                config=self.config,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                aws_session_token=session_token,
            )


class SesClient:
    """SpendSense's own SES client, built on first use and kept (thread-safe).

    The actions worker's alert digests and the API's account mail (sign-up, password
    reset, alert-address confirmation) both send through it: region ``region`` (the
    actions settings' ``ses_region``), else the factory's default region.
    """

    def __init__(self, factory: AwsFactory, region: str | None = None) -> None:
        self.factory = factory
        self.region = region or factory.settings.region
        self._client: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        """The client (one per process, built on the first call)."""
        with self._lock:
            if self._client is None:
                self._client = self.factory.client("ses", region=self.region)
            return self._client
