"""The query executor: SQLAlchemy statements compiled once per dialect, run on the raw DBAPI cursor.

The store's hot paths (a put or a get is a handful of small statements) spend
more time in SQLAlchemy's per-execute machinery than in the database. Here a
statement is built once as a SQLAlchemy construct (never SQL text), compiled
for the connection's dialect, cached under a key, and then executed directly
on the cursor of the caller's connection, inside the caller's transaction.
Only plain values travel as parameters (ints, floats, str, bool, bytes).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, PoolProxiedConnection, bindparam, func, literal_column, select
from sqlalchemy import exc as exc_module
from sqlalchemy.sql.elements import DQLDMLClauseElement

# dialect name -> statement (a query or DML, never DDL: compiled by a SQLCompiler)
_Builder = Callable[[str], DQLDMLClauseElement]

# (dialect, key) -> (SQL, parameter order or None for named, values bound at construction)
_CACHE: dict[tuple[str, Any], tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 4096


def ids_match(dialect_name: str, column, name: str = "ids"):
    """``column IN <the ids in one parameter>``: a JSON array on SQLite, an array on PostgreSQL."""
    if dialect_name == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))
    return column == func.any(bindparam(name))


def ids_param(connection: AnyConnection, ids: Iterable[int]) -> Any:
    values = [int(i) for i in ids]
    # A JSON array of ints; joined by hand, which is several times cheaper than json.dumps.
    return "[" + ",".join(map(str, values)) + "]" if connection.dialect.name == "sqlite" else values


def _compiled(
    connection: AnyConnection, key: Any, build: _Builder
) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
    dialect = connection.dialect
    cache_key = (dialect.name, key)
    found = _CACHE.get(cache_key)
    if found is None:
        # Expanding parameters (a filter's ``IN (…)``) are rendered into the text once: the key fixes them.
        compiled = build(dialect.name).compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
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
    return tuple(params[name] for name in positions) if positions is not None else params


class RawConnection:
    """What the executor needs of a connection, over a pooled DBAPI connection (see Store._raw_read)."""

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
    if defaults:
        params = {**defaults, **params}
    cursor = _cursor(connection)
    try:
        cursor.execute(sql, _bind(positions, params))
        return cursor.fetchall() if cursor.description is not None else []
    except connection.dialect.loaded_dbapi.Error as exc:
        raise exc_module.DBAPIError.instance(sql, None, exc, connection.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def execute_many(
    connection: AnyConnection, key: Any, build: _Builder, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run one statement for each parameter set (no results)."""
    if not rows:
        return
    sql, positions, _ = _compiled(connection, key, build)
    cursor = _cursor(connection)
    try:
        with wrapped_errors(connection, sql):
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
        with wrapped_errors(connection, sql):
            for row in rows:
                cursor.execute(sql, _bind(positions, row))
                ids.append(cursor.fetchone()[0])
        return ids
    finally:
        cursor.close()
