"""Access to the ``openlineage_events`` table: OpenLineage events kept as they were received."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, insert, select

from mlineage.metadata import executor
from mlineage.schema import tables as t

Connection = executor.AnyConnection


@dataclass(frozen=True)
class RawEvent:
    """The columns of one received event: what it says of itself, and its JSON as received (``payload``)."""

    event_time: str
    event_type: str | None
    run_id: str | None
    job_namespace: str | None
    job_name: str | None
    producer: str | None
    payload: str


def insert_event(connection: Connection, namespace: str, event: RawEvent, received_ms: int) -> int:
    """Insert one event of ``namespace`` received at ``received_ms``; returns its id.

    Raises the driver's errors as SQLAlchemy exceptions; the store's transaction maps them.
    """
    row = {
        "namespace": namespace,
        "received_time_since_epoch": received_ms,
        "event_time": event.event_time[:64],
        "event_type": event.event_type,
        "run_id": event.run_id,
        "job_namespace": event.job_namespace,
        "job_name": event.job_name,
        "producer": event.producer,
        "payload": event.payload,
    }
    key = executor.run(connection, lambda _: insert(t.openlineage_events).values(**row)).inserted_primary_key
    assert key is not None  # a single-row insert has a primary key
    return int(key[0])


def read_events(
    connection: Connection, namespace: str, run_id: str | None, after_id: int | None, limit: int
) -> list[tuple[int, str]]:
    """(id, payload) of up to ``limit`` events of ``namespace`` (of one run when ``run_id``), after ``after_id``, by id."""
    table = t.openlineage_events
    conditions = [table.c.namespace == namespace]
    if run_id:
        conditions.append(table.c.run_id == run_id)
    if after_id is not None:
        conditions.append(table.c.id > after_id)
    statement = select(table.c.id, table.c.payload).where(and_(*conditions)).order_by(table.c.id).limit(limit)
    return [(row.id, row.payload) for row in executor.run(connection, lambda _: statement)]


__all__ = ["RawEvent", "insert_event", "read_events"]
