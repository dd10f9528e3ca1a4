"""metadata/page_tokens: one opaque token format, bound to the query that issued it, refusing what it did not issue."""

from __future__ import annotations

import base64
import json

import pytest

from mlineage.errors import InvalidArgumentError
from mlineage.metadata import page_tokens

QUERY = page_tokens.fingerprint("artifact", "id", True, "")


def _position(body: dict) -> tuple[int, int]:
    return page_tokens.int64(body["f"]), page_tokens.int64(body["i"])


@pytest.mark.parametrize("compress", [False, True])
def test_a_token_gives_back_its_position(compress):
    token = page_tokens.encode(QUERY, {"f": 7, "i": 9}, compress=compress)
    assert "=" not in token and "/" not in token and "+" not in token
    assert page_tokens.decode(token, QUERY, _position) == (7, 9)


def test_a_plain_token_is_base64url_json_with_version_query_and_position():
    token = page_tokens.encode(QUERY, {"f": 7, "i": 9})
    body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert body == {"v": 1, "q": QUERY, "f": 7, "i": 9}


def test_a_token_of_another_query_gets_the_mismatch_message():
    token = page_tokens.encode(page_tokens.fingerprint("artifact", "id", False, ""), {"f": 7, "i": 9})
    with pytest.raises(InvalidArgumentError, match="another order"):
        page_tokens.decode(token, QUERY, _position, mismatch="issued for another order")


def _forged(body) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "", "garbage!!", "AAAA", "eyJ2IjoxfQ", "CBQQFBoA", "eJwDAAAAAAE",  # the last: an empty zlib stream
        _forged([1, 2]), _forged({"v": 2, "q": QUERY, "f": 1, "i": 1}), _forged({"v": 1, "q": 5, "f": 1, "i": 1}),
        _forged({"v": 1, "q": QUERY, "f": True, "i": 1}), _forged({"v": 1, "q": QUERY, "f": 1, "i": 2**64}),
        _forged({"v": 1, "q": QUERY, "f": 1}), _forged({"v": 1, "q": QUERY, "f": "1", "i": 1}),
        "[" * 100_000,
    ],
)
def test_anything_else_is_invalid_argument_with_the_callers_message(token):
    with pytest.raises(InvalidArgumentError, match="^not ours$"):
        page_tokens.decode(token, QUERY, _position, invalid="not ours")
