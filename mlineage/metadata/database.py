"""Statements about the database session itself: the write lock timeout, a liveness ping, and a
change token (a value that moves whenever any committed write changes the database).

The change token is what a cache of answers keys on (the gRPC service's by-id
cache): equal tokens mean equal data.

- SQLite: ``PRAGMA data_version``, read on a connection of the token's own that
  never writes; its value moves whenever any other connection, of this process
  or another, commits to the file.
- PostgreSQL: the server's current snapshot, ``pg_current_snapshot()``: the
  transactions it sees as committed. Any write, from any replica or client, is
  given a transaction id and so changes every later snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, text

from mlineage.metadata import executor

#: A PostgreSQL write waits at most this long for a row lock before failing (ABORTED, retry).
LOCK_TIMEOUT = "30s"


def set_write_lock_timeout(connection: executor.AnyConnection) -> None:
    """Bound how long this write transaction waits for locks (PostgreSQL, MySQL; nothing on SQLite)."""
    if connection.dialect.name == "postgresql":
        executor.execute_many(
            connection, "lock_timeout", lambda _: text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"), [{}]
        )
    elif connection.dialect.name == "mysql":  # a session setting there (no SET LOCAL): the same on every write
        executor.execute_many(
            connection, "lock_timeout", lambda _: text(f"SET innodb_lock_wait_timeout = {int(LOCK_TIMEOUT[:-1])}"), [{}]
        )


def ping(connection: executor.AnyConnection) -> None:
    """One trivial statement: raises the driver's error (as SQLAlchemy's) when the database does not answer."""
    executor.fetch(connection, "ping", lambda _: text("SELECT 1"), {})


class ChangeToken:
    """Reads a database's change token; ``read()`` answers a value equal to no other when the
    database cannot answer (a cache then misses, and the store's read says what is wrong)."""

    def read(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Release the token's connections."""


class SqliteDataVersion(ChangeToken):
    """``PRAGMA data_version`` of a SQLite file, on a watch connection that never writes."""

    def __init__(self, path: str) -> None:
        self._watch = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def read(self) -> Any:
        with self._lock:
            return self._watch.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._watch.close()


#: Connections kept for reading PostgreSQL's snapshot, outside the pool (at most this many).
SNAPSHOT_CONNECTIONS = 4
_SNAPSHOT = "SELECT pg_current_snapshot()::text"
_SNAPSHOT_BYTES = _SNAPSHOT.encode()
#: libpq's PGRES_TUPLES_OK (psycopg.pq.ExecStatus.TUPLES_OK), without importing psycopg here.
_TUPLES_OK = 2


class PostgresSnapshot(ChangeToken):
    """Reads ``pg_current_snapshot()`` on a few autocommit connections of its own.

    Taken out of the engine's pool once (``detach``) and kept in autocommit, they skip the pool's
    checkout, reset and autocommit switches on every read; when all are busy, a pooled connection
    serves. A connection that fails is closed and replaced by the next read."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._idle: list[Any] = []
        self._count = 0
        self._lock = threading.Lock()

    def read(self) -> Any:
        """The snapshot as text; when the database cannot answer, a value equal to no other."""
        try:
            connection = self._take()
        except Exception:  # noqa: BLE001 - the store's read reports the error
            return object()
        if connection is None:
            return _pooled_snapshot(self._engine)
        try:
            # libpq's own call (the GIL released while it waits), not a cursor: a cached get's one
            # round trip costs about half (20 vs 40-60 us), with the same text.
            result = connection.pgconn.exec_(_SNAPSHOT_BYTES)
            if result.status != _TUPLES_OK:
                raise RuntimeError(result.get_error_message())
            snapshot = result.get_value(0, 0).decode()
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
                    cursor.execute(_SNAPSHOT)
                    return cursor.fetchone()[0]
            finally:
                connection.autocommit = False
        finally:
            fairy.close()
    except Exception:  # noqa: BLE001 - the store's read reports the error
        return object()


_MYSQL_LOG_POSITION = "SHOW GLOBAL STATUS LIKE 'Innodb_lsn_current'"


class MysqlLogPosition(ChangeToken):
    """MariaDB: InnoDB's current log sequence number, which every commit that changed a row moves
    (so does any write of the server, as PostgreSQL's snapshot does: a cache then misses). A server
    that does not report it (MySQL 8) answers a value equal to no other: nothing is cached."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read(self) -> Any:
        try:
            fairy = self._engine.raw_connection()
            try:
                cursor = fairy.cursor()
                cursor.execute(_MYSQL_LOG_POSITION)
                row = cursor.fetchone()
                cursor.close()
            finally:
                fairy.close()
        except Exception:  # noqa: BLE001 - the store's read reports the error
            return object()
        return row[1] if row else object()

    def close(self) -> None:
        return None


def change_token(engine: Engine) -> ChangeToken | None:
    """The change token of a file-backed SQLite database, a PostgreSQL or a MySQL one; None for
    anything else (an in-memory SQLite database has no second connection to watch it from)."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresSnapshot(engine)
    if url.get_backend_name() == "mysql":
        return MysqlLogPosition(engine)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return SqliteDataVersion(url.database)


__all__ = [
    "ChangeToken",
    "MysqlLogPosition",
    "PostgresSnapshot",
    "SqliteDataVersion",
    "change_token",
    "ping",
    "set_write_lock_timeout",
]


def widen_page_cache(connection: executor.AnyConnection) -> None:
    """SQLite: a 64 MiB page cache on this connection (SQLite's default is 2 MiB), for bulk writes into
    tables of a million rows, whose index updates land all over the file; nothing elsewhere."""
    if connection.dialect.name == "sqlite":
        executor.execute_many(connection, "page_cache", lambda _: text("PRAGMA cache_size=-65536"), [{}])
