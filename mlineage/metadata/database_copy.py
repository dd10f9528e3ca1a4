"""Copy a whole mlineage database to another (SQLite to PostgreSQL or back), history included, ids kept.

What ``mlineage copy`` does, over the table access of ``store_copy``:

* **Only between databases at this mlineage's head**, so that every table means
  the same on both sides: a source behind it is refused (upgrade it first); a
  new target (no tables) gets the schema first.
* **Into a target of its own.** The target must be new (nothing but the rows a new
  schema holds) or an earlier copy of this source: every row it holds identical
  to the source's row of that key. Anything else is refused before a row is written.
* **Idempotent, resumable.** Tables go over in foreign-key order, each in key order,
  one transaction per batch; a table the target holds whole is skipped and a
  partly copied one is finished, so a rerun writes nothing and a rerun after a
  kill completes the copy.
* **One snapshot of the source** (a transaction: SQLite's BEGIN, PostgreSQL's
  REPEATABLE READ), so a copy of a live store is of one moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from mlineage.errors import FailedPreconditionError, InvalidArgumentError
from mlineage.metadata import store_copy
from mlineage.metadata.engine import WRITE
from mlineage.migrations import runner

if TYPE_CHECKING:
    from mlineage.metadata.databases import Database


class Progress:
    """What a copy reports as it goes (the command draws a bar from it); does nothing by default."""

    def start(self, counts: dict[str, int]) -> None:
        """The source's row count of every table, before anything is written."""

    def advance(self, table: str, rows: int) -> None:
        """``rows`` more rows of ``table`` are in the target (copied now, or there before)."""


@dataclass
class TableTally:
    """One table: the source's rows, those written now, those the target held already."""

    rows: int = 0
    written: int = 0
    present: int = 0


@dataclass
class CopySummary:
    """What a copy did, table by table."""

    tables: dict[str, TableTally] = field(default_factory=dict)
    seconds: float = 0.0
    batches: int = 0

    @property
    def written(self) -> int:
        return sum(tally.written for tally in self.tables.values())

    @property
    def rows(self) -> int:
        return sum(tally.rows for tally in self.tables.values())

    @property
    def rows_per_second(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0


def require_head(database: Database, role: str) -> None:
    """Refuse a database whose schema is not this mlineage's head (FailedPreconditionError, saying what to do)."""
    status = database.schema_status()
    state = status.state
    if state is runner.SchemaState.CURRENT:
        return
    if state is runner.SchemaState.BEHIND:
        raise FailedPreconditionError(
            f"the {role} is at schema revision {status.current}, this mlineage's head is {status.head}: "
            f"upgrade it first with `mlineage db upgrade --db URL`"
        )
    if state is runner.SchemaState.AHEAD:
        raise FailedPreconditionError(
            f"the {role} is at schema revision {status.current}, newer than this mlineage knows "
            f"(head {status.head}): use the mlineage that wrote it"
        )
    if state is runner.SchemaState.EMPTY:
        raise FailedPreconditionError(f"the {role} holds no mlineage database (no tables)")
    raise FailedPreconditionError(f"the {role} is not an mlineage database (its tables are someone else's)")


def snapshot(database: Database) -> Connection:
    """A connection on ``database`` whose reads all see one moment (begin its transaction with ``.begin()``)."""
    connection = database.engine.connect()
    if connection.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


def copy_database(
    source: Database,
    target: Database,
    *,
    batch_size: int = store_copy.DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> CopySummary:
    """Copy every table of ``source`` into ``target`` with its ids; see the module's docstring.

    Raises InvalidArgumentError when both name the same database or ``batch_size`` is
    not positive, and FailedPreconditionError for a schema not at head (either side)
    or a target holding anything but an earlier copy of this source (nothing written then).
    """
    if batch_size < 1:
        raise InvalidArgumentError(f"--batch-size must be at least 1, not {batch_size}")
    if _same_database(source, target):
        raise InvalidArgumentError("the source and the target are the same database")
    require_head(source, "source")
    target_state = target.schema_status().state
    if target_state is not runner.SchemaState.EMPTY:
        require_head(target, "target")
    progress = progress or Progress()
    head = runner.head_revision()
    tables = store_copy.TABLES
    summary = CopySummary()
    started = time.monotonic()
    with snapshot(source) as reading, reading.begin():
        counts = {table.name: store_copy.count_rows(reading, table) for table in tables}
        marks = store_copy.sequence_marks(reading, tables)
        if target_state is runner.SchemaState.EMPTY:
            target.upgrade("head")
        with target.engine.connect() as writing:
            writing = writing.execution_options(**{WRITE: True})
            with writing.begin():
                present = _check_target(reading, writing, counts, head)
            progress.start(counts)
            for table in tables:
                tally = summary.tables[table.name] = TableTally(rows=counts[table.name], present=present[table.name])
                if tally.present:
                    progress.advance(table.name, tally.present)
                if tally.present == tally.rows:
                    continue
                for batch in store_copy.read_batches(reading, table, batch_size):
                    try:
                        with writing.begin():
                            store_copy.insert_rows(writing, table, batch, skip_present=bool(tally.present))
                    except IntegrityError:
                        raise FailedPreconditionError(
                            f"the target's {table.name} took rows that clash with the copy's: something else "
                            "writes to the target; copy into a database nothing else writes to"
                        ) from None
                    summary.batches += 1
                    progress.advance(table.name, len(batch))
                tally.written = tally.rows - tally.present
            with writing.begin():
                store_copy.advance_sequences(writing, tables, marks)
                for table in tables:
                    if store_copy.count_rows(writing, table) != counts[table.name]:
                        raise FailedPreconditionError(
                            f"the target's {table.name} changed while it was copied into: "
                            "copy into a database nothing else writes to"
                        )
    summary.seconds = time.monotonic() - started
    return summary


def _check_target(reading: Connection, writing: Connection, counts: dict[str, int], head: str) -> dict[str, int]:
    """The rows each target table holds of the source's: 0 everywhere for a new target (its seeds removed).

    Raises FailedPreconditionError, before anything is written, for a target holding a
    row the source does not hold identically.
    """
    tables = store_copy.TABLES
    if store_copy.holds_only_seeds(writing, tables, head):
        store_copy.clear_seeds(writing, tables, head)
        return {table.name: 0 for table in tables}
    present = {}
    for table in tables:
        held = store_copy.count_rows(writing, table)
        foreign = None
        if held > counts[table.name]:
            foreign = "more rows than the source has"
        elif held:
            key = store_copy.foreign_row(store_copy.read_rows(reading, table), store_copy.read_rows(writing, table),
                                         store_copy.key_of(table))
            foreign = None if key is None else f"the row with key {key!r} differs from the source's or is not in it"
        if foreign is not None:
            raise FailedPreconditionError(
                f"the target holds data that is not a copy of this source ({table.name}: {foreign}): "
                "copy into a new database, or into an earlier copy of this source as it is now (a source "
                "written to since its copy needs a new target)"
            )
        present[table.name] = held
    return present


def _same_database(a: Database, b: Database) -> bool:
    url_a, url_b = a.engine.url, b.engine.url
    if url_a.get_backend_name() != url_b.get_backend_name():
        return False
    if url_a.get_backend_name() == "sqlite":
        path_a, path_b = url_a.database or "", url_b.database or ""
        if path_a in ("", ":memory:") or path_b in ("", ":memory:"):
            return False
        from pathlib import Path

        return Path(path_a).expanduser().resolve() == Path(path_b).expanduser().resolve()
    return (url_a.host, url_a.port, url_a.database) == (url_b.host, url_b.port, url_b.database)
