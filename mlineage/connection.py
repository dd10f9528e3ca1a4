"""Opening a store by URL: the one place that maps ``sqlite://``, ``postgresql://``, ``grpc(s)://`` to a store."""

from __future__ import annotations

import os

from mlineage import errors
from mlineage.metadata.interface import StoreInterface


def redact(url: str) -> str:
    """``url`` for messages: its password, if any, shown as ``***`` (any scheme, no SQLAlchemy needed)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if not parts.password:
            return url
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:  # an unparsable port, say: say nothing of the URL
        return "the database"
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str | None = None, *, namespace: str = "default", upgrade: bool = False) -> StoreInterface:
    """A store for ``url``; ``MLINEAGE_URL`` (or ``MLINEAGE_DB``) by default. See ``mlineage.connect``."""
    url = url or os.environ.get("MLINEAGE_URL") or os.environ.get("MLINEAGE_DB")
    if not url:
        raise errors.InvalidArgumentError("no database URL: pass one or set MLINEAGE_URL")
    if url.startswith(("grpc://", "grpcs://")):
        from mlineage.client.grpc_store import GrpcStore

        return GrpcStore(url)
    from mlineage.metadata import filter_query
    from mlineage.metadata.store import Store

    store = Store(url, namespace=namespace, upgrade=upgrade)
    filter_query.warm_up()
    return store
