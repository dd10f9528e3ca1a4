"""mlineage: an ML metadata and lineage store that speaks MLMD's API, with REST, history and a durable client."""

from __future__ import annotations

from mlineage import errors
from mlineage.metadata.options import ListOptions, OrderByField
from mlineage.proto import metadata_store_pb2, metadata_store_service_pb2

__version__ = "0.1.0"

__all__ = [
    "ListOptions",
    "OrderByField",
    "connect",
    "errors",
    "metadata_store_pb2",
    "metadata_store_service_pb2",
]


def connect(url: str | None = None, *, namespace: str = "default", upgrade: bool = False):
    """A store for ``url`` (``sqlite:///path``, ``postgresql://…``); ``MLINEAGE_URL`` by default.

    A new database is created at the current schema; an older one is upgraded
    only when ``upgrade`` is true.
    """
    import os

    from mlineage.metadata.store import Store

    url = url or os.environ.get("MLINEAGE_URL") or os.environ.get("MLINEAGE_DB")
    if not url:
        raise errors.InvalidArgumentError("no database URL: pass one or set MLINEAGE_URL")
    return Store(url, namespace=namespace, upgrade=upgrade)
