"""Export a whole mlineage database to one portable file, and restore it (by a later mlineage too), history included.

The file (``mlineage export``) is a zip archive, its members deflate-compressed
(gzip's algorithm; no dependency beyond the standard library):

* ``manifest.json`` — ``format`` (``"mlineage-export"``), ``format_version``, the
  mlineage version and the schema revision that wrote it, the time, each id
  sequence's high-water mark, and per table (in foreign-key order) its member
  file, columns (name and kind), row count and the SHA-256 of the member's bytes.
* ``tables/<table>.ndjson`` — one JSON object per row, in key order, a member per
  table (every table: history, metric points, OpenLineage events). ``bytes``
  columns are base64 text; non-finite floats are the strings ``"NaN"``,
  ``"Infinity"``, ``"-Infinity"``.

A restore reads the manifest first: a format version it knows, a schema revision
it has (the target is given the schema at that revision, the rows go in as they
were, then the schema is upgraded to head by the ordinary migrations), and every
member's count and checksum, all before a row is written. The target must be new;
the rows, their sequences and nothing else go in one transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Float, Integer, LargeBinary, String, Table
from sqlalchemy.exc import IntegrityError

from mlineage.errors import FailedPreconditionError, InvalidArgumentError
from mlineage.metadata import store_copy
from mlineage.metadata.database_copy import Progress, snapshot
from mlineage.metadata.engine import WRITE
from mlineage.migrations import runner

if TYPE_CHECKING:
    from mlineage.metadata.databases import Database

FORMAT = "mlineage-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class TableEntry:
    """One table of an export: its member file, columns (name -> kind), rows and checksum."""

    name: str
    file: str
    columns: dict[str, str]
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What an export file says about itself."""

    format_version: int
    mlineage_version: str
    schema_revision: str
    created_ms: int
    tables: tuple[TableEntry, ...]
    sequences: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "mlineage_version": self.mlineage_version,
            "schema_revision": self.schema_revision,
            "created_ms": self.created_ms,
            "sequences": self.sequences,
            "tables": [
                {"name": e.name, "file": e.file, "columns": e.columns, "rows": e.rows, "sha256": e.sha256}
                for e in self.tables
            ],
        }


@dataclass
class TransferSummary:
    """What an export or a restore moved: rows per table, and how long it took."""

    schema_revision: str
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    upgraded_to: str | None = None

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _kind(column_type: Any) -> str:
    if isinstance(column_type, LargeBinary):
        return "bytes"
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, Float):
        return "float"
    if isinstance(column_type, Integer):
        return "integer"
    if isinstance(column_type, String):
        return "string"
    raise TypeError(f"no export form for a column of type {column_type!r}")  # pragma: no cover - schema guard


def _encode(row: dict[str, Any], binary: tuple[str, ...], floats: tuple[str, ...]) -> str:
    for name in binary:
        value = row[name]
        if value is not None:
            row[name] = base64.b64encode(bytes(value)).decode("ascii")
    for name in floats:
        value = row[name]
        if value is not None and not math.isfinite(value):
            row[name] = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(row, separators=(",", ":"), allow_nan=False)


def _decode(row: dict[str, Any], binary: tuple[str, ...], floats: tuple[str, ...]) -> dict[str, Any]:
    for name in binary:
        value = row[name]
        if value is not None:
            row[name] = base64.b64decode(value, validate=True)
    for name in floats:
        value = row[name]
        if isinstance(value, str):
            row[name] = float(value)
        elif isinstance(value, int):
            row[name] = float(value)
    return row


