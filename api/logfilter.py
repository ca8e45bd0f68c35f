"""Keep e-mailed link tokens out of the access log.

A Stop / Not idle link carries a signed token in its path (``/links/<token>``): until it
is used or expires it is a credential, so the access log shows ``/links/****`` instead.

>>> import logging
>>> rec = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
...                         ("127.0.0.1:5", "GET", "/links/eyJ2Ijo.x-Y_z", "1.1", 200), None)
>>> RedactLinkTokens().filter(rec) and rec.getMessage()
'127.0.0.1:5 - "GET /links/**** HTTP/1.1" 200'
>>> rec.args[2]
'/links/****'
"""

from __future__ import annotations

import logging
import re

_LINK = re.compile(r"/links/[^\s\"?]+")


class RedactLinkTokens(logging.Filter):
    """Rewrites ``/links/<token>`` in a record's arguments (or message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access formatter unpacks ``args``: rewrite the path inside them.
        if isinstance(record.args, tuple):
            record.args = tuple(
                _LINK.sub("/links/****", a) if isinstance(a, str) else a for a in record.args
            )
        elif isinstance(record.msg, str) and "/links/" in record.msg:
            record.msg = _LINK.sub("/links/****", record.msg)
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    """Add the filter to the access logger once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
        logger.addFilter(RedactLinkTokens())
