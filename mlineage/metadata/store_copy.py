"""Whole mlineage databases at the table level: every table, history included, read and written in key order, in batches, ids kept.

The access tier of ``mlineage copy``, ``export`` and ``restore``. No Store and no
rules: the rows are taken as they are (``change_id`` and ``revision``, the
``*_history`` twins, ``changes``, metric points, OpenLineage events), so a copy
answers every read, as-of reads included, as its source does. SQLAlchemy Core only.

* **One key order on every database.** A table is read ordered by its primary
  key with strings compared byte by byte (``COLLATE "C"`` on PostgreSQL, SQLite's
  BINARY), which is Python's order of the key tuples too: two databases, or a
  database and an export file, are compared by walking both in step
  (:func:`foreign_row`), memory flat.
* **Foreign-key order.** :data:`TABLES` lists parents before children, so no
  batch names a row not written yet (SQLite runs with foreign keys on).
* **Sequences.** Rows keep their ids; afterwards every id sequence is set past the
  largest id the source ever issued (:func:`sequence_marks`; deletions can leave it
  above the largest id present), so a copy never hands out an id twice.
* **A new database holds seeds.** Creating the schema writes rows (MLMD's system
  types); :func:`holds_only_seeds` recognises exactly what a new database at a
  revision holds, which :func:`clear_seeds` removes before the source's own rows come.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    MetaData,
    String,
    Table,
    cast,
    column,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import table as table_clause
from sqlalchemy.dialects import postgresql

from mlineage.metadata import dialect, executor
from mlineage.schema import tables as t

Row = dict[str, Any]
Key = tuple[Any, ...]

#: Every table of the schema at head, parents before children.
TABLES: tuple[Table, ...] = tuple(t.metadata.sorted_tables)
DEFAULT_BATCH_SIZE = 5000

_SQLITE_SEQUENCE = table_clause("sqlite_sequence", column("name"), column("seq"))


def key_of(table: Table) -> Callable[[Mapping[str, Any]], Key]:
    """A function giving a row's primary-key tuple (the order :func:`read_batches` reads in)."""
    names = [c.name for c in table.primary_key.columns]
    return lambda row: tuple(row[name] for name in names)


def _key_order(table: Table, dialect_name: str) -> list[Any]:
    order: list[Any] = []
    for key_column in table.primary_key.columns:
        if dialect_name == "postgresql" and isinstance(key_column.type, String):
            order.append(key_column.collate("C"))  # byte order, as SQLite and Python compare
        else:
            order.append(key_column)
    return order


def reflect_tables(connection: Connection) -> tuple[Table, ...]:
    """The mlineage tables a database has now (any revision), parents before children."""
    reflected = MetaData()
    reflected.reflect(bind=connection)
    return tuple(table for table in reflected.sorted_tables if table.name != "alembic_version")


def count_rows(connection: Connection, table: Table) -> int:
    """The number of rows of ``table``."""
    return int(executor.run(connection, lambda _d: select(func.count()).select_from(table)).scalar_one())


