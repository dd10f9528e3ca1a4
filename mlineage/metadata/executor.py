"""The query executor: every statement of the access tier runs here, on the caller's connection.

The store's hot paths (a put or a get is a handful of small statements) spend
more time in SQLAlchemy's per-execute machinery than in the database. Here a
statement is built once as a SQLAlchemy construct (never SQL text), compiled
for the connection's dialect, cached under a key, and then executed directly
on the cursor of the caller's connection, inside the caller's transaction
(``fetch``, ``execute_many``, ``insert_returning_ids``). Only plain values
travel as parameters (ints, floats, str, bool, bytes).

A statement that needs SQLAlchemy's own execution (a batch insert returning
ids, a statement built for one request) runs through ``run``; the one
statement that is SQL text (PostgreSQL's one-statement lineage walk) through
``fetch_text``. Callers pass builders (``dialect name -> statement``), never
statements they executed themselves, so ``_built`` is the one place where
every statement the store runs comes into being.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect, Engine, PoolProxiedConnection
from sqlalchemy import exc as exc_module
from sqlalchemy.sql.elements import DQLDMLClauseElement

from mlineage.metadata import namespace_scope
from mlineage.metadata.dialect import ids_match, ids_param, set_autocommit  # noqa: F401 - written in dialect, kept here for callers

# dialect name -> statement (a query or DML, never DDL: compiled by a SQLCompiler)
Builder = Callable[[str], DQLDMLClauseElement]
_Builder = Builder

# (dialect, key) -> (SQL, parameter order or None for named, values bound at construction)
_CACHE: dict[tuple[Any, ...], tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 4096

# OpenTelemetry (api/tracing.py installs a tracer when a server traces): a CLIENT span per statement run
# here, under the request's span. Off, each statement pays one test of this global.
_TRACER: Any = None
_NO_SPAN = contextlib.nullcontext()


def trace_statements(tracer: Any) -> None:
    """Record a span for every statement run here with ``tracer`` (an OpenTelemetry Tracer); None stops."""
    global _TRACER
    _TRACER = tracer


def _span(connection: AnyConnection, sql: str, key: Any = None):
    """A span for one statement: named by its operation, with the dialect, the SQL (no values) and its key."""
    from opentelemetry.trace import SpanKind

    operation = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
    attributes = {"db.system.name": connection.dialect.name, "db.operation.name": operation,
                  "db.query.text": sql[:2000]}
    if key is not None:
        attributes["mlineage.statement"] = str(key)[:200]
    return _TRACER.start_as_current_span(operation, kind=SpanKind.CLIENT, attributes=attributes)


def _traced(connection: AnyConnection, sql: str, key: Any = None):
    """The statement's span while tracing is on; a context that does nothing otherwise."""
    return _span(connection, sql, key) if _TRACER is not None else _NO_SPAN


class Rewrite:
    """A change applied to every statement built while it is active (see :func:`rewriting`)."""

    __slots__ = ("tag", "change", "params")

    def __init__(self, tag: Any, change: Callable[[Any], Any], params: Mapping[str, Any]) -> None:
        self.tag = tag  # part of the cache key: the same statement rewritten compiles once
        self.change = change
        self.params = dict(params)  # values of the parameters the change adds


_REWRITE: contextvars.ContextVar[Rewrite | None] = contextvars.ContextVar("mlineage_rewrite", default=None)


@contextlib.contextmanager
def rewriting(rewrite: Rewrite | None) -> Iterator[Rewrite | None]:
    """Apply ``rewrite`` to every statement run in this context (history's reads as of a moment use it);
    None runs statements as written (a read of the history tables themselves)."""
    token = _REWRITE.set(rewrite)
    try:
        yield rewrite
    finally:
        _REWRITE.reset(token)


def active_rewrite() -> Rewrite | None:
    return _REWRITE.get()


def _built(build: Builder, dialect_name: str) -> DQLDMLClauseElement:
    """The statement ``build`` makes for a dialect: every statement run here is made by this call.

    Inside a namespace scope (metadata/namespace_scope.py) a SELECT reads that namespace's rows only.
    """
    rewrite = _REWRITE.get()
    statement = rewrite.change(build(dialect_name)) if rewrite is not None else build(dialect_name)
    namespace = namespace_scope.current()
    if namespace is not None:
        return namespace_scope.scoped_statement(statement, namespace)
    return statement


