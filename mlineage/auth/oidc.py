"""OIDC/JWT bearer tokens: verified against a configured issuer's published keys, claims mapped to an identity.

For Kubeflow's Dex/Istio setups, where callers already hold an ID or access token:
``mlineage serve --auth tokens --oidc-issuer URL --oidc-audience AUD`` accepts a JWT
signed by one of the issuer's keys (its ``jwks_uri`` from
``URL/.well-known/openid-configuration``, fetched once and cached by PyJWT's
client), checks the signature (RS/ES/PS algorithms only, never ``none`` or HMAC),
``iss``, ``aud``, ``exp``/``nbf``, and maps two claims to the identity: the
namespace (``--oidc-namespace-claim``, default ``mlineage_namespace``) and the role
(``--oidc-role-claim``, default ``mlineage_role``). The identity's name is
``oidc:<sub>``. Needs the ``oidc`` extra (PyJWT).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

from mlineage.auth.identity import Identity, Role
from mlineage.auth.tokens import TokenRefused, check_namespace

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]
_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class OIDCConfig:
    issuer: str
    audience: str
    namespace_claim: str = "mlineage_namespace"
    role_claim: str = "mlineage_role"


class OIDCVerifier:
    """A JWT's text -> :class:`Identity`, or :class:`TokenRefused` with the reason (never the token)."""

    def __init__(self, config: OIDCConfig) -> None:
        try:
            import jwt
        except ImportError:
            raise ValueError("--oidc-issuer needs PyJWT: pip install 'mlineage[oidc]'") from None
        self._jwt = jwt
        self.config = config
        self._keys: Any = None

    def _key_client(self) -> Any:
        if self._keys is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as answer:  # noqa: S310 - the operator's issuer
                    discovery = json.load(answer)
                jwks_uri = discovery["jwks_uri"]
            except (OSError, ValueError, KeyError) as exc:
                raise TokenRefused(f"the OIDC issuer's keys cannot be read ({type(exc).__name__})") from None
            self._keys = self._jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300, timeout=_TIMEOUT_S)
        return self._keys

    def verify(self, text: str) -> Identity:
        jwt = self._jwt
        try:
            key = self._key_client().get_signing_key_from_jwt(text)
            claims = jwt.decode(
                text, key.key, algorithms=ALGORITHMS, audience=self.config.audience, issuer=self.config.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise TokenRefused("expired token") from None
        except (jwt.PyJWTError, ValueError):
            raise TokenRefused("invalid JWT") from None
        namespace, role = claims.get(self.config.namespace_claim), claims.get(self.config.role_claim)
        if not isinstance(namespace, str) or not isinstance(role, str):
            raise TokenRefused("JWT without the namespace and role claims")
        try:
            return Identity(f"oidc:{str(claims['sub'])[:200]}", check_namespace(namespace), Role.parse(role))
        except ValueError:
            raise TokenRefused("JWT with an invalid namespace or role claim") from None
