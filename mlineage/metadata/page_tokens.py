"""Page tokens: one opaque, query-bound format for every paged answer (listings, OpenLineage events, lineage).

A token is ``base64url(JSON object)`` without padding, the object holding

* ``"v"``: the format's version (1),
* ``"q"``: a fingerprint of the query that issued it (``fingerprint(...)`` of
  whatever must not change between pages: the listing, its order and filter,
  the run, the walk's direction and hop limit), so that a token handed to
  another query is refused instead of silently resuming somewhere else,
* the position, under the caller's own short keys (``"f"``/``"i"`` for a
  listing's last order value and id, …).

A large position (a lineage walk's frontier and seen sets) may be
zlib-compressed before base64: the decoder tells the two apart by the first
byte (a JSON object starts with ``{``, a zlib stream never does).

A token is not secret and is not signed: a client may forge one. Decoding
therefore checks everything and fails with INVALID_ARGUMENT (never a database
error, never a 500): ``read`` turns the body into the caller's position and
may raise ``ValueError``, ``KeyError`` or ``TypeError`` for a body that is not one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from mlineage.errors import InvalidArgumentError

VERSION = 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_T = TypeVar("_T")


def fingerprint(*parts: Any) -> str:
    """A short digest of the query parts a token is bound to (JSON-serializable values)."""
    text = json.dumps(list(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(query: str, position: dict[str, Any], *, compress: bool = False) -> str:
    """The token for ``position`` in the query whose ``fingerprint`` is ``query``."""
    body = {"v": VERSION, "q": query, **position}
    raw = json.dumps(body, separators=(",", ":")).encode()
    if compress:
        raw = zlib.compress(raw, 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(
    token: str,
    query: str,
    read: Callable[[dict[str, Any]], _T],
    *,
    invalid: str = "invalid next_page_token: not a token this server issued",
    mismatch: str = "the page token was issued for another query",
) -> _T:
    """The position ``token`` holds, read by ``read``; INVALID_ARGUMENT (``invalid`` or ``mismatch``) if none.

    ``mismatch`` is the message for a well-formed token of another query.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if raw[:1] != b"{":
            raw = zlib.decompress(raw)
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("v") != VERSION or not isinstance(body["q"], str):
            raise ValueError("not a token")
        position = read(body)
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise InvalidArgumentError(invalid) from None
    if body["q"] != query:
        raise InvalidArgumentError(mismatch)
    return position


def int64(value: Any) -> int:
    """``value`` if it is an int that fits a 64-bit column (not a bool); ValueError otherwise."""
    if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError("not an int64")
    return value


__all__ = ["VERSION", "decode", "encode", "fingerprint", "int64"]
