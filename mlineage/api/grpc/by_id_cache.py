"""Serialized nodes and types by id for the gRPC gets, on SQLite, valid exactly while the database is unchanged.

A get by id through ``mlineage serve`` used to cost about twice the embedded
store's own time for it: the same reads, run in a server thread between
network calls, find the CPU caches cold. MLMD's client asks for the same
nodes again and again (every lineage answer is followed by gets of its nodes
and their types), so the service keeps the serialized messages it answered
and sends them again while nothing changed.

"Nothing changed" is SQLite's ``PRAGMA data_version``, read on a connection of
our own that never writes: its value moves whenever any other connection, of
this process or another, commits to the database. Every get reads it first
and drops the whole cache when it moved, so a get never answers anything a
committed write has changed; entries read while a write was committing are
kept only if the version they were read under is still current.

On PostgreSQL (several replicas may share the database) the version is the
server's current snapshot, ``pg_current_snapshot()``: the transactions it sees
as committed (xmin, xmax and the ones in progress). Any write, from any
replica or any other client, is assigned a transaction id and so changes
every later snapshot; two equal snapshots see the same data. A get then costs
one round trip (the snapshot) instead of reading and building its messages;
a database that is written to all the time only misses, one round trip more.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

#: Entries kept (nodes and types together), least recently used dropped first.
DEFAULT_MAX_ENTRIES = 50_000


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def repeated_field(field_number: int, items: Iterable[bytes]) -> bytes:
    """The wire form of a repeated message field holding the given serialized messages."""
    tag = _varint(field_number << 3 | 2)
    return b"".join(tag + _varint(len(item)) + item for item in items)


class ByIdCache:
    """Serialized messages by (what, id), for one SQLite or PostgreSQL database; see the module notes."""

    def __init__(self, path: str | None, max_entries: int = DEFAULT_MAX_ENTRIES, *, engine: Engine | None = None) -> None:
        # SQLite: a watch connection of our own; PostgreSQL (``engine``): the pool's connections.
        self._watch = sqlite3.connect(path, check_same_thread=False, isolation_level=None) if path else None
        self._snapshots = _SnapshotReader(engine) if engine is not None else None
        self._watch_lock = threading.Lock()
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._max = max_entries
        self._version = self._data_version()

    @classmethod
    def for_engine(cls, engine: Engine, max_entries: int = DEFAULT_MAX_ENTRIES) -> ByIdCache | None:
        """A cache for a file-backed SQLite engine or a PostgreSQL one; None for anything else."""
        url = engine.url
        if url.get_backend_name() == "postgresql":
            return cls(None, max_entries, engine=engine)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        if url.database.startswith("file:") or url.query.get("mode") == "memory":
            return None
        return cls(url.database, max_entries)

    def _data_version(self) -> Any:
        if self._snapshots is not None:
            return self._snapshots.read()
        assert self._watch is not None  # a cache has an engine (PostgreSQL) or a watch connection (SQLite)
        with self._watch_lock:
            return self._watch.execute("PRAGMA data_version").fetchone()[0]

    def current(self) -> Any:
        """The database's version now; the cache is emptied if it moved."""
        version = self._data_version()
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._entries.clear()
                    self._version = version
        return version

    def get(
        self,
        what: str,
        ids: Sequence[int],
        read: Callable[[list[int]], Iterable[tuple[int, Any]]],
        version: Any = None,
    ) -> dict[int, Any]:
        """Entries of ``ids`` (those that exist); ``read`` gets the missing ones as (id, entry).

        An entry is what the caller keeps for an id (here: a message's wire form and its type id).
        ``version``: what ``current()`` answered a moment ago for the same request, if it asked."""
        if version is None:
            version = self.current()
        found: dict[int, Any] = {}
        missing: list[int] = []
        with self._lock:
            entries = self._entries
            for node_id in ids:
                data = entries.get((what, node_id))
                if data is None:
                    missing.append(node_id)
                else:
                    entries.move_to_end((what, node_id))
                    found[node_id] = data
        if missing:
            fresh = dict(read(missing))
            found.update(fresh)
            with self._lock:
                if version == self._version:  # not read across a commit someone else has seen
                    for node_id, data in fresh.items():
                        self._entries[(what, node_id)] = data
                    while len(self._entries) > self._max:
                        self._entries.popitem(last=False)
        return found

    def close(self) -> None:
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
        if self._snapshots is not None:
            self._snapshots.close()


#: Connections kept for reading PostgreSQL's snapshot, outside the pool (at most this many).
SNAPSHOT_CONNECTIONS = 4


class _SnapshotReader:
    """Reads ``pg_current_snapshot()`` on a few autocommit connections of its own.

    Taken out of the engine's pool once (``detach``) and kept in autocommit, they skip the pool's
    checkout, reset and autocommit switches on every get; when all are busy, a pooled connection
    serves. A connection that fails is closed and replaced by the next read."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._idle: list[Any] = []
        self._count = 0
        self._lock = threading.Lock()

    def read(self) -> Any:
        """The snapshot as text; when the database cannot answer, a version equal to no other (the
        get then reads through the store, which says what is wrong in its own words)."""
        try:
            connection = self._take()
        except Exception:  # noqa: BLE001 - the store's read reports the error
            return object()
        if connection is None:
            return _pooled_snapshot(self._engine)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_snapshot()::text")
                snapshot = cursor.fetchone()[0]
        except Exception:  # noqa: BLE001 - a broken connection: dropped; the store's read reports why
            self._drop(connection)
            return object()
        with self._lock:
            self._idle.append(connection)
        return snapshot

    def _take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self._count >= SNAPSHOT_CONNECTIONS:
                return None
            self._count += 1
        try:
            fairy = self._engine.raw_connection()
            fairy.detach()  # ours now: the pool neither resets nor counts it
            connection: Any = fairy.dbapi_connection
            connection.autocommit = True
            return connection
        except Exception:
            with self._lock:
                self._count -= 1
            raise

    def _drop(self, connection: Any) -> None:
        with self._lock:
            self._count -= 1
        try:
            connection.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken connection may fail too
            pass

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for connection in idle:
            try:
                connection.close()
            except Exception:  # noqa: BLE001, S110
                pass


def _pooled_snapshot(engine: Engine) -> Any:
    try:
        fairy = engine.raw_connection()
        try:
            connection: Any = fairy.dbapi_connection  # psycopg's, on a PostgreSQL engine
            connection.autocommit = True
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_snapshot()::text")
                    return cursor.fetchone()[0]
            finally:
                connection.autocommit = False
        finally:
            fairy.close()
    except Exception:  # noqa: BLE001 - the store's read reports the error
        return object()