def read_batches(
    connection: Connection, table: Table, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[list[Row]]:
    """Every row of ``table`` in key order, ``batch_size`` rows at a time (a server-side cursor on PostgreSQL)."""

    def build(dialect_name: str) -> Any:
        statement = select(table).order_by(*_key_order(table, dialect_name))
        return statement.execution_options(stream_results=True, yield_per=batch_size)

    result = executor.run(connection, build)
    try:
        names = list(result.keys())
        for part in result.partitions(batch_size):
            yield [dict(zip(names, row, strict=True)) for row in part]
    finally:
        result.close()


def read_rows(connection: Connection, table: Table, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Row]:
    """Every row of ``table`` in key order, one at a time (read in batches)."""
    for batch in read_batches(connection, table, batch_size):
        yield from batch


def insert_rows(
    connection: Connection, table: Table, rows: Sequence[Row], *, skip_present: bool = False
) -> None:
    """Insert ``rows`` with their ids in one bulk statement (COPY on PostgreSQL); ``skip_present``: rows whose
    key is there already are left as they are.

    ``skip_present`` is for a target already shown to hold only rows identical to the
    source's (:func:`foreign_row`): a conflict can then only be a row copied before.
    Raises the database's IntegrityError for rows that break the table's constraints.
    """
    if not rows:
        return
    if connection.dialect.name == "postgresql" and not skip_present:
        _copy_in(connection, table, rows)
        return

    def build(dialect_name: str) -> Any:
        if not skip_present:
            return insert(table)
        return dialect.insert_ignoring_duplicates(dialect_name, table)

    executor.run(connection, build, list(rows))


def _copy_in(connection: Connection, table: Table, rows: Sequence[Row]) -> None:
    """PostgreSQL: the batch in one ``COPY … FROM STDIN`` (several times an executemany's speed)."""
    executor.copy_in(connection, table.name, list(rows[0]), (tuple(row.values()) for row in rows))


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def same_row(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two rows hold the same columns and values (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(_same_value(a[name], b[name]) for name in a)


def foreign_row(
    source: Iterable[Mapping[str, Any]],
    target: Iterable[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], Key],
) -> Key | None:
    """The key of the first target row that is not identical to the source's row of that key; None if none.

    Both inputs in key order (:func:`read_batches`). None means the target holds a part
    (or all) of the source and nothing else: an earlier copy.
    """
    rows = iter(source)
    current = next(rows, None)
    for row in target:
        wanted = key(row)
        while current is not None and key(current) < wanted:
            current = next(rows, None)
        if current is None or key(current) != wanted or not same_row(current, row):
            return wanted
    return None


def _id_tables(tables: Iterable[Table]) -> list[Table]:
    # Tables keyed by a generated integer id (a token's id is text it chose itself: no sequence).
    return [
        table for table in tables
        if [c.name for c in table.primary_key.columns] == ["id"] and table.c.id.type.python_type is int
    ]  # fmt: skip


def _run(connection: Connection, statement: Any) -> Any:
    """Run one statement built for this call (through the executor, as every statement of the tier)."""
    return executor.run(connection, lambda _dialect: statement)


def sequence_marks(connection: Connection, tables: Iterable[Table]) -> dict[str, int]:
    """The largest id each table's sequence has issued (0 or absent: none), deleted rows' ids included."""
    names = {table.name for table in _id_tables(tables)}
    if connection.dialect.name == "sqlite":
        master = table_clause("sqlite_master", column("name"))
        if not _run(
            connection, select(func.count()).select_from(master).where(master.c.name == "sqlite_sequence")
        ).scalar_one():
            return {}
        found = _run(connection, select(_SQLITE_SEQUENCE.c.name, _SQLITE_SEQUENCE.c.seq)).all()
        return {name: int(seq) for name, seq in found if name in names and seq}
    if connection.dialect.name == "mysql":
        return _mysql_auto_increments(connection, names)
    marks = {}
    for name in sorted(names):
        sequence = cast(func.pg_get_serial_sequence(name, "id"), postgresql.REGCLASS)
        value = _run(connection, select(func.pg_sequence_last_value(sequence))).scalar_one()
        if value:
            marks[name] = int(value)
    return marks


def advance_sequences(connection: Connection, tables: Iterable[Table], marks: Mapping[str, int]) -> None:
    """Set each id sequence past the ids present and past ``marks`` (a source's), never back."""
    own = sequence_marks(connection, tables)
    for table in _id_tables(tables):
        largest = _run(connection, select(func.max(table.c.id))).scalar_one() or 0
        value = max(marks.get(table.name, 0), int(largest))
        if value <= own.get(table.name, 0):
            continue
        if connection.dialect.name == "sqlite":
            if table.name in own or largest:  # SQLite made the table's row when the ids went in
                _run(
                    connection,
                    update(_SQLITE_SEQUENCE).where(_SQLITE_SEQUENCE.c.name == table.name).values(seq=value),
                )
            else:
                _run(connection, insert(_SQLITE_SEQUENCE).values(name=table.name, seq=value))
        elif connection.dialect.name == "mysql":
            # InnoDB moves AUTO_INCREMENT past the ids inserted; past a source's mark it is set by name
            # (a table of ours, never user text; an integer value).
            _run(connection, text(f"ALTER TABLE `{table.name}` AUTO_INCREMENT = {int(value) + 1}"))
        else:
            _run(connection, select(func.setval(func.pg_get_serial_sequence(table.name, "id"), value, True)))


_MYSQL_TABLES = table_clause(
    "tables", column("table_schema"), column("table_name"), column("auto_increment"), schema="information_schema"
)


def _mysql_auto_increments(connection: Connection, names: set[str]) -> dict[str, int]:
    """MySQL: the last id each table's AUTO_INCREMENT issued (its next value less one)."""
    found = _run(
        connection,
        select(_MYSQL_TABLES.c.table_name, _MYSQL_TABLES.c.auto_increment).where(
            _MYSQL_TABLES.c.table_schema == func.database()
        ),
    ).all()
    return {str(name): int(value) - 1 for name, value in found if name in names and value and int(value) > 1}


@functools.lru_cache(maxsize=8)
def _seeds(revision: str) -> dict[str, tuple[Row, ...]]:
    from mlineage.metadata.engine import make_engine
    from mlineage.migrations import runner

    engine = make_engine("sqlite://")
    try:
        runner.upgrade(engine, revision)
        with engine.connect() as connection:
            return {
                table.name: tuple(read_rows(connection, table))
                for table in reflect_tables(connection)
                if count_rows(connection, table)
            }
    finally:
        engine.dispose()


def seed_rows(revision: str) -> dict[str, tuple[Row, ...]]:
    """What a new database at ``revision`` holds (the rows its migrations write), by table, in key order."""
    return _seeds(revision)


def holds_only_seeds(connection: Connection, tables: Iterable[Table], revision: str) -> bool:
    """Whether every row of ``tables`` is one that creating the schema at ``revision`` wrote (none is too)."""
    seeds = seed_rows(revision)
    for table in tables:
        present = count_rows(connection, table)
        if not present:
            continue
        expected = seeds.get(table.name, ())
        if present > len(expected) or foreign_row(expected, read_rows(connection, table), key_of(table)):
            return False
    return True


def clear_seeds(connection: Connection, tables: Sequence[Table], revision: str) -> None:
    """Remove the seed rows (only call after :func:`holds_only_seeds`): the copied rows replace them."""
    seeded = seed_rows(revision)
    for table in reversed(tables):
        if table.name in seeded:
            _run(connection, delete(table))
