"""Keep e-mailed link tokens out of the access log.

A Stop / Not idle link carries a signed token in its path (``/links/<token>``, and in the
log-in page's ``?next=`` when a Stop link sends someone to log in): until it is used or
expires it is a credential, so the access log shows ``/links/****`` instead.

>>> import logging
>>> rec = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
...                         ("127.0.0.1:5", "GET", "/links/eyJ2Ijo.x-Y_z", "1.1", 200), None)
>>> RedactLinkTokens().filter(rec) and rec.getMessage()
'127.0.0.1:5 - "GET /links/**** HTTP/1.1" 200'
>>> rec.args[2]
'/links/****'
>>> rec = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
...                         ("127.0.0.1:5", "GET", "/login?next=/links/eyJ2.x", "1.1", 200), None)
>>> RedactLinkTokens().filter(rec) and rec.getMessage()
'127.0.0.1:5 - "GET /login?next=/links/**** HTTP/1.1" 200'
"""

from __future__ import annotations

import logging

from spendsense.logs import redact_links


class RedactLinkTokens(logging.Filter):
    """Rewrites link tokens (``spendsense.logs.LINK_TOKEN``) in a record's arguments and
    message, keeping the arguments a tuple (uvicorn's access formatter unpacks them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_links(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_links(record.msg)
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    """Add the filter to the access logger once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
        logger.addFilter(RedactLinkTokens())
