"""Logging set-up shared by every process, with a filter that keeps secrets out of logs.

>>> f = RedactSecrets()
>>> rec = logging.LogRecord("x", logging.INFO, "", 0, "key=%s", ("AKIAABCDEFGHIJKLMNOP",), None)
>>> f.filter(rec) and rec.getMessage()
'key=AKIA****'
>>> redact("GET /login?next=/links/eyJ2.x-Y_z HTTP/1.1")
'GET /login?next=/links/**** HTTP/1.1'
"""

from __future__ import annotations

import logging
import re

# An e-mailed Stop / Not idle link's token (``/links/<token>``, also inside a query string
# or percent-encoded): a credential until it is used or expires.
LINK_TOKEN = re.compile(r"(?i)(links(?:/|%2F))[^\s\"'&?]+")
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


def redact_links(text: str) -> str:
    """Mask e-mailed link tokens only (see :data:`LINK_TOKEN`)."""
    return LINK_TOKEN.sub(LINK_MASK, text)


class RedactSecrets(logging.Filter):
    """A filter that rewrites each record's message with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once: one line per record, secrets redacted."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "aiokafka", "botocore", "urllib3", "faust", "mode", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # kafka-python 3 warns about every slow poller task at WARNING; not actionable here.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
