"""One request's credential -> its :class:`Identity`, for both adapters; failures counted and logged.

The adapters (:mod:`mlineage.auth.http_auth`, :mod:`mlineage.auth.grpc_auth`) hand over
what the request carries: a bearer token, the names of a verified client certificate,
and the namespace an admin asks for. A refusal is :class:`Refused` with the status it
answers (UNAUTHENTICATED: no or a bad credential; PERMISSION_DENIED: a role too low).
Each failed authentication increments ``mlineage_auth_failures_total{surface,reason}``
and logs one line with the reason and the peer, never the token.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, replace

from prometheus_client import Counter

from mlineage import errors as codes
from mlineage.auth.identity import Identity, Role
from mlineage.auth.oidc import OIDCVerifier
from mlineage.auth.tls_identities import TLSIdentities
from mlineage.auth.tokens import PREFIX, TokenRefused, TokenVerifier, check_namespace

log = logging.getLogger("mlineage.auth")

AUTH_FAILURES = Counter(
    "mlineage_auth_failures_total", "requests refused for a missing or bad credential, by surface and reason",
    ["surface", "reason"],
)  # fmt: skip
PERMISSION_DENIALS = Counter(
    "mlineage_auth_permission_denied_total", "requests refused for a role too low, by surface", ["surface"]
)
RATE_LIMITED = Counter("mlineage_rate_limited_total", "requests refused by the per-identity rate limit", ["surface"])

REALM = 'Bearer realm="mlineage"'
_NO_CREDENTIAL = "no credential (send Authorization: Bearer TOKEN)"
# The metric's reason label: a short, fixed set.
_LABELS = {
    _NO_CREDENTIAL: "missing", "not a bearer token": "not_bearer", "malformed token": "malformed",
    "unknown token": "unknown", "revoked token": "revoked", "expired token": "expired",
    "bearer tokens are not enabled on this server": "tokens_disabled",
    "client certificate not in the identity mapping": "unmapped_certificate",
    "invalid JWT": "invalid_jwt", "JWT without the namespace and role claims": "jwt_claims",
    "JWT with an invalid namespace or role claim": "jwt_claims",
}  # fmt: skip


class Refused(Exception):
    """A request not served: ``code`` (canonical), a message in the API's words, ``retry_after`` for 429."""

    def __init__(self, code: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class AuthConfig:
    """What ``mlineage serve`` was told: tokens on or off, a certificate mapping, a rate limit."""

    tokens: bool = False
    tls_identities: TLSIdentities | None = None
    rate_limit: float | None = None  # requests per second per identity; None: no limit
    oidc: OIDCVerifier | None = None  # JWT bearer tokens of an OIDC issuer

    @property
    def enabled(self) -> bool:
        return self.tokens or self.tls_identities is not None or self.oidc is not None


class _RateLimiter:
    """A token bucket per identity: ``rate`` per second, bursts of up to twice that."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._burst = max(1.0, 2 * rate)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if allowed now, else the seconds until one request would be."""
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(key, (self._burst, now))
            level = min(self._burst, level + (now - last) * self._rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / self._rate


class Authenticator:
    """Identifies and authorizes requests for the adapters of one server."""

    def __init__(self, config: AuthConfig, verifier: TokenVerifier | None) -> None:
        self.config = config
        self._verifier = verifier if config.tokens else None
        self._limiter = _RateLimiter(config.rate_limit) if config.rate_limit else None

    @property
    def verifier(self) -> TokenVerifier | None:
        return self._verifier

    def _fail(self, surface: str, reason: str, peer: str | None) -> Refused:
        AUTH_FAILURES.labels(surface, _LABELS.get(reason, "other")).inc()
        log.warning("authentication failed on %s: %s (peer %s)", surface, reason, peer or "?")
        return Refused(codes.UNAUTHENTICATED, f"authentication failed: {reason}")

    def identify(
        self,
        *,
        surface: str,
        authorization: str | None,
        certificate_names: list[str] | None = None,
        namespace: str | None = None,
        peer: str | None = None,
    ) -> Identity:
        """The caller's identity; Refused(UNAUTHENTICATED) without an accepted credential."""
        identity: Identity | None = None
        if authorization:
            scheme, _, credential = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise self._fail(surface, "not a bearer token", peer)
            credential = credential.strip()
            oidc = self.config.oidc
            verifier = self._verifier if (credential.startswith(PREFIX) or oidc is None) else oidc
            if verifier is None:
                raise self._fail(surface, "bearer tokens are not enabled on this server", peer)
            try:
                identity = verifier.verify(credential)
            except TokenRefused as refused:
                raise self._fail(surface, refused.reason, peer) from None
        elif certificate_names and self.config.tls_identities is not None:
            identity = self.config.tls_identities.identify(certificate_names)
            if identity is None:
                raise self._fail(surface, "client certificate not in the identity mapping", peer)
        if identity is None:
            raise self._fail(surface, _NO_CREDENTIAL, peer)
        if namespace is not None and namespace != identity.namespace:
            identity = self._other_namespace(identity, namespace)
        return identity

    def _other_namespace(self, identity: Identity, namespace: str) -> Identity:
        if identity.role < Role.ADMIN:
            raise Refused(codes.PERMISSION_DENIED, "only an admin credential may name another namespace")
        try:
            check_namespace(namespace)
        except ValueError as exc:
            raise Refused(codes.INVALID_ARGUMENT, str(exc)) from None
        return replace(identity, namespace=namespace)

    def authorize(self, identity: Identity, needed: Role, *, surface: str) -> None:
        """Refused(PERMISSION_DENIED) if ``identity`` may not do what needs ``needed``; the rate limit."""
        if not identity.may(needed):
            PERMISSION_DENIALS.labels(surface).inc()
            raise Refused(
                codes.PERMISSION_DENIED,
                f"permission denied: this needs the {needed.label} role; the credential has {identity.role.label}",
            )
        if self._limiter is not None:
            wait = self._limiter.take(identity.name)
            if wait > 0:
                RATE_LIMITED.labels(surface).inc()
                raise Refused(codes.RESOURCE_EXHAUSTED, "rate limit exceeded for this credential; retry later",
                              retry_after=max(1, math.ceil(wait)))  # fmt: skip
