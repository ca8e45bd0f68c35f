"""Opaque keyset cursors: where the previous page of an instance list ended.

A cursor is the base64url (unpadded) of ``[sort, order, key]`` in JSON, ``key`` being the
last row's sort key. It is only good for the sort and order it was made for: anything
else (another sort, a truncated or edited cursor) is :class:`InvalidCursor`, whose
message is one line for the caller.

>>> c = encode("name", "asc", ["web-1", "i-0abc"])
>>> decode(c, "name", "asc", (str, str))
['web-1', 'i-0abc']
>>> decode(c, "waste", "desc", (int, float, str))
Traceback (most recent call last):
...
api.services.instance_cursor.InvalidCursor: cursor: it was made for sort=name&order=asc; start again without a cursor
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

NOT_OURS = "cursor: not one this API made; start again without a cursor"


class InvalidCursor(ValueError):
    """A cursor that is malformed or was made for another sort or order."""


def encode(sort: str, order: str, key: Sequence[object]) -> str:
    """The cursor for the page after the row whose sort key is ``key`` (JSON values)."""
    raw = json.dumps([sort, order, list(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


Kind = type | tuple[type, ...]


def decode(cursor: str, sort: str, order: str, kinds: Sequence[Kind]) -> list[object]:
    """The sort key in ``cursor``, checked against the sort, the order and the JSON type
    of each key part (``kinds``, as ``isinstance`` takes them: ``(str, type(None))`` for a
    part that may be null; booleans are never a part)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(NOT_OURS) from exc
    if not (
        isinstance(made_for, list)
        and len(made_for) == 3
        and all(isinstance(v, str) for v in made_for[:2])
        and isinstance(made_for[2], list)
    ):
        raise InvalidCursor(NOT_OURS)
    if made_for[:2] != [sort, order]:
        raise InvalidCursor(
            f"cursor: it was made for sort={made_for[0]}&order={made_for[1]}; "
            "start again without a cursor"
        )
    key: list[object] = made_for[2]
    fits = len(key) == len(kinds) and all(
        isinstance(v, kind) and not isinstance(v, bool) for v, kind in zip(key, kinds, strict=True)
    )
    if not fits:
        raise InvalidCursor(NOT_OURS)
    return key
