"""Database engines for mlineage: URL handling and per-backend connection settings."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import NullPool, StaticPool

from mlineage.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError

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
    for scheme in ("mysql://", "mariadb://", "mariadb+pymysql://"):
        if url.startswith(scheme):  # MySQL and MariaDB through PyMySQL (a core dependency, pure Python)
            url = "mysql+pymysql://" + url[len(scheme) :]
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise InvalidArgumentError(f"not a database URL: {url!r} ({exc})") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql", "mysql"):
        raise InvalidArgumentError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///PATH, postgresql://… or mysql://…"
        )
    return url


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///PATH`` URL names; None for an in-memory database or another backend."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    if database.startswith("file:"):  # a SQLite URI filename (uri=true): file:PATH?mode=…
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database).expanduser()


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; with ``create=False`` a SQLite file that does not exist is NOT_FOUND.

    Creating an engine never touches the database; a new SQLite file (and its
    directory) is made on the first connection, which ``create=False`` forbids.
    Raises InvalidArgumentError for a URL that is not SQLite or PostgreSQL, and
    FailedPreconditionError when the PostgreSQL driver is not installed.
    """
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, create=create)
    options = _mysql_options(parsed) if parsed.get_backend_name() == "mysql" else {}
    if parsed.get_backend_name() == "postgresql" and os.environ.get("MLINEAGE_DB_PGBOUNCER") == "1":
        # PgBouncer in transaction mode: no server-side prepared statements (each transaction may
        # land on another server connection); psycopg prepares none with prepare_threshold=None.
        options["connect_args"] = {"prepare_threshold": None}
    try:
        engine = create_engine(url, **_pool_options(), **options)
    except ModuleNotFoundError as exc:  # psycopg and PyMySQL are dependencies; a broken install can lack them
        raise FailedPreconditionError(
            f"{parsed.get_backend_name()} needs its driver, which is not installed ({exc}): "
            "pip install 'psycopg[binary]' pymysql"
        ) from None
    _ping_when_idle(engine)
    return engine


def _pool_options() -> dict:
    """``MLINEAGE_DB_POOL_SIZE`` (default 10, plus 20 overflow); 0 means no pool of our own (NullPool:
    a connection per checkout, for a PgBouncer or another pooler in front of the database).
    ``MLINEAGE_DB_POOL_TIMEOUT``: seconds a call waits for a connection of a full pool before it is
    answered UNAVAILABLE (default 30, SQLAlchemy's)."""
    try:
        size = int(os.environ.get("MLINEAGE_DB_POOL_SIZE", "10"))
    except ValueError:
        raise InvalidArgumentError("MLINEAGE_DB_POOL_SIZE must be a whole number") from None
    if size < 0:
        raise InvalidArgumentError("MLINEAGE_DB_POOL_SIZE must not be negative")
    if size == 0:
        return {"poolclass": NullPool}
    try:
        timeout = float(os.environ.get("MLINEAGE_DB_POOL_TIMEOUT", "30"))
    except ValueError:
        raise InvalidArgumentError("MLINEAGE_DB_POOL_TIMEOUT must be a number of seconds") from None
    if not timeout > 0:
        raise InvalidArgumentError("MLINEAGE_DB_POOL_TIMEOUT must be positive")
    return {"pool_size": size, "max_overflow": 20, "pool_timeout": timeout}


#: MySQL's session settings: errors, not silent truncation, for a value a column cannot hold.
MYSQL_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE"


def _mysql_options(parsed) -> dict:
    """MySQL/MariaDB: utf8mb4 on the wire, strict SQL mode, and PostgreSQL's READ COMMITTED.

    The store's write paths (look up, then insert or lock) are written for READ COMMITTED,
    PostgreSQL's default; InnoDB's default REPEATABLE READ would let a transaction miss a row
    another committed after its first read. Connections older than the server's usual
    ``wait_timeout`` are replaced before use.
    """
    connect_args: dict = {"init_command": f"SET SESSION sql_mode='{MYSQL_SQL_MODE}'"}
    if "charset" not in parsed.query:
        connect_args["charset"] = "utf8mb4"
    return {"connect_args": connect_args, "isolation_level": "READ COMMITTED", "pool_recycle": 3600}


#: A pooled PostgreSQL connection idle longer than this is pinged before use (seconds).
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip
    for every read, a fifth of a get by id on loopback. A connection returned
    to the pool within the last second is alive (a server restart in that
    second fails that one call, UNAVAILABLE, as a restart during the call
    would); one idle longer is pinged, and a dead one is replaced before use.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:  # pragma: no cover - trivial
        if record is not None:
            record.info["mlineage_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("mlineage_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # a new connection, or one used a moment ago
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()  # the ping opened a transaction; leave the connection idle
        except engine.dialect.loaded_dbapi.Error:
            raise DisconnectionError("a pooled connection was closed by the server") from None


def check_connection(engine: Engine) -> None:
    """Connect once and read the catalog, so that a wrong database is one clear error, not a traceback.

    Raises FailedPreconditionError when a SQLite file is not a database, and
    UnavailableError when the database cannot be reached (a PostgreSQL server
    that refuses, a database that does not exist, bad credentials).
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import DBAPIError

    try:
        inspect(engine).get_table_names()
    except DBAPIError as exc:
        reason = _first_line(exc)
        if engine.dialect.name == "sqlite" and "not a database" in reason:
            raise FailedPreconditionError(f"{engine.url.database} is not a SQLite database ({reason})") from None
        raise UnavailableError(f"cannot open the database {_redacted(engine)}: {reason}") from None


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _redacted(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _sqlite_engine(url: str, *, create: bool = True) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    memory = database in ("", ":memory:") or "mode=memory" in database
    path = sqlite_file(url)
    if path is not None and not create and not path.exists():
        raise NotFoundError(f"no database at {path}")
    if path is not None and create:
        path.resolve().parent.mkdir(parents=True, exist_ok=True)
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
