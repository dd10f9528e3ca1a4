"""``mlineage serve``'s authentication options: what they configure, and whether the address may be bound.

Secure by default: with no authentication configured the server binds loopback only
(as MLflow's does); another address needs ``--auth tokens`` (or ``--tls-identities``)
or an explicit ``--insecure-no-auth``, which prints a warning.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from mlineage.auth.authenticator import AuthConfig
from mlineage.auth.tls_identities import TLSIdentities


def auth_config(args: argparse.Namespace, tls) -> AuthConfig:
    """The AuthConfig the flags ask for; ValueError with the flag's problem."""
    identities = None
    if args.tls_identities:
        if tls is None or not tls.client_verify or not tls.custom_ca:
            raise ValueError("--tls-identities needs mutual TLS: --tls-cert, --tls-key, --tls-ca and --tls-client-verify")
        try:
            identities = TLSIdentities.load(args.tls_identities)
        except OSError as exc:
            raise ValueError(f"cannot read --tls-identities {args.tls_identities}: {exc.strerror or exc}") from None
    if args.rate_limit is not None and args.rate_limit <= 0:
        raise ValueError("--rate-limit must be a positive number of requests per second")
    if args.max_request_bytes <= 0:
        raise ValueError("--max-request-bytes must be positive")
    oidc = None
    if args.oidc_issuer:
        if not args.oidc_audience:
            raise ValueError("--oidc-issuer needs --oidc-audience (the audience its tokens are issued for)")
        from mlineage.auth.oidc import OIDCConfig, OIDCVerifier

        oidc = OIDCVerifier(OIDCConfig(args.oidc_issuer, args.oidc_audience, args.oidc_namespace_claim,
                                       args.oidc_role_claim))  # fmt: skip
    config = AuthConfig(tokens=args.auth == "tokens", tls_identities=identities, rate_limit=args.rate_limit,
                        oidc=oidc)  # fmt: skip
    if args.rate_limit is not None and not config.enabled:
        raise ValueError("--rate-limit is per identity: it needs --auth tokens or --tls-identities")
    if config.enabled and args.insecure_no_auth:
        raise ValueError("--insecure-no-auth contradicts --auth tokens / --tls-identities / --oidc-issuer")
    return config


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, config: AuthConfig, *, insecure: bool) -> str | None:
    """Why ``host`` may not be bound with ``config`` (None: it may); warns for --insecure-no-auth."""
    if config.enabled or is_loopback(host):
        return None
    if not insecure:
        return (f"refusing to serve {host} with no authentication: anyone who reaches it could read and write "
                "everything; pass --auth tokens (see `mlineage token create`), or --insecure-no-auth to do it anyway")
    print(f"warning: serving {host} with NO authentication (--insecure-no-auth): anyone who reaches the ports "
          "reads and writes everything", file=sys.stderr, flush=True)
    return None


def describe_auth(config: AuthConfig, host: str) -> str:
    """One line for the start-up banner."""
    if not config.enabled:
        if is_loopback(host):
            return (f"no authentication configured: serving loopback ({host}) only; "
                    "use --host 0.0.0.0 --auth tokens to serve other machines")
        return "no authentication (--insecure-no-auth)"
    parts = []
    if config.tokens:
        parts.append("bearer tokens")
    if config.oidc is not None:
        parts.append(f"OIDC tokens of {config.oidc.config.issuer}")
    if config.tls_identities is not None:
        parts.append(f"client certificates ({len(config.tls_identities)} identities)")
    limit = f", rate limit {config.rate_limit:g}/s per identity" if config.rate_limit else ""
    return "authentication: " + " and ".join(parts) + limit