def _columns_of(kinds: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (tuple(n for n, k in kinds.items() if k == "bytes"), tuple(n for n, k in kinds.items() if k == "float"))


def export_database(
    database: Database,
    path: Path,
    *,
    batch_size: int = store_copy.DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> TransferSummary:
    """Write every table of ``database`` (of any revision this mlineage knows) to the export file ``path``.

    The file appears whole or not at all (written beside it, then renamed). Raises
    FailedPreconditionError for a database that is not mlineage's at a known revision.
    """
    from mlineage import __version__

    status = database.schema_status()
    if status.state not in (runner.SchemaState.CURRENT, runner.SchemaState.BEHIND):
        from mlineage.metadata.database_copy import require_head

        require_head(database, "database")
    progress = progress or Progress()
    started = time.monotonic()
    partial = path.with_name(path.name + ".partial")
    entries = []
    summary = TransferSummary(schema_revision=str(status.current))
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive, \
                snapshot(database) as reading, reading.begin():
            tables = store_copy.reflect_tables(reading)
            counts = {table.name: store_copy.count_rows(reading, table) for table in tables}
            progress.start(counts)
            for table in tables:
                entries.append(_write_table(archive, reading, table, batch_size, progress))
                summary.tables[table.name] = entries[-1].rows
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                mlineage_version=__version__,
                schema_revision=str(status.current),
                created_ms=int(time.time() * 1000),
                tables=tuple(entries),
                sequences=store_copy.sequence_marks(reading, tables),
            )
            archive.writestr(MANIFEST, json.dumps(manifest.to_json(), indent=2) + "\n")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    summary.seconds = time.monotonic() - started
    return summary


def _write_table(archive: zipfile.ZipFile, reading: Any, table: Table, batch_size: int,
                 progress: Progress) -> TableEntry:
    kinds = {c.name: _kind(c.type) for c in table.columns}
    binary, floats = _columns_of(kinds)
    digest = hashlib.sha256()
    rows = 0
    file = f"tables/{table.name}.ndjson"
    with archive.open(file, "w", force_zip64=True) as member:
        for batch in store_copy.read_batches(reading, table, batch_size):
            data = "".join(_encode(row, binary, floats) + "\n" for row in batch).encode("utf-8")
            digest.update(data)
            member.write(data)
            rows += len(batch)
            progress.advance(table.name, len(batch))
    return TableEntry(name=table.name, file=file, columns=kinds, rows=rows, sha256=digest.hexdigest())


class ExportFile:
    """An export file, its manifest read and checked (``open_export``)."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest

    def verify(self) -> None:
        """Read every member and check its row count and checksum (InvalidArgumentError when one differs)."""
        with self._archive() as archive:
            for entry in self.manifest.tables:
                digest = hashlib.sha256()
                lines = 0
                with archive.open(entry.file) as member:
                    while chunk := member.read(_READ_CHUNK):
                        digest.update(chunk)
                        lines += chunk.count(b"\n")
                if lines != entry.rows or digest.hexdigest() != entry.sha256:
                    raise InvalidArgumentError(
                        f"{self.path} is damaged: {entry.name} holds {lines} rows with checksum "
                        f"{digest.hexdigest()[:12]}…, its manifest says {entry.rows} rows, {entry.sha256[:12]}…"
                    )

    def rows(self, entry: TableEntry, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        """The rows of one table, decoded, ``batch_size`` at a time."""
        binary, floats = _columns_of(entry.columns)
        with self._archive() as archive, archive.open(entry.file) as member:
            batch: list[dict[str, Any]] = []
            for number, line in enumerate(member, start=1):
                try:
                    row = json.loads(line)
                    if not isinstance(row, dict) or row.keys() != entry.columns.keys():
                        raise ValueError("not a row of the table's columns")
                    batch.append(_decode(row, binary, floats))
                except ValueError as exc:
                    raise InvalidArgumentError(f"{self.path}: {entry.file} line {number} is not a row ({exc})") from None
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def _archive(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidArgumentError(f"{self.path} is not an mlineage export ({exc})") from None


def open_export(path: Path) -> ExportFile:
    """The export at ``path`` with its manifest checked: a format version and schema revision this mlineage reads.

    Raises NotFoundError for a missing file, InvalidArgumentError for a file that is not an
    export (or a damaged manifest), FailedPreconditionError for one a newer mlineage wrote.
    """
    from mlineage.errors import NotFoundError

    if not path.is_file():
        raise NotFoundError(f"no export file at {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            raw = archive.read(MANIFEST)
            members = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidArgumentError(f"{path} is not an mlineage export (not a zip archive: {exc})") from None
    except KeyError:
        raise InvalidArgumentError(f"{path} is not an mlineage export (it has no {MANIFEST})") from None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"its {MANIFEST} does not say format {FORMAT!r}")
        version = data["format_version"]
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"format_version {version!r}")
    except (ValueError, KeyError) as exc:
        raise InvalidArgumentError(f"{path} is not an mlineage export ({exc})") from None
    if version > FORMAT_VERSION:
        raise FailedPreconditionError(
            f"{path} is export format version {version}, written by a newer mlineage "
            f"({data.get('mlineage_version', '?')}); this one reads up to version {FORMAT_VERSION}: upgrade mlineage"
        )
    try:
        manifest = Manifest(
            format_version=version,
            mlineage_version=str(data["mlineage_version"]),
            schema_revision=str(data["schema_revision"]),
            created_ms=int(data["created_ms"]),
            sequences={str(k): int(v) for k, v in data.get("sequences", {}).items()},
            tables=tuple(
                TableEntry(name=str(e["name"]), file=str(e["file"]), rows=int(e["rows"]), sha256=str(e["sha256"]),
                           columns={str(k): str(v) for k, v in e["columns"].items()})
                for e in data["tables"]
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidArgumentError(f"{path} has a damaged {MANIFEST} ({type(exc).__name__}: {exc})") from None
    missing = [entry.file for entry in manifest.tables if entry.file not in members]
    if missing:
        raise InvalidArgumentError(f"{path} is damaged: its manifest names {missing[0]}, which it does not hold")
    known = [revision for revision, _, _ in runner.history()]
    if manifest.schema_revision not in known:
        raise FailedPreconditionError(
            f"{path} holds schema revision {manifest.schema_revision}, which this mlineage does not know "
            f"(its head is {runner.head_revision()}): restore it with the mlineage that wrote it, or a newer one"
        )
    return ExportFile(path, manifest)


def restore_database(
    export: ExportFile,
    database: Database,
    *,
    batch_size: int = store_copy.DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> TransferSummary:
    """Write the rows of ``export`` (checked by ``open_export`` and ``verify``) into the new database ``database``.

    The target must have no tables, or the schema at the export's revision and no
    rows but a new schema's; afterwards it is upgraded to head. Raises
    FailedPreconditionError for any other target and InvalidArgumentError for rows
    that do not fit their table; nothing is written then.
    """
    manifest = export.manifest
    revision = manifest.schema_revision
    progress = progress or Progress()
    status = database.schema_status()
    if status.state is not runner.SchemaState.EMPTY and status.current != revision:
        raise FailedPreconditionError(
            f"the target is at schema revision {status.current or '(not mlineage)'} and the export at {revision}: "
            "restore into a new database (no tables), or one created at the export's revision"
        )
    started = time.monotonic()
    if status.state is not runner.SchemaState.EMPTY:
        with database.engine.connect() as reading:
            _refuse_data(reading, revision)
    else:
        database.upgrade(revision)
    summary = TransferSummary(schema_revision=revision)
    with database.engine.connect() as writing:
        writing = writing.execution_options(**{WRITE: True})
        with writing.begin():
            tables = {table.name: table for table in store_copy.reflect_tables(writing)}
            if set(tables) != {entry.name for entry in manifest.tables}:
                raise InvalidArgumentError(
                    f"{export.path} does not match schema revision {revision}: its tables are "
                    f"{sorted(entry.name for entry in manifest.tables)}"
                )
            _refuse_data(writing, revision)
            ordered = [tables[entry.name] for entry in manifest.tables]
            store_copy.clear_seeds(writing, store_copy.reflect_tables(writing), revision)
            progress.start({entry.name: entry.rows for entry in manifest.tables})
            for entry, table in zip(manifest.tables, ordered, strict=True):
                for batch in export.rows(entry, batch_size):
                    try:
                        store_copy.insert_rows(writing, table, batch)
                    except IntegrityError:
                        raise InvalidArgumentError(
                            f"{export.path}: the rows of {entry.name} do not fit the schema's rules "
                            "(a key twice, or a row naming one that is missing): the file is damaged"
                        ) from None
                    progress.advance(entry.name, len(batch))
                summary.tables[entry.name] = entry.rows
            store_copy.advance_sequences(writing, ordered, manifest.sequences)
    if revision != runner.head_revision():
        database.upgrade("head")
        summary.upgraded_to = runner.head_revision()
    summary.seconds = time.monotonic() - started
    return summary


def _refuse_data(connection: Any, revision: str) -> None:
    if not store_copy.holds_only_seeds(connection, store_copy.reflect_tables(connection), revision):
        raise FailedPreconditionError(
            "the target holds data: restore into a new database (no tables, or nothing but a new schema)"
        )
