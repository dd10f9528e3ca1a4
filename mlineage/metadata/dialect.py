"""What differs between SQLite and PostgreSQL in how the access tier writes a statement, written once.

Two tricks keep a statement's text fixed whatever the number of ids it is
given, so that it is compiled once and SQLite's statement cache and
PostgreSQL's prepared statements are reused: all the ids travel as ONE
parameter (``ids_match`` / ``ids_param``: a JSON array read by ``json_each``
on SQLite, an array compared with ``= ANY`` on PostgreSQL), or, where a
plain ``IN`` list measured faster (a lineage hop on SQLite), one statement
per list length (``ids_in``). The batch sizes say how many ids one statement
takes in each form.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select
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
    return column == func.any(bindparam(name))


def ids_param(dialect_name: str | Any, ids: Iterable[int]) -> Any:
    """The value of an ``ids_match`` parameter for ``ids``; the dialect by name or as a connection's."""
    if not isinstance(dialect_name, str):
        dialect_name = dialect_name.dialect.name
    values = [int(i) for i in ids]
    # A JSON array of ints; joined by hand, which is several times cheaper than json.dumps.
    return "[" + ",".join(map(str, values)) + "]" if dialect_name == "sqlite" else values


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
]
