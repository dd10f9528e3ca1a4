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
    "run",
    "step",
]


def connect(url: str | None = None, *, namespace: str = "default", upgrade: bool = False):
    """A store for ``url``; ``MLINEAGE_URL`` by default.

    ``sqlite:///path`` and ``postgresql://…`` open the database in-process (a new
    database is created at the current schema; an older one is upgraded only
    when ``upgrade`` is true). ``grpc://host:port`` and
    ``grpcs://host:port[?ca=…&cert=…&key=…]`` talk to ``mlineage serve``
    through a store with the same methods.
    """
    from mlineage.connection import connect as open_store

    return open_store(url, namespace=namespace, upgrade=upgrade)


def run(*args, **kwargs):
    """Record a pipeline run: ``with mlineage.run("taxi", run_id="2026-11-29-a") as run: ...``.

    See ``mlineage.client.tracking.Run`` for the arguments.
    """
    from mlineage.client.tracking import start_run

    return start_run(*args, **kwargs)


def step(*args, **kwargs):
    """A step of the current run (or of a run made from $MLINEAGE_PIPELINE / $MLINEAGE_RUN_ID), as a
    context manager or a decorator; see ``mlineage.client.tracking.Run.step``."""
    from mlineage.client.tracking import current_step_spec

    return current_step_spec(*args, **kwargs)
