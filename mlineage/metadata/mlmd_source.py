"""Reading an MLMD database (schema v6-v10) from its own tables, without ml-metadata, as rows of mlineage's tables.

MLMD's physical schema is not a documented interface, so this module keys on
``MLMDEnv.schema_version`` and knows each supported version's columns (facts in
``reference/mlmd.md`` §5): v7 added ``byte_value``, v8 made events unique on
(artifact, execution, type), v9 added the ``external_id`` columns, v10 the
``proto_value`` and ``bool_value`` columns. Values are decoded as MLMD's own
reader decodes them: a string starting ``mlmd-struct::`` is a base64
``google.protobuf.Struct``; ``proto_value`` is a base64 ``Any`` on SQLite and
MySQL and raw bytes on PostgreSQL; ``ParentType`` links a type to the system
type that is its ``base_type``; ``Type.input_type``/``output_type`` are the JSON
of an ``ArtifactStructType``.

On MySQL/MariaDB, MLMD's client library talks ``latin1`` whatever the columns'
character set, so its UTF-8 text lands in a ``utf8mb4`` column double-encoded
(``ü`` is stored as ``Ã¼``) and comes back right only through a ``latin1``
connection. This reader undoes it in the server, column by column (see
``_MYSQL_TEXT``): the stored text to ``latin1`` gives MLMD's bytes back, which are
then read as the UTF-8 they are. A ``latin1`` column takes the same way.

Everything is read in id order, a batch at a time (keyset pages), so memory
stays flat whatever the size of the source. Rows come out shaped for
``metadata/import_access.py``: the columns of ``schema.tables`` by name.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from google.protobuf import json_format, struct_pb2
from sqlalchemy import Engine, column, create_engine, func, inspect, literal_column, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from mlineage.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mlineage.metadata.engine import sqlite_file
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.values import BOOLEAN, DOUBLE, INT, PROTO, STRING, STRUCT, UNKNOWN
from mlineage.proto import SYSTEM_TYPE_BASE_TYPES
from mlineage.proto import metadata_store_pb2 as pb

SUPPORTED_VERSIONS = range(6, 11)
STRUCT_PREFIX = "mlmd-struct::"
# MLMD's text columns (every table's), read on MySQL through _MYSQL_TEXT.
_TEXT_COLUMNS = frozenset(
    {"name", "version", "description", "input_type", "output_type", "external_id", "uri", "string_value", "step_key"}
)
# The bytes MLMD's latin1 connection wrote, taken as UTF-8 (see the module's docstring).
_MYSQL_TEXT = "CONVERT(CAST(CONVERT(`{0}` USING latin1) AS BINARY) USING utf8mb4)"

# MLMD's table for each node kind, and the column naming the owner in its property table.
_NODE_TABLES = {ARTIFACT: ("Artifact", "ArtifactProperty", "artifact_id"),
                EXECUTION: ("Execution", "ExecutionProperty", "execution_id"),
                CONTEXT: ("Context", "ContextProperty", "context_id")}  # fmt: skip
_KIND_NAMES = {ARTIFACT.type_kind: "artifact", EXECUTION.type_kind: "execution", CONTEXT.type_kind: "context"}


@dataclass
class SourceCounts:
    """How many rows of each kind the source holds (for a progress bar's totals)."""

    types: int = 0
    artifacts: int = 0
    executions: int = 0
    contexts: int = 0
    events: int = 0
    attributions: int = 0
    associations: int = 0
    parent_contexts: int = 0


@dataclass
class SourceType:
    """One type of the source as mlineage rows: the ``types`` row and its ``type_properties`` rows."""

    row: dict[str, Any]
    properties: list[dict[str, Any]] = field(default_factory=list)


def source_engine(url: str) -> Engine:
    """A read-only engine on the MLMD database ``url`` (``sqlite:///PATH``, ``postgresql://…``,
    ``mysql://…`` for MySQL or MariaDB, through PyMySQL).

    NOT_FOUND for a SQLite file that does not exist (nothing is created); INVALID_ARGUMENT
    for a URL of another database or none at all.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    for scheme in ("mysql://", "mariadb://", "mariadb+pymysql://"):
        if url.startswith(scheme):
            url = "mysql+pymysql://" + url[len(scheme) :]
    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidArgumentError(
            "the MLMD source is not a database URL: give sqlite:///PATH, postgresql://… or mysql://…"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "mysql":
        if parsed.get_driver_name() != "pymysql":
            raise InvalidArgumentError("a MySQL/MariaDB MLMD source is read through PyMySQL: give mysql://…")
        # utf8mb4 on the wire: the text is re-read as UTF-8 in the server (see _MYSQL_TEXT).
        return create_engine(parsed, isolation_level="REPEATABLE READ", connect_args={"charset": "utf8mb4"})
    if backend == "sqlite":
        path = sqlite_file(url)
        if path is None:
            raise InvalidArgumentError("the MLMD source must be a SQLite file, not an in-memory database")
        if not path.is_file():
            raise NotFoundError(f"no MLMD database at {path}")
        # Read-only: the import never writes to its source (nor creates a journal beside it).
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
    if backend == "postgresql":
        return create_engine(url, isolation_level="REPEATABLE READ")
    raise InvalidArgumentError(
        f"unsupported MLMD source {backend!r}: use sqlite:///PATH, postgresql://… or mysql://…"
    )


def source_identity(url: str) -> str:
    """The name of a source that stays the same between runs of one import (a file's absolute path)."""
    path = sqlite_file(url) if url.startswith("sqlite") else None
    if path is not None:
        return f"sqlite:///{path.resolve()}"[:255]
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() in ("mysql", "mariadb"):  # mysql:// and mysql+pymysql:// name one source
            parsed = parsed.set(drivername="mysql")
        return parsed.render_as_string(hide_password=True)[:255]
    except Exception:
        return url[:255]


class MlmdSource:
    """An open MLMD database: its schema version, and its records in batches, in id order."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        try:
            self._connection = engine.connect()
            if self._dialect == "mysql":
                # InnoDB's snapshot, taken now rather than at the first read (REPEATABLE READ, see
                # source_engine); rolled back when the source is closed.
                self._connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            self.version = self._schema_version()
        except SQLAlchemyError as exc:
            engine.dispose()
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise FailedPreconditionError(
                f"the source is not a readable MLMD database ({first[0] if first else type(exc).__name__})"
            ) from None
        except Exception:
            engine.dispose()
            raise
        # One snapshot for the whole import, should MLMD write meanwhile: PostgreSQL's connection is
        # REPEATABLE READ (see source_engine); SQLite's driver begins no transaction for reads, so
        # one is begun here (and rolled back when the source is closed).
        if self._dialect == "sqlite":
            self._connection.connection.dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]

    def close(self) -> None:
        self._connection.close()
        self._engine.dispose()

    def __enter__(self) -> MlmdSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- tables ---------------------------------------------------------------------------------

    def _table(self, name: str, *columns: str) -> Any:
        # MLMD's PostgreSQL DDL has unquoted (so lower-case) names; SQLite and MySQL keep MLMD's case.
        return table(name.lower() if self._dialect == "postgresql" else name, *(column(c) for c in columns))

    def _read(self, *columns: Any) -> list[Any]:
        """The columns to select: as they are, but MLMD's text on MySQL as it meant it (see _MYSQL_TEXT)."""
        if self._dialect != "mysql":
            return list(columns)
        return [
            literal_column(_MYSQL_TEXT.format(c.name)).label(c.name) if c.name in _TEXT_COLUMNS else c for c in columns
        ]

    def _rows(self, statement: Any) -> list[tuple]:
        """The rows of a read (ids and counts only as values), through the driver's cursor: a batch of
        records costs the driver's time, not SQLAlchemy's per-row processing."""
        sql = str(statement.compile(dialect=self._engine.dialect, compile_kwargs={"literal_binds": True}))
        cursor = self._connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _schema_version(self) -> int:
        names = {n.lower() for n in inspect(self._connection).get_table_names()}
        if "mlmdenv" not in names:
            hint = " (it is an mlineage database)" if "alembic_version" in names else ""
            raise FailedPreconditionError(f"the source is not an MLMD database: it has no MLMDEnv table{hint}")
        rows = self._connection.execute(select(self._table("MLMDEnv", "schema_version").c.schema_version)).all()
        if len(rows) != 1:
            raise FailedPreconditionError(
                f"the source's MLMDEnv table holds {len(rows)} rows, not one: it is not a consistent MLMD database"
            )
        version = int(rows[0][0])
        if version not in SUPPORTED_VERSIONS:
            raise FailedPreconditionError(
                f"the source is at MLMD schema version {version}; import reads versions 6 to 10 "
                "(upgrade it with ml-metadata's enable_upgrade_migration first)"
            )
        missing = {"type", "typeproperty", "parenttype", "artifact", "execution", "context", "event",
                   "eventpath", "attribution", "association", "parentcontext"} - names  # fmt: skip
        if missing:
            raise FailedPreconditionError(f"the source lacks MLMD's tables {sorted(missing)}: not an MLMD database")
        return version

    def _count(self, name: str) -> int:
        return int(self._connection.execute(select(func.count()).select_from(self._table(name))).scalar_one())

    def counts(self) -> SourceCounts:
        return SourceCounts(
            types=self._count("Type"),
            artifacts=self._count("Artifact"),
            executions=self._count("Execution"),
            contexts=self._count("Context"),
            events=self._count("Event"),
            attributions=self._count("Attribution"),
            associations=self._count("Association"),
            parent_contexts=self._count("ParentContext"),
        )

    def max_id(self, kind: NodeKind) -> int:
        name = _NODE_TABLES[kind][0]
        value = self._connection.execute(select(func.max(self._table(name, "id").c.id))).scalar_one()
        return int(value or 0)

    # --- types ----------------------------------------------------------------------------------

    def types(self) -> tuple[dict[str, int], list[SourceType]]:
        """The source's system types (name -> id) and its other types, in id order, as mlineage rows."""
        columns = ["id", "name", "version", "type_kind", "description", "input_type", "output_type"]
        if self.version >= 9:
            columns.append("external_id")
        types_t = self._table("Type", *columns)
        rows = self._connection.execute(select(*self._read(*types_t.c)).order_by(types_t.c.id)).mappings().all()
        system: dict[str, int] = {}
        names: dict[int, str] = {}
        user: list[SourceType] = []
        for row in rows:
            names[row["id"]] = row["name"]
            if row["name"] in SYSTEM_TYPE_BASE_TYPES:
                system[row["name"]] = int(row["id"])
                continue
            kind = int(row["type_kind"])
            if kind not in _KIND_NAMES:
                raise FailedPreconditionError(f"type {row['id']} of the source has an unknown kind {kind}")
            user.append(SourceType({
                "id": int(row["id"]),
                "kind": kind,
                "name": row["name"],
                "version": row["version"] or "",
                "description": row["description"],
                "external_id": row.get("external_id"),
                "base_type": 0,
                "input_type": _struct_type(row["input_type"], row["id"]) if kind == EXECUTION.type_kind else None,
                "output_type": _struct_type(row["output_type"], row["id"]) if kind == EXECUTION.type_kind else None,
            }))  # fmt: skip
        by_id = {t.row["id"]: t for t in user}
        parents_t = self._table("ParentType", "type_id", "parent_type_id")
        for type_id, parent_id in self._connection.execute(select(parents_t.c.type_id, parents_t.c.parent_type_id)):
            child = by_id.get(type_id)
            base = SYSTEM_TYPE_BASE_TYPES.get(names.get(parent_id, ""))
            if child is None:
                continue
            if base is None or base[0] != _KIND_NAMES[child.row["kind"]]:
                raise FailedPreconditionError(
                    f"type {type_id} of the source has parent type {parent_id}, which is not a system type "
                    "of its kind: mlineage keeps only MLMD's base types"
                )
            child.row["base_type"] = base[1]
        props_t = self._table("TypeProperty", "type_id", "name", "data_type")
        for type_id, name, data_type in self._connection.execute(
            select(*self._read(props_t.c.type_id, props_t.c.name, props_t.c.data_type))
            .order_by(props_t.c.type_id, props_t.c.name)
        ):
            owner = by_id.get(type_id)
            if owner is not None and data_type is not None:
                owner.properties.append({"type_id": int(type_id), "name": name, "data_type": int(data_type)})
        return system, user

    # --- nodes ----------------------------------------------------------------------------------

    def node_batches(self, kind: NodeKind, size: int, after: int = 0) -> Iterator[tuple[list[dict], list[dict]]]:
        """(node rows, their property rows) for ``size`` nodes at a time, ids above ``after``, in id order."""
        name, properties_name, owner = _NODE_TABLES[kind]
        columns = ["id", "type_id", "name", "create_time_since_epoch", "last_update_time_since_epoch"]
        if self.version >= 9:
            columns.append("external_id")
        if kind.has_uri:
            columns.append("uri")
        if kind.state_field:
            columns.append(kind.state_field)
        nodes_t = self._table(name, *columns)
        value_columns = ["int_value", "double_value", "string_value"]
        if self.version >= 10:
            value_columns += ["proto_value", "bool_value"]
        props_t = self._table(properties_name, owner, "name", "is_custom_property", *value_columns)
        page = select(*self._read(*nodes_t.c)).where(nodes_t.c.id > 0).order_by(nodes_t.c.id).limit(size)
        last = after
        while True:
            rows = [dict(zip(columns, row, strict=True)) for row in self._rows(page.where(nodes_t.c.id > last))]
            if not rows:
                return
            low, high = rows[0]["id"], rows[-1]["id"]
            props = self._rows(
                select(*self._read(*props_t.c)).where(props_t.c[owner] >= low, props_t.c[owner] <= high)
            )
            yield [_node_row(kind, row) for row in rows], [_property_row(kind, p, self._dialect) for p in props]
            last = high

    # --- events ---------------------------------------------------------------------------------

    def event_batches(self, size: int, after: int = 0) -> Iterator[tuple[list[dict], int]]:
        """(event rows, how many source rows they stand for): the rows (path as mlineage's JSON)
        ``size`` source rows at a time, ids above ``after``, in id order.

        Before v8 MLMD allowed several events with one (artifact, execution, type); its v8
        migration keeps the last one (highest id), and so does this reader.
        """
        events_t = self._table("Event", "id", "artifact_id", "execution_id", "type", "milliseconds_since_epoch")
        paths_t = self._table("EventPath", "event_id", "is_index_step", "step_index", "step_key")
        page = select(*events_t.c).order_by(events_t.c.id).limit(size)
        last = after
        while True:
            rows = self._rows(page.where(events_t.c.id > last))
            if not rows:
                return
            low, high, read = rows[0][0], rows[-1][0], len(rows)
            if self.version < 8:
                rows = self._last_of_duplicates(events_t, rows)
            steps: dict[int, list[tuple[bool, Any]]] = {}
            # No ORDER BY: MLMD reads a path's steps in the order the database returns them.
            for event_id, is_index, index, key in self._rows(
                select(*self._read(*paths_t.c)).where(paths_t.c.event_id >= low, paths_t.c.event_id <= high)
            ):
                steps.setdefault(event_id, []).append((True, int(index)) if is_index else (False, key))
            yield [
                {
                    "id": int(event_id),
                    "artifact_id": int(artifact_id),
                    "execution_id": int(execution_id),
                    "type": int(event_type),
                    "path": _path_json(tuple(steps[event_id])) if event_id in steps else None,
                    "milliseconds_since_epoch": None if ms is None else int(ms),
                }
                for event_id, artifact_id, execution_id, event_type, ms in rows
            ], read
            last = high

    def _last_of_duplicates(self, events_t: Any, rows: Sequence[Any]) -> list[Any]:
        artifact_ids = sorted({row[1] for row in rows})
        keep = {
            int(latest)
            for latest, in self._connection.execute(
                select(func.max(events_t.c.id))
                .where(events_t.c.artifact_id.in_(artifact_ids))
                .group_by(events_t.c.artifact_id, events_t.c.execution_id, events_t.c.type)
            )
        }
        return [row for row in rows if row[0] in keep]

    # --- links ----------------------------------------------------------------------------------

    def link_batches(self, name: str, size: int) -> Iterator[list[tuple[int, int]]]:
        """(context_id, node_id) pairs of Attribution (artifact) or Association (execution), in MLMD id order."""
        node_column = "artifact_id" if name == "Attribution" else "execution_id"
        links_t = self._table(name, "id", "context_id", node_column)
        page = select(*links_t.c).order_by(links_t.c.id).limit(size)
        last = 0
        while True:
            rows = self._rows(page.where(links_t.c.id > last))
            if not rows:
                return
            yield [(int(r[1]), int(r[2])) for r in rows]
            last = rows[-1][0]

    def parent_context_batches(self, size: int) -> Iterator[list[tuple[int, int]]]:
        """(child_id, parent_id) pairs, in key order."""
        links_t = self._table("ParentContext", "context_id", "parent_context_id")
        order = (links_t.c.context_id, links_t.c.parent_context_id)
        last = (0, 0)
        while True:
            rows = self._connection.execute(
                select(*order)
                .where((links_t.c.context_id > last[0])
                       | ((links_t.c.context_id == last[0]) & (links_t.c.parent_context_id > last[1])))
                .order_by(*order)
                .limit(size)
            ).all()  # fmt: skip
            if not rows:
                return
            yield [(int(r[0]), int(r[1])) for r in rows]
            last = (rows[-1][0], rows[-1][1])


@functools.lru_cache(maxsize=4096)
def _path_json(steps: tuple[tuple[bool, Any], ...]) -> str:
    """An event path as mlineage stores it (``[{"key":"examples"},{"index":0}]``); paths repeat, so cached."""
    return json.dumps([{"index": v} if is_index else {"key": v} for is_index, v in steps], separators=(",", ":"))


def _struct_type(text: str | None, type_id: int) -> bytes | None:
    if not text:
        return None
    message = pb.ArtifactStructType()
    try:
        json_format.Parse(text, message)
    except json_format.ParseError:
        raise FailedPreconditionError(f"type {type_id} of the source has an unreadable input or output type") from None
    return message.SerializeToString()


def _node_row(kind: NodeKind, row: Any) -> dict[str, Any]:
    out = {
        "id": int(row["id"]),
        "type_id": int(row["type_id"]),
        "name": row["name"],
        "external_id": row.get("external_id"),
        "create_time_since_epoch": int(row["create_time_since_epoch"]),
        "last_update_time_since_epoch": int(row["last_update_time_since_epoch"]),
    }
    if kind.has_uri:
        out["uri"] = row["uri"]
    if kind.state_field:
        state = row[kind.state_field]
        out[kind.state_field] = None if state is None else int(state)
    return out


def _property_row(kind: NodeKind, row: Sequence[Any], dialect: str) -> dict[str, Any]:
    """One MLMD property row as mlineage's: the value type MLMD's reader would give it, one column set."""
    owner, name, is_custom, int_value, double_value, string_value, *newer = row
    proto_value, bool_value = newer if newer else (None, None)
    out: dict[str, Any] = {
        kind.owner_column: int(owner), "name": name, "is_custom": bool(is_custom), "value_type": UNKNOWN,
        "int_value": None, "double_value": None, "string_value": None, "bool_value": None,
        "struct_value": None, "proto_value": None,
    }  # fmt: skip
    if int_value is not None:
        out["value_type"], out["int_value"] = INT, int(int_value)
    elif double_value is not None:
        out["value_type"], out["double_value"] = DOUBLE, float(double_value)
    elif string_value is not None:
        struct = _struct_of(string_value)
        if struct is None:
            out["value_type"], out["string_value"] = STRING, string_value
        else:
            out["value_type"], out["struct_value"] = STRUCT, struct
    elif proto_value is not None:
        out["value_type"], out["proto_value"] = PROTO, _any_bytes(proto_value, dialect)
    elif bool_value is not None:
        out["value_type"], out["bool_value"] = BOOLEAN, bool(bool_value)
    return out


def _struct_of(text: str) -> str | None:
    """mlineage's JSON of an ``mlmd-struct::`` string; None for a plain string (or one MLMD cannot parse)."""
    if not text.startswith(STRUCT_PREFIX):
        return None
    try:
        struct = struct_pb2.Struct()
        struct.ParseFromString(base64.b64decode(text[len(STRUCT_PREFIX) :], validate=True))
    except (binascii.Error, ValueError, Exception):
        return None
    return json_format.MessageToJson(struct, indent=None, sort_keys=True)


def _any_bytes(value: Any, dialect: str) -> bytes:
    raw = bytes(value) if not isinstance(value, str) else value.encode()
    if dialect == "postgresql":  # stored through decode('<b64>', 'base64'): the bytes themselves
        return raw
    return base64.b64decode(raw)
