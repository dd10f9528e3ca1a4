"""Who may read and write what: identities (bearer tokens, mTLS certificates), roles and the caller's namespace.

* :mod:`mlineage.auth.identity` — an :class:`Identity` (name, namespace, role) and the
  one the current request runs as.
* :mod:`mlineage.auth.tokens` — bearer tokens: made once, kept as salted hashes, verified
  in constant time, revoked or expired.
* :mod:`mlineage.auth.policy` — the one table of which role each gRPC method and REST
  route needs.
* :mod:`mlineage.auth.tls_identities` — client certificate subjects (CN or a SAN) mapped
  to a namespace and role, for the unmodified ml-metadata client.
* :mod:`mlineage.auth.http` and :mod:`mlineage.auth.grpc` — the adapters: an app-wide
  ASGI middleware and a gRPC server interceptor, both resolving the identity once per
  request and refusing 401/UNAUTHENTICATED or 403/PERMISSION_DENIED before any handler runs.
"""
