"""Database engines for mlineage: URL handling and per-backend connection settings."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from mlineage.errors import InvalidArgumentError

DEFAULT_SQLITE_PATH = "mlineage.db"

# Execution option set on the write connections: SQLite then opens its
# transaction with BEGIN IMMEDIATE, taking the write lock up front, so two
# writers queue on busy_timeout instead of failing with "database is locked"
# when a read transaction tries to upgrade itself to a write.
WRITE = "mlineage_write"


def normalize_url(url: str) -> str:
    """Accept the URLs users type (``postgresql://``, ``sqlite:///x.db``) and pick our drivers."""
    if not url:
        raise InvalidArgumentError("empty database URL")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise InvalidArgumentError(f"not a database URL: {url!r} ({exc})") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidArgumentError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///PATH or postgresql://…"
        )
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(
        url,
        pool_size=int(os.environ.get("MLINEAGE_DB_POOL_SIZE", "10")),
        max_overflow=20,
        pool_pre_ping=True,
    )


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    memory = database in ("", ":memory:") or "mode=memory" in database
    if not memory:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"check_same_thread": False, "timeout": 30}
    if memory:
        # One shared connection, or every checkout would see a new empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args=connect_args)
    else:
        engine = create_engine(url, pool_size=8, max_overflow=32, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        # Let SQLAlchemy's BEGIN (below) control transactions, not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # FULL by default: an acknowledged write survives a crash of the machine, not only of
        # the process (one WAL fsync per commit). NORMAL trades that for speed; it is opt-in.
        synchronous = os.environ.get("MLINEAGE_SQLITE_SYNCHRONOUS", "FULL")
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            synchronous = "FULL"
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # pragma: no cover - trivial
        if connection.get_execution_options().get(WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def enable_wal(engine: Engine) -> None:
    """Put a SQLite file in WAL mode (a setting the file keeps); nothing for other databases.

    The store calls this only once it knows the database is its own, so that
    opening a foreign file (an MLMD database given by mistake) leaves it as it was.
    """
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:") or "mode=memory" in database:
        return
    raw = engine.raw_connection()  # outside a transaction: SQLite cannot switch modes inside one
    try:
        raw.cursor().execute("PRAGMA journal_mode=WAL")
    finally:
        raw.close()
