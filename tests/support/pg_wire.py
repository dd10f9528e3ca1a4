"""What a store says to PostgreSQL: libpq's protocol trace of every connection it checks out, counted."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator

import psycopg
from sqlalchemy import event


class Wire:
    """The frontend queries and the round trips of a traced stretch of calls."""

    def __init__(self, text_: str) -> None:
        lines = text_.splitlines()
        self.round_trips = sum(1 for line in lines if line.startswith("B") and "\tReadyForQuery" in line)
        self.commands = [line.split('"')[1] for line in lines if line.startswith("F") and "\tQuery\t" in line]


@contextlib.contextmanager
def traced(store) -> Iterator[list[Wire]]:
    """Trace every connection the store checks out while inside; the Wire is appended on exit."""
    out: list[Wire] = []
    trace = tempfile.TemporaryFile()
    flags = psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE

    def on_checkout(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(flags)

    def on_checkin(dbapi_connection, _record) -> None:
        if dbapi_connection is not None and not dbapi_connection.closed:
            dbapi_connection.pgconn.untrace()

    event.listen(store.engine, "checkout", on_checkout)
    event.listen(store.engine, "checkin", on_checkin)
    try:
        yield out
    finally:
        event.remove(store.engine, "checkout", on_checkout)
        event.remove(store.engine, "checkin", on_checkin)
        trace.seek(0)
        out.append(Wire(trace.read().decode("utf-8", "replace")))
        trace.close()
