"""The Faust worker class of SpendSense's workers (``faust -A detector.app worker``,
``faust -A actions.app worker``): Faust's own, with every log handler redacting secrets.

Faust (through mode) replaces the root logger's handlers when the worker starts, after the
app module was imported, so the filter cannot be added at import: the app's ``Worker``
setting names this class, whose root-logger hook adds
:class:`~spendsense.logs.RedactSecrets` to the handlers Faust just made.
"""

from __future__ import annotations

import logging

import faust

from spendsense.logs import redact_handlers


class Worker(faust.Worker):
    """``faust.Worker`` whose log handlers redact secrets (access keys, ``password=...``)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        redact_handlers()