def _compiled(
    connection: AnyConnection, key: Any, build: _Builder
) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
    dialect = connection.dialect
    rewrite = _REWRITE.get()
    cache_key: tuple[Any, ...] = (dialect.name, key) if rewrite is None else (dialect.name, rewrite.tag, key)
    namespace = namespace_scope.current()
    if namespace is not None:  # the namespace is bound into the statement: part of its key
        cache_key = (*cache_key, ("namespace", namespace))
    found = _CACHE.get(cache_key)
    if found is None:
        # Expanding parameters (a filter's ``IN (…)``) are rendered into the text once: the key fixes them.
        compiled = _built(build, dialect.name).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        positions: tuple[str, ...] | None = None
        if compiled.positional:
            assert compiled.positiontup is not None  # set by a positional compiler (empty: no parameters)
            positions = tuple(compiled.positiontup)
        found = (
            compiled.string,
            positions,
            # Literals bound when the statement was built (e.g. a filter's values); the key
            # must then determine them, as a filter's text determines its values.
            {name: value for name, value in compiled.params.items() if value is not None},
        )
        with _LOCK:
            # Keys may carry caller text (a lineage query's filter): bounded, the oldest entry goes first.
            while len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)), None)
            _CACHE[cache_key] = found
    return found


def named_statement(connection: AnyConnection, key: Any, build: _Builder) -> tuple[str, dict[str, Any]]:
    """A statement's SQL (named parameters, as PostgreSQL's driver takes them) and the values bound
    when it was built, for a caller that puts it inside a statement of its own (a lineage walk)."""
    sql, positions, defaults = _compiled(connection, key, build)
    if positions is not None:
        raise ValueError(f"{connection.dialect.name} statements take positional parameters")
    return sql, dict(defaults)


def _bind(positions: tuple[str, ...] | None, params: Mapping[str, Any]):
    return tuple(map(params.__getitem__, positions)) if positions is not None else params


class RawConnection:
    """What the executor needs of a connection, over a pooled DBAPI connection (see raw_read)."""

    __slots__ = ("connection", "dialect")

    def __init__(self, dialect: Dialect, pooled_connection: PoolProxiedConnection) -> None:
        self.dialect = dialect
        self.connection = pooled_connection


# What the executor's functions run on: a SQLAlchemy Connection or a RawConnection (both give
# ``dialect`` and ``connection``, the pooled DBAPI connection).
AnyConnection = Connection | RawConnection


def _cursor(connection: AnyConnection):
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None  # None only once the connection is invalidated or closed
    return dbapi_connection.cursor()


