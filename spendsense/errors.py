"""The one small exception tree every SpendSense component raises from.

Errors that a user can fix carry a one-line message saying what to do; the
CLI prints that line (no stack trace) and exits non-zero.
"""

from __future__ import annotations


class SpendSenseError(Exception):
    """Base of every error SpendSense raises on purpose."""


class ConfigError(SpendSenseError):
    """A setting or input is invalid; the message says what to fix."""


class DependencyMissing(SpendSenseError):
    """A required program (Java, Maven, chromium, ...) is not installed."""


class ServiceError(SpendSenseError):
    """A local service (broker, sandbox, model service) failed to start or answer."""


class TenantAccessError(SpendSenseError):
    """SpendSense could not act in a customer account (AssumeRole failed, access denied).

    ``code`` is the AWS error code; ``message`` is safe to show the account's owner.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(SpendSenseError):
    """The thing asked for does not exist for this tenant."""


class PoisonRecord(SpendSenseError):
    """A stream record cannot be processed; it goes to the dead-letter topic."""
