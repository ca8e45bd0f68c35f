"""Logging set-up shared by every process, with a filter that keeps secrets out of logs.

Every process's log handlers carry :class:`RedactSecrets`: the ``spendsense`` CLI's
(:func:`setup_logging`), the API's (``api/main.py`` calls it under uvicorn, whose own
handlers it then covers), the Faust workers' (:mod:`spendsense.faust_worker`, once Faust has
made its handlers) and the model service's (``detector/service.py``).

>>> f = RedactSecrets()
>>> rec = logging.LogRecord("x", logging.INFO, "", 0, "key=%s", ("AKIAABCDEFGHIJKLMNOP",), None)
>>> f.filter(rec) and rec.getMessage()
'key=AKIA****'
>>> rec.args
('AKIA****',)
>>> rec = logging.LogRecord("x", logging.INFO, "", 0, "password=%s", ("hunter2",), None)
>>> f.filter(rec) and (rec.getMessage(), rec.args)
('password=****', ())
>>> redact("GET /login?next=/links/eyJ2.x-Y_z HTTP/1.1")
'GET /login?next=/links/**** HTTP/1.1'
"""

from __future__ import annotations

import logging
import re

# An e-mailed link's token (Stop / Not idle ``/links/<token>``, sign-up and alert-address
# ``/verify/<token>``, password ``/reset/<token>``; also inside a query string or
# percent-encoded): a credential until it is used or expires.
LINK_TOKEN = re.compile(r"(?i)((?:links|verify|reset)(?:/|%2F))[^\s\"'&?]+")
LINK_MASK = r"\1****"

_PATTERNS = (
    (LINK_TOKEN, LINK_MASK),
    (re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}"), r"\1****"),
    (
        re.compile(
            r"(?i)(password|secret|token|session|signature|sig|csrf)([\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+"
        ),
        r"\1\2****",
    ),
)


def redact(text: str) -> str:
    """Mask access keys and ``secret=...``-like values in a log line."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


# formats a record's traceback once, before a handler's formatter would, so it is redacted
_TRACEBACKS = logging.Formatter()


def _masked_args(record: logging.LogRecord, clean: str) -> tuple[object, ...] | None:
    """The record's arguments with each string redacted, when formatting them gives
    ``clean`` (a formatter that unpacks them, as uvicorn's access log does, keeps working);
    ``None`` when a secret only shows once message and arguments are joined (the record
    then keeps the joined message and ``()``: mode's formatter turns ``None`` into
    ``(None,)``)."""
    if not (isinstance(record.args, tuple) and record.args and isinstance(record.msg, str)):
        return None
    args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
    try:
        return args if redact(record.msg) % args == clean else None
    except (TypeError, ValueError, KeyError):
        return None


def redact_record(record: logging.LogRecord) -> None:
    """Mask secrets in a record's message, arguments, exception text and stack."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):  # a bad format: logging reports it on emit
        return
    clean = redact(message)
    if clean != message:
        args = _masked_args(record, clean)
        record.msg, record.args = (clean, ()) if args is None else (redact(record.msg), args)
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactSecrets(logging.Filter):
    """A handler filter that masks secrets in each record (:func:`redact_record`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_handlers() -> None:
    """Add :class:`RedactSecrets` to every handler the process has (the root logger's, each
    named logger's, and logging's last resort), once each: for handlers a framework made."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = [h for lg in loggers if isinstance(lg, logging.Logger) for h in lg.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger: one line per record; every handler, the root logger's and
    any a framework made before (uvicorn's), redacts secrets."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "aiokafka", "botocore", "urllib3", "faust", "mode", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # kafka-python 3 warns about every slow poller task at WARNING; not actionable here.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    redact_handlers()