@contextlib.contextmanager
def wrapped_errors(connection: AnyConnection, sql: str):
    """Raise DBAPI errors as SQLAlchemy's (IntegrityError, OperationalError, …), as Connection.execute does."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise exc_module.DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


def fetch(connection: AnyConnection, key: Any, build: _Builder, params: Mapping[str, Any]) -> list[tuple]:
    """Run one statement and return its rows (as tuples)."""
    sql, positions, defaults = _compiled(connection, key, build)
    rewrite = _REWRITE.get()
    if rewrite is not None:
        params = {**rewrite.params, **params}
    if defaults:
        params = {**defaults, **params}
    cursor = _cursor(connection)
    try:
        with _traced(connection, sql, key):
            cursor.execute(sql, _bind(positions, params))
            return cursor.fetchall() if cursor.description is not None else []
    except connection.dialect.loaded_dbapi.Error as exc:
        raise exc_module.DBAPIError.instance(sql, None, exc, connection.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


class Reads:
    """Many reads on one connection through one cursor: ``fetch`` less a cursor per statement.

    For a walk of many small statements (a lineage walk's hops, where a cursor per hop
    measured a tenth of the hop's time); close it when done.
    """

    __slots__ = ("_connection", "_cursor", "_error", "_dialect")

    def __init__(self, connection: AnyConnection) -> None:
        self._connection = connection
        self._cursor = _cursor(connection)
        self._error = connection.dialect.loaded_dbapi.Error
        self._dialect = connection.dialect.name

    def fetch(self, key: Any, build: Builder, params: Mapping[str, Any]) -> list[tuple]:
        """Run one statement and return its rows (as tuples), as ``executor.fetch`` does."""
        rewrite = _REWRITE.get()
        plain = rewrite is None and namespace_scope.current() is None
        found = _CACHE.get((self._dialect, key)) if plain else None
        sql, positions, defaults = found if found is not None else _compiled(self._connection, key, build)
        if rewrite is not None:
            params = {**rewrite.params, **params}
        if defaults:
            params = {**defaults, **params}
        cursor = self._cursor
        try:
            with _traced(self._connection, sql, key):
                cursor.execute(sql, _bind(positions, params))
                return cursor.fetchall()
        except self._error as exc:
            raise exc_module.DBAPIError.instance(sql, None, exc, self._error) from exc

    def close(self) -> None:
        self._cursor.close()


def execute_many(
    connection: AnyConnection, key: Any, build: _Builder, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run one statement for each parameter set (no results)."""
    if not rows:
        return
    sql, positions, _ = _compiled(connection, key, build)
    cursor = _cursor(connection)
    try:
        with wrapped_errors(connection, sql), _traced(connection, sql, key):
            if len(rows) == 1:
                cursor.execute(sql, _bind(positions, rows[0]))
            else:
                cursor.executemany(sql, [_bind(positions, row) for row in rows])
    finally:
        cursor.close()


def insert_returning_ids(
    connection: AnyConnection, key: Any, build: _Builder, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert rows one statement each (``build`` must RETURN the id) and return ids in order."""
    sql, positions, _ = _compiled(connection, key, build)
    cursor = _cursor(connection)
    try:
        ids = []
        with wrapped_errors(connection, sql), _traced(connection, sql, key):
            for row in rows:
                cursor.execute(sql, _bind(positions, row))
                ids.append(cursor.fetchone()[0])
        return ids
    finally:
        cursor.close()


def run(
    connection: AnyConnection,
    build: Builder,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> CursorResult:
    """Run one statement through SQLAlchemy's own execution (not cached here) and return its result.

    For what the raw cursor cannot do as well: a batch insert that returns ids in order
    (insertmanyvalues), a single-row insert's primary key, a statement built for one request.
    Needs a SQLAlchemy Connection (a store transaction), not a RawConnection.
    """
    if not isinstance(connection, Connection):
        raise TypeError("executor.run needs a SQLAlchemy Connection")
    statement: Any = _built(build, connection.dialect.name)
    rewrite = _REWRITE.get()
    if rewrite is not None:
        if params is None or isinstance(params, Mapping):
            params = {**rewrite.params, **(params or {})}
        else:
            params = [{**rewrite.params, **row} for row in params]
    if _TRACER is not None:
        with _span(connection, str(statement.compile(dialect=connection.dialect))):
            return connection.execute(statement) if params is None else connection.execute(statement, params)
    if params is None:
        return connection.execute(statement)
    return connection.execute(statement, params)


def fetch_text(connection: AnyConnection, sql: str, params: Mapping[str, Any]) -> list[tuple]:
    """Run one statement written as SQL text for the connection's dialect and return its rows.

    Only the one-statement lineage walk (PostgreSQL) is written so; its database errors are
    raised as SQLAlchemy's, which the store's read maps (UNAVAILABLE, INVALID_ARGUMENT, …).
    """
    if _REWRITE.get() is not None:
        raise RuntimeError("SQL text cannot be rewritten: run the statement's SQLAlchemy form instead")
    cursor = _cursor(connection)
    try:
        with wrapped_errors(connection, sql), _traced(connection, sql):
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []
    finally:
        cursor.close()


def statement_text(
    connection: AnyConnection, key: Any, build: Builder, params: Mapping[str, Any]
) -> tuple[str, Any]:
    """A cached statement's SQL and its parameters as the driver takes them (for EXPLAIN)."""
    sql, positions, defaults = _compiled(connection, key, build)
    return sql, _bind(positions, {**defaults, **params})


@contextlib.contextmanager
def savepoint(connection: AnyConnection) -> Iterator[None]:
    """A savepoint inside the caller's transaction: what the block did is undone if it raises."""
    if not isinstance(connection, Connection):
        raise TypeError("a savepoint needs a SQLAlchemy Connection")
    with connection.begin_nested():
        yield


def begin_raw_read(engine: Engine) -> RawConnection:
    """A read transaction on a pooled DBAPI connection, for reads made only of executor calls; end it
    with ``end_raw_read``.

    It skips SQLAlchemy's Connection (about 30 µs a call, a third of a get by id). On SQLite the
    transaction is one snapshot; PostgreSQL reads run in autocommit at READ COMMITTED (no BEGIN
    and ROLLBACK round trips), where each statement sees its own snapshot anyway; MySQL's, at
    READ COMMITTED too, in the transaction their first statement opens. Raises the driver's
    errors as SQLAlchemy's.
    """
    dbapi = engine.dialect.loaded_dbapi
    try:
        fairy = engine.raw_connection()
    except dbapi.Error as exc:
        # Unlike engine.connect(), raw_connection() lets a failed connect out as the driver's own error
        # (a database that is down or restarting): SQLAlchemy's here too, so the store maps it (UNAVAILABLE).
        raise exc_module.DBAPIError.instance(None, None, exc, dbapi.Error, dialect=engine.dialect) from exc
    connection = RawConnection(engine.dialect, fairy)
    try:
        dbapi_connection = fairy.dbapi_connection
        assert dbapi_connection is not None  # a connection just taken from the pool is open
        with wrapped_errors(connection, "BEGIN"):
            if connection.dialect.name == "sqlite":
                dbapi_connection.execute("BEGIN")
            elif connection.dialect.name == "postgresql":
                set_autocommit(connection.dialect.name, dbapi_connection, True)
            # MySQL: switching autocommit is a round trip each way (PyMySQL sends SET autocommit); at
            # READ COMMITTED each statement sees its own snapshot anyway, and the pool's rollback ends it.
    except BaseException:
        end_raw_read(connection)
        raise
    return connection


def end_raw_read(connection: RawConnection) -> None:
    """End a read begun by ``begin_raw_read``: the connection goes back to the pool (which rolls back)."""
    fairy = connection.connection
    if (dbapi_connection := fairy.dbapi_connection) is not None and _lost(dbapi_connection):
        # The server went away (a restart): drop it rather than let the pool's reset roll back on a dead
        # socket, which fails and logs a traceback per connection. connect() does this itself; a raw read must.
        fairy.invalidate()
    if connection.dialect.name == "postgresql":
        with contextlib.suppress(Exception):  # a broken connection is dropped by the pool
            # Read again: an invalidated connection has none (then nothing to reset).
            if (dbapi_connection := fairy.dbapi_connection) is not None:
                set_autocommit(connection.dialect.name, dbapi_connection, False)
    fairy.close()


def _lost(dbapi_connection: Any) -> bool:
    """Whether a DBAPI connection lost its server: psycopg's ``broken``/``closed``, PyMySQL's ``open``."""
    return bool(getattr(dbapi_connection, "broken", False) or getattr(dbapi_connection, "closed", False)
                or getattr(dbapi_connection, "open", True) is False)


@contextlib.contextmanager
def raw_read(engine: Engine) -> Iterator[RawConnection]:
    """``begin_raw_read`` … ``end_raw_read`` as a context manager."""
    connection = begin_raw_read(engine)
    try:
        yield connection
    finally:
        end_raw_read(connection)


def copy_in(
    connection: AnyConnection, table_name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL: ``rows`` (tuples in ``columns`` order) into a table in one ``COPY … FROM STDIN``.

    Several times an executemany's speed for a batch of thousands (bulk copies and imports);
    the driver's errors are raised as SQLAlchemy's, as every statement here.
    """
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table_name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cursor = _cursor(connection)
    try:
        with wrapped_errors(connection, f"COPY {table_name} FROM STDIN"), cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
