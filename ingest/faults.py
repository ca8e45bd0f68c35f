"""AWS failures that belong to one region's (or one account's) cycle, not to the collector.

Throttling that outlasted botocore's retries, a 5xx answer, a read or connect timeout,
an endpoint that cannot be reached: each ends that region's part of the cycle with an
:class:`AwsFault` (the region's error code and a message that names the region), while
the other regions and accounts go on. Nothing of the failing call was published and no
cursor moved, so the next cycle asks again for everything that was missed. Any other
AWS error (a request SpendSense got wrong) is not caught here.

>>> err = ClientError({"Error": {"Code": "Throttling"}}, "GetMetricData")
>>> fault = client_fault(err, "eu-west-1", "GetMetricData")
>>> fault.code, "throttled" in fault.message, "eu-west-1" in fault.message
('Throttling', True, True)
>>> client_fault(ClientError({"Error": {"Code": "ValidationError"}}, "GetMetricData"), None, "x")
>>> timeout = ReadTimeoutError(endpoint_url="http://x")
>>> connection_fault(timeout, "us-east-1", "GetMetricData").message.split(". ")[0]
'AWS timed out on GetMetricData in us-east-1 (ReadTimeoutError)'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from spendsense.aws import SERVER_CODES, THROTTLING_CODES
from spendsense.errors import SpendSenseError

CONNECTION_ERRORS = (
    ReadTimeoutError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
)
RETRY_NOTE = "SpendSense retries next cycle and collects what was missed."


class AwsFault(SpendSenseError):
    """A transient AWS failure of one region (or of the account when ``region`` is None).

    ``code`` is the AWS error code (or botocore's exception name for a connection
    failure); ``message`` is safe to show the account's owner.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def client_fault(exc: ClientError, region: str | None, operation: str) -> AwsFault | None:
    """The :class:`AwsFault` an AWS error answer means (by its code), or None if not transient."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    http = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    where = _where(region, operation)
    if code in THROTTLING_CODES:
        return AwsFault(code, f"AWS throttled {where} ({code}) beyond retries. {RETRY_NOTE}")
    if code in SERVER_CODES or (isinstance(http, int) and http >= 500):
        code = code or f"HTTP{http}"
        return AwsFault(code, f"AWS failed {where} ({code}). {RETRY_NOTE}")
    return None


def connection_fault(exc: Exception, region: str | None, operation: str) -> AwsFault:
    """The :class:`AwsFault` for a timeout or an unreachable endpoint (botocore's class name)."""
    code = type(exc).__name__
    where = _where(region, operation)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return AwsFault(code, f"AWS timed out on {where} ({code}). {RETRY_NOTE}")
    return AwsFault(code, f"SpendSense could not reach AWS for {where} ({code}). {RETRY_NOTE}")


def _where(region: str | None, operation: str) -> str:
    return f"{operation} in {region}" if region else operation


@contextmanager
def aws_faults(region: str | None, operation: str) -> Iterator[None]:
    """Raise transient AWS failures inside as :class:`AwsFault`; let the rest through."""
    try:
        yield
    except ClientError as exc:
        fault = client_fault(exc, region, operation)
        if fault is None:
            raise
        raise fault from exc
    except CONNECTION_ERRORS as exc:
        raise connection_fault(exc, region, operation) from exc
