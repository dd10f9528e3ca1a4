"""``store.as_of(ts)``: a read-only view of a store as it was at a past moment.

The view offers every read of the store (``get_*``, ``list_nodes``, lineage
subgraphs, ``reading()`` for the lineage layer) and no write. Each call runs
the store's own read inside :func:`history.reading_as_of`, so the executor
answers it over the rows valid at that moment: there is no second
implementation of any read to keep in step.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlineage.errors import InvalidArgumentError
from mlineage.metadata import history

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from mlineage.metadata.store import Store

# The store's reads the view offers (everything else, writes included, is absent).
READ_METHODS = (
    "get_artifact_type",
    "get_execution_type",
    "get_context_type",
    "get_artifact_types",
    "get_execution_types",
    "get_context_types",
    "get_artifact_types_by_id",
    "get_execution_types_by_id",
    "get_context_types_by_id",
    "get_artifact_types_by_external_ids",
    "get_execution_types_by_external_ids",
    "get_context_types_by_external_ids",
    "list_types",
    "get_artifacts_by_id",
    "get_executions_by_id",
    "get_contexts_by_id",
    "get_artifacts_and_types_by_artifact_ids",
    "get_artifacts_by_external_ids",
    "get_executions_by_external_ids",
    "get_contexts_by_external_ids",
    "get_artifacts_by_uri",
    "get_artifact_by_type_and_name",
    "get_execution_by_type_and_name",
    "get_context_by_type_and_name",
    "list_nodes",
    "get_artifacts",
    "get_executions",
    "get_contexts",
    "get_artifacts_by_type",
    "get_executions_by_type",
    "get_contexts_by_type",
    "get_artifacts_by_context",
    "get_executions_by_context",
    "get_contexts_by_artifact",
    "get_contexts_by_execution",
    "get_parent_contexts_by_context",
    "get_children_contexts_by_context",
    "get_parent_contexts_by_contexts",
    "get_children_contexts_by_contexts",
    "get_events_by_execution_ids",
    "get_events_by_artifact_ids",
    "get_lineage_subgraph",
    "get_lineage_graph",
    "lineage_page",
)


def parse_moment(value: str | int | float | datetime) -> int:
    """A moment as ms since the epoch: epoch milliseconds (int or digits) or RFC 3339 text / a datetime.

    INVALID_ARGUMENT for anything else (a datetime without a time zone included: it names no moment).
    """
    if isinstance(value, bool):
        raise InvalidArgumentError("as_of must be RFC 3339 or epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidArgumentError("as_of must be a finite number of milliseconds")
        return int(value)
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            if len(text) > 18:
                raise InvalidArgumentError(f"as_of {text!r} is out of range")
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidArgumentError(
                f"as_of {text[:64]!r} is neither RFC 3339 (e.g. 2026-05-01T12:00:00Z) nor epoch milliseconds"
            ) from None
    if moment.tzinfo is None:
        raise InvalidArgumentError("as_of needs a time zone (e.g. 2026-05-01T12:00:00Z)")
    return int(moment.timestamp() * 1000)


class AsOfStore:
    """A read-only view of ``store`` as of ``point`` (see :meth:`Store.as_of`)."""

    def __init__(self, store: Store, point: history.AsOf) -> None:
        self._store = store
        self._point = point

    @property
    def as_of_ms(self) -> int:
        """The moment of the view, in ms since the epoch."""
        return self._point.ms

    @property
    def point(self) -> history.AsOf:
        return self._point

    @property
    def namespace(self) -> str:
        return self._store.namespace

    @property
    def read_only(self) -> bool:
        return True

    @property
    def max_node_bytes(self) -> int:
        return self._store.max_node_bytes

    def as_of(self, moment: str | int | float | datetime) -> AsOfStore:
        return self._store.as_of(moment)

    @contextlib.contextmanager
    def reading(self, *, replica: bool = False) -> Iterator[Connection]:
        """A read transaction whose statements answer as of the view's moment."""
        with history.reading_as_of(self._point), self._store.reading(replica=replica) as connection:
            yield connection

    def __repr__(self) -> str:
        return f"AsOfStore({self._store!r}, as_of_ms={self._point.ms})"


def _delegate(name: str) -> Callable[..., Any]:
    from mlineage.metadata.store import Store

    method = getattr(Store, name)

    @functools.wraps(method)
    def read(self: AsOfStore, *args: Any, **kwargs: Any) -> Any:
        with history.reading_as_of(self._point):
            return method(self._store, *args, **kwargs)

    return read


def install_read_methods() -> None:
    """Give AsOfStore the store's reads (called once, by store.py, when Store exists)."""
    for name in READ_METHODS:
        setattr(AsOfStore, name, _delegate(name))


def now_ms() -> int:
    return time.time_ns() // 1_000_000
