"""Bearer tokens: made once, kept only as a salted SHA-256 of their secret, verified in constant time.

A token reads ``mlt_<id>_<secret>``: ``id`` (12 hex digits) is its public name and the
row's primary key, ``secret`` 43 URL-safe characters (256 random bits). The database
keeps ``sha256(salt || secret)`` with a random salt per token, never the secret; a
token's high entropy makes a slow hash unnecessary, and a fast one keeps a request's
check in microseconds. Comparisons are :func:`hmac.compare_digest`.

:class:`TokenVerifier` caches a token's row for :data:`CACHE_SECONDS`, so a token revoked
by another process (``mlineage token revoke``) is refused within that time; one revoked
through the same verifier at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from mlineage.auth.identity import Identity, Role
from mlineage.errors import InvalidArgumentError
from mlineage.metadata import auth_access
from mlineage.metadata.store import Store

PREFIX = "mlt_"
CACHE_SECONDS = 1.0
_TOKEN = re.compile(r"^mlt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_WEEKS = re.compile(r"^(\d+)w$")
_WEEK_MS = 604_800_000


class TokenRefused(Exception):
    """A credential that is not accepted; ``reason`` is safe to log and to answer (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: everything but its secret (which nobody has after it was printed)."""

    id: str
    name: str | None
    namespace: str
    role: Role
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None

    def status(self, now_ms: int) -> str:
        if self.revoked_ms is not None:
            return "revoked"
        if self.expires_ms is not None and self.expires_ms <= now_ms:
            return "expired"
        return "active"


def check_namespace(name: str) -> str:
    """``name`` if it is a namespace name (letters, digits, ``._-``, up to 63), else ValueError."""
    if not _NAMESPACE.match(name):
        raise ValueError(
            f"invalid namespace {name!r}: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def parse_duration(text: str) -> int:
    """``90d``, ``12h``, ``30m``, ``45s``, ``2w`` as milliseconds (ValueError otherwise); purge's units too."""
    from mlineage.metadata.store_purge import parse_duration as purge_duration

    stripped = text.strip()
    weeks = _WEEKS.match(stripped)
    try:
        ms = int(weeks.group(1)) * _WEEK_MS if weeks else purge_duration(stripped)
    except InvalidArgumentError:
        ms = 0
    if ms <= 0:
        raise ValueError(f"invalid duration {text!r}: a positive number and a unit s, m, h, d or w (e.g. 90d)")
    return ms


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _info(row: tuple) -> TokenInfo:
    return TokenInfo(row[0], row[1], row[2], Role.parse(row[3]), row[4], row[5], row[6])


def create_token(
    store: Store, *, namespace: str, role: Role, name: str | None = None, expires_in_ms: int | None = None
) -> tuple[str, TokenInfo]:
    """Make a token; returns its text (shown once, never stored) and what is stored about it."""
    check_namespace(namespace)
    if name is not None and not (0 < len(name) <= 255):
        raise ValueError("a token's name is 1 to 255 characters")
    token_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    now = _now_ms()
    expires_ms = now + expires_in_ms if expires_in_ms is not None else None
    row = {
        "id": token_id, "name": name, "namespace": namespace, "role": role.label, "salt": salt,
        "secret_hash": _digest(salt, secret), "created_ms": now, "expires_ms": expires_ms, "revoked_ms": None,
    }  # fmt: skip
    with store.transaction() as tx:
        auth_access.insert_token(tx.connection, row)
    info = TokenInfo(token_id, name, namespace, role, now, expires_ms, None)
    return f"{PREFIX}{token_id}_{secret}", info


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token (active, expired and revoked), oldest first."""
    with store.reading() as connection:
        return [_info(row) for row in auth_access.all_tokens(connection)]


def revoke_token(store: Store, id_or_name: str) -> list[TokenInfo]:
    """Revoke the token with this id (or every active token with this name); the tokens revoked."""
    now = _now_ms()
    with store.transaction() as tx:
        rows = auth_access.active_tokens_named(tx.connection, id_or_name)
        if rows:
            auth_access.revoke_tokens(tx.connection, [row[0] for row in rows], now)
    return [dataclasses.replace(_info(row), revoked_ms=now) for row in rows]


class TokenVerifier:
    """Bearer token text -> :class:`Identity`, or :class:`TokenRefused` with the reason."""

    def __init__(self, store: Store, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, tuple | None]] = {}
        self._lock = threading.Lock()

    def forget(self, token_id: str | None = None) -> None:
        """Drop cached rows (one token's, or all) so the next check reads the database."""
        with self._lock:
            if token_id is None:
                self._cache.clear()
            else:
                self._cache.pop(token_id, None)

    def _row(self, token_id: str) -> tuple | None:
        now = time.monotonic()
        cached = self._cache.get(token_id)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        with self._store.reading() as connection:
            row = auth_access.token_by_id(connection, token_id)
        with self._lock:
            if len(self._cache) > 10_000:  # unknown ids are cached too: bound what a stranger can fill
                self._cache.clear()
            self._cache[token_id] = (now, row)
        return row

    def verify(self, text: str) -> Identity:
        """The identity of a token; TokenRefused if it is malformed, unknown, wrong, revoked or expired."""
        found = _TOKEN.match(text)
        if found is None:
            raise TokenRefused("malformed token")
        token_id, secret = found.group(1), found.group(2)
        row = self._row(token_id)
        # Unknown ids are hashed against a dummy salt too, so a miss takes as long as a wrong secret.
        salt, stored = (row[7], row[8]) if row is not None else ("00" * 16, "0" * 64)
        if not hmac.compare_digest(_digest(salt, secret), stored) or row is None:
            raise TokenRefused("unknown token")
        if row[6] is not None:
            raise TokenRefused("revoked token")
        if row[5] is not None and row[5] <= _now_ms():
            raise TokenRefused("expired token")
        return Identity(f"token:{token_id}" + (f" ({row[1]})" if row[1] else ""), row[2], Role.parse(row[3]))
