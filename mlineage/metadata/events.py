"""Access to the ``events`` table: inserting events and reading them back as messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from mlineage.errors import AlreadyExistsError
from mlineage.metadata import dialect, executor, history
from mlineage.metadata.kinds import ARTIFACT, NodeKind
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t

_COLUMNS = ("id", "artifact_id", "execution_id", "type", "path", "milliseconds_since_epoch", "system_metadata")


def _path_json(event: pb.Event) -> str:
    steps: list[dict[str, Any]] = []
    for step in event.path.steps:
        which = step.WhichOneof("value")
        if which == "index":
            steps.append({"index": step.index})
        elif which == "key":
            steps.append({"key": step.key})
        else:
            steps.append({})
    return json.dumps(steps, separators=(",", ":"))


def event_row(event: pb.Event, now: int) -> dict[str, Any]:
    """The row of one (checked) event; an event without a time is stamped ``now``."""
    return {
        "artifact_id": event.artifact_id,
        "execution_id": event.execution_id,
        "type": event.type,
        "path": _path_json(event) if event.HasField("path") else None,
        "milliseconds_since_epoch": event.milliseconds_since_epoch if event.HasField("milliseconds_since_epoch") else now,
        "system_metadata": event.system_metadata.SerializeToString() if event.HasField("system_metadata") else None,
    }


def insert_events(connection: executor.AnyConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (from ``event_row``, all with the same columns); returns nothing.

    Raises AlreadyExistsError when an event with the same (artifact_id, execution_id, type)
    is stored; the caller's transaction is then to be rolled back (no savepoint is taken).
    """
    if not rows:
        return
    columns = (*rows[0], "change_id")
    change = history.change_id(connection)
    try:
        executor.execute_many(
            connection,
            ("insert_events", columns),
            lambda _: insert(t.events).values({c: bindparam(f"p_{c}") for c in columns}),
            [{**{f"p_{c}": value for c, value in row.items()}, "p_change_id": change} for row in rows],
        )
    except IntegrityError:
        raise AlreadyExistsError(
            "Given event already exists: an event with the same (artifact_id, execution_id, type)"
        ) from None


def _message(row: Sequence) -> pb.Event:
    _, artifact_id, execution_id, event_type, path, milliseconds, system_metadata = row
    event = pb.Event(artifact_id=artifact_id, execution_id=execution_id, type=event_type)
    if milliseconds is not None:
        event.milliseconds_since_epoch = milliseconds
    if path is not None:
        steps = event.path
        steps.SetInParent()
        for step in json.loads(path):
            added = steps.steps.add()
            if "index" in step:
                added.index = step["index"]
            elif "key" in step:
                added.key = step["key"]
    if system_metadata is not None:
        event.system_metadata.ParseFromString(bytes(system_metadata))
    return event


def _of_nodes_statement(kind: NodeKind) -> executor.Builder:
    column = t.events.c.artifact_id if kind is ARTIFACT else t.events.c.execution_id

    def build(dialect_name: str):
        return select(*(t.events.c[c] for c in _COLUMNS)).where(dialect.ids_match(dialect_name, column))

    return build


def events_of_nodes(connection: executor.AnyConnection, kind: NodeKind, ids: Sequence[int]) -> list[pb.Event]:
    """The events of the given artifacts (or executions), in event id order; raises only the driver's errors."""
    ids = list(dict.fromkeys(ids))
    rows: list[tuple] = []
    for part in dialect.chunks(ids, dialect.LARGE_BATCH):
        rows.extend(
            executor.fetch(
                connection,
                ("events_of_nodes", kind.name),
                _of_nodes_statement(kind),
                {"ids": dialect.ids_param(connection.dialect.name, part)},
            )
        )
    rows.sort(key=lambda row: row[0])
    return [_message(row) for row in rows]


__all__ = ["event_row", "events_of_nodes", "insert_events"]
