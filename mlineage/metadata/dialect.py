"""What differs between SQLite, PostgreSQL and MySQL in how the access tier writes a statement, written once.

Two tricks keep a statement's text fixed whatever the number of ids it is
given, so that it is compiled once and SQLite's statement cache and
PostgreSQL's prepared statements are reused: all the ids travel as ONE
parameter (``ids_match`` / ``ids_param``: a JSON array read by ``json_each``
on SQLite and by ``JSON_TABLE`` on MySQL/MariaDB, an array compared with
``= ANY`` on PostgreSQL), or, where a plain ``IN`` list measured faster (a
lineage hop on SQLite), one statement per list length (``ids_in``). The batch
sizes say how many ids one statement takes in each form.

An insert that skips rows already there is ``ON CONFLICT DO NOTHING`` on SQLite
and PostgreSQL and ``ON DUPLICATE KEY UPDATE key = key`` (a no-op) on MySQL,
whose ``INSERT IGNORE`` would also turn other errors (a foreign key that points
nowhere, a value too long) into warnings (``insert_ignoring_duplicates``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement

#: Ids per statement where each id is a bound parameter (SQLite takes 32766 per statement: well below).
BATCH = 500
#: Ids per ``IN`` list of a lineage hop (one statement text per list length).
HOP_BATCH = 900
#: Ids per statement where they travel as one parameter (``ids_param``) and a node's rows are many.
LARGE_BATCH = 5000
#: Ids per one-parameter statement whose rows are small (events, memberships, types of a lineage answer).
BIG_BATCH = 10_000


def chunks(ids: Sequence, size: int = BATCH) -> Iterable[Sequence]:
    """``ids`` in consecutive slices of at most ``size``."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def ids_match(dialect_name: str, column: Any, name: str = "ids") -> ColumnElement[bool]:
    """``column IN <the ids in one parameter>``: a JSON array on SQLite, an array on PostgreSQL."""
    if dialect_name == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))
    if dialect_name == "mysql":
        ids = text(f"JSON_TABLE(:{name}, '$[*]' COLUMNS (value BIGINT PATH '$')) AS ids_{name}")
        return column.in_(select(literal_column(f"ids_{name}.value")).select_from(ids))
    return column == func.any(bindparam(name))


def ids_param(dialect_name: str | Any, ids: Iterable[int]) -> Any:
    """The value of an ``ids_match`` parameter for ``ids``; the dialect by name or as a connection's."""
    if not isinstance(dialect_name, str):
        dialect_name = dialect_name.dialect.name
    values = [int(i) for i in ids]
    # A JSON array of ints; joined by hand, which is several times cheaper than json.dumps.
    return "[" + ",".join(map(str, values)) + "]" if dialect_name in _JSON_IDS else values


#: Dialects whose ``ids_match`` parameter is a JSON array in a string (the others take a list).
_JSON_IDS = frozenset({"sqlite", "mysql"})


def insert_ignoring_duplicates(dialect_name: str, table: Table, key: Sequence[str] | None = None) -> Any:
    """An INSERT into ``table`` that skips a row whose key (``key``'s unique columns, or any key) is
    taken: ON CONFLICT DO NOTHING, or on MySQL a no-op ON DUPLICATE KEY UPDATE (see the module's text)."""
    if dialect_name == "mysql":
        from sqlalchemy.dialects import mysql

        statement = mysql.insert(table)
        column = key[0] if key else next(iter(table.primary_key.columns)).name
        return statement.on_duplicate_key_update({column: table.c[column]})
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)


def storable_double(row: dict) -> dict:
    """MySQL: a property row whose double is not finite, in a form MySQL's DOUBLE holds.

    MySQL refuses NaN and infinities. NaN is stored as NULL, as SQLite stores it; an infinity
    as NULL with ``string_value`` 'inf' or '-inf' (a DOUBLE row has no string otherwise), which
    the readers (``values.fill_value*``) turn back into the double.
    """
    value = row.get("double_value")
    if value is None or math.isfinite(value):
        return row
    return {**row, "double_value": None, "string_value": None if math.isnan(value) else repr(value)}


def set_autocommit(dialect_name: str, dbapi_connection: Any, on: bool) -> None:
    """Switch a driver connection's autocommit: an attribute in psycopg, a method in PyMySQL."""
    if dialect_name == "mysql":
        dbapi_connection.autocommit(on)
    else:
        dbapi_connection.autocommit = on


def ids_in(dialect_name: str, column: Any, count: int, name: str) -> ColumnElement[bool]:
    """``column`` among ``count`` values bound as ``{name}0``…: an ``IN`` list on SQLite (one
    statement per length), one array parameter ``name`` on PostgreSQL (see ``in_params``)."""
    if dialect_name == "postgresql":
        return column == func.any(bindparam(name))
    return column.in_([bindparam(f"{name}{i}") for i in range(count)])


@functools.lru_cache(maxsize=4096)
def _names(name: str, count: int) -> tuple[str, ...]:
    return tuple(f"{name}{i}" for i in range(count))


def in_params(dialect_name: str, name: str, values: Sequence[int]) -> dict[str, Any]:
    """The parameters of an ``ids_in`` condition for ``values``."""
    if dialect_name == "postgresql":
        return {name: list(values)}
    return dict(zip(_names(name, len(values)), values, strict=True))


__all__ = [
    "BATCH",
    "BIG_BATCH",
    "HOP_BATCH",
    "LARGE_BATCH",
    "chunks",
    "ids_in",
    "ids_match",
    "ids_param",
    "in_params",
    "insert_ignoring_duplicates",
    "set_autocommit",
    "storable_double",
]
