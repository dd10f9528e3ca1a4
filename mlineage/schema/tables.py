"""The database schema of mlineage: SQLAlchemy table definitions, and nothing else.

Design notes (why the tables look like this):

* One table per node kind (``artifacts``, ``executions``, ``contexts``) and one
  property table per node kind, as MLMD has, so that a node and its
  properties are read with two indexed range scans.
* Property values live in typed columns (``int_value``, ``double_value``,
  ``string_value``, ``bool_value``, ``struct_value``, ``proto_value``) so that
  a filter on ``properties.x.int_value`` is an index lookup on
  ``(name, is_custom, int_value)``.
* ``types.version`` is ``''`` when unset, which lets the database itself
  enforce the uniqueness of (namespace, kind, name, version); NULLs would not.
* Every node and type table has a ``namespace`` column from the first
  revision, defaulting to ``default``.
* Foreign keys are declared (SQLite runs with ``PRAGMA foreign_keys=ON``);
  child rows cascade when a node is deleted.
* Times are integer milliseconds since the epoch, as MLMD's are.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

from mlineage.schema.column_types import Double, IdType, LongBinary, LongText

DEFAULT_NAMESPACE = "default"

# Same numbering as MLMD's TypeKind (metadata_store/constants.h).
KIND_EXECUTION = 0
KIND_ARTIFACT = 1
KIND_CONTEXT = 2

# Stable constraint names make Alembic revisions reproducible on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)



def _namespace() -> Column:
    return Column("namespace", String(255), nullable=False, server_default=DEFAULT_NAMESPACE)


def _revision() -> Column:
    # The number of the row's current version: 1 when created, one more at each change.
    return Column("revision", Integer, nullable=False, server_default="1")


def _change_id() -> Column:
    # The change (``changes.id``) that wrote the row's current version; 0 for rows
    # written before history was kept (their version counts from their create time).
    return Column("change_id", BigInteger, nullable=False, server_default="0")


types = Table(
    "types",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    _namespace(),
    Column("kind", SmallInteger, nullable=False),
    Column("name", String(255), nullable=False),
    Column("version", String(255), nullable=False, server_default=""),
    Column("description", LongText),
    Column("external_id", String(255)),
    Column("base_type", SmallInteger, nullable=False, server_default="0"),
    # Serialized ArtifactStructType messages of an ExecutionType (experimental in MLMD).
    Column("input_type", LongBinary),
    Column("output_type", LongBinary),
    _revision(),
    _change_id(),
    UniqueConstraint("namespace", "kind", "name", "version"),
    UniqueConstraint("namespace", "kind", "external_id"),
    sqlite_autoincrement=True,
)

type_properties = Table(
    "type_properties",
    metadata,
    Column("type_id", IdType, ForeignKey("types.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("data_type", SmallInteger, nullable=False),
    _change_id(),
    PrimaryKeyConstraint("type_id", "name"),
)


def _node_table(name: str, *, state_column: str | None, with_uri: bool, name_required: bool) -> Table:
    columns: list = [
        Column("id", IdType, primary_key=True, autoincrement=True),
        _namespace(),
        Column("type_id", IdType, ForeignKey("types.id"), nullable=False),
        Column("name", String(255), nullable=not name_required),
        Column("external_id", String(255)),
    ]
    if with_uri:
        columns.append(Column("uri", LongText))
    if state_column:
        columns.append(Column(state_column, SmallInteger))
    columns += [
        Column("create_time_since_epoch", BigInteger, nullable=False, server_default="0"),
        Column("last_update_time_since_epoch", BigInteger, nullable=False, server_default="0"),
        Column("system_metadata", LongBinary),
        _revision(),
        _change_id(),
        UniqueConstraint("type_id", "name"),
        UniqueConstraint("namespace", "external_id"),
    ]
    # AUTOINCREMENT on SQLite: ids are never reused, even after deletions.
    table = Table(name, metadata, *columns, sqlite_autoincrement=True)
    Index(f"ix_{name}_create_time", table.c.create_time_since_epoch, table.c.id)
    Index(f"ix_{name}_update_time", table.c.last_update_time_since_epoch, table.c.id)
    Index(f"ix_{name}_namespace_id", table.c.namespace, table.c.id)
    return table


artifacts = _node_table("artifacts", state_column="state", with_uri=True, name_required=False)
# MySQL indexes at most 3072 bytes of a key: its text keys index their first 255 characters (1020 bytes
# of utf8mb4), and a lookup compares the whole value on the rows the prefix finds.
Index("ix_artifacts_uri", artifacts.c.uri, mysql_length=255)
executions = _node_table("executions", state_column="last_known_state", with_uri=False, name_required=False)
contexts = _node_table("contexts", state_column=None, with_uri=False, name_required=True)
# A filter on a context's name without its type (``contexts_a.name = 'run-1'``, MLMD's usual "nodes of
# this run" query) cannot use (type_id, name): without this index it read every context (10M-node
# store: 76 ms against 10 ms at 1M; bench/scale_bench.py filter_context, docs/scale.md).
Index("ix_contexts_name", contexts.c.name)


def _property_table(name: str, owner: Table) -> Table:
    owner_column = f"{owner.name[:-1]}_id"
    table = Table(
        name,
        metadata,
        Column(owner_column, IdType, ForeignKey(f"{owner.name}.id", ondelete="CASCADE"), nullable=False),
        Column("name", String(255), nullable=False),
        Column("is_custom", Boolean, nullable=False),
        # PropertyType enum of the stored value; exactly one value column is set.
        Column("value_type", SmallInteger, nullable=False),
        Column("int_value", BigInteger),
        Column("double_value", Double),
        Column("string_value", LongText),
        Column("bool_value", Boolean),
        # google.protobuf.Struct as canonical JSON text.
        Column("struct_value", LongText),
        # Serialized google.protobuf.Any.
        Column("proto_value", LongBinary),
        # The change of the owner's current version (rewritten with it): a property row is
        # valid exactly when its owner's version is.
        _change_id(),
        PrimaryKeyConstraint(owner_column, "is_custom", "name"),
    )
    for column in ("int_value", "double_value", "bool_value"):
        Index(f"ix_{name}_{column}", table.c.name, table.c.is_custom, table.c[column])
    # Strings: a B-tree on SQLite (on MySQL over the value's first 255 characters); on PostgreSQL a
    # hash index on the value, because B-tree entries are capped at ~2.7 kB and property strings are not.
    Index(
        f"ix_{name}_string_value", table.c.name, table.c.is_custom, table.c.string_value,
        mysql_length={"string_value": 255},
    ).ddl_if(dialect=("sqlite", "mysql"))  # type: ignore[arg-type]  # a tuple of names is documented, not typed
    Index(f"ix_{name}_string_hash", table.c.string_value, postgresql_using="hash").ddl_if(
        dialect="postgresql"
    )
    return table


artifact_properties = _property_table("artifact_properties", artifacts)
execution_properties = _property_table("execution_properties", executions)
context_properties = _property_table("context_properties", contexts)

events = Table(
    "events",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("artifact_id", IdType, ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False),
    Column("execution_id", IdType, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
    Column("type", SmallInteger, nullable=False),
    # Event.Path as JSON: [{"index": 0}, {"key": "examples"}, ...]; not filterable, as in MLMD.
    Column("path", LongText),
    Column("milliseconds_since_epoch", BigInteger),
    Column("system_metadata", LongBinary),
    _change_id(),
    UniqueConstraint("artifact_id", "execution_id", "type"),
    sqlite_autoincrement=True,
)
Index("ix_events_execution_id", events.c.execution_id, events.c.type)

attributions = Table(
    "attributions",
    metadata,
    Column("context_id", IdType, ForeignKey("contexts.id", ondelete="CASCADE"), nullable=False),
    Column("artifact_id", IdType, ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False),
    Column("system_metadata", LongBinary),
    _change_id(),
    PrimaryKeyConstraint("context_id", "artifact_id"),
)
Index("ix_attributions_artifact_id", attributions.c.artifact_id)

associations = Table(
    "associations",
    metadata,
    Column("context_id", IdType, ForeignKey("contexts.id", ondelete="CASCADE"), nullable=False),
    Column("execution_id", IdType, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
    Column("system_metadata", LongBinary),
    _change_id(),
    PrimaryKeyConstraint("context_id", "execution_id"),
)
Index("ix_associations_execution_id", associations.c.execution_id)

parent_contexts = Table(
    "parent_contexts",
    metadata,
    Column("child_id", IdType, ForeignKey("contexts.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", IdType, ForeignKey("contexts.id", ondelete="CASCADE"), nullable=False),
    Column("system_metadata", LongBinary),
    _change_id(),
    PrimaryKeyConstraint("child_id", "parent_id"),
)
Index("ix_parent_contexts_parent_id", parent_contexts.c.parent_id)

NODE_TABLES = {"artifact": artifacts, "execution": executions, "context": contexts}
PROPERTY_TABLES = {
    "artifact": artifact_properties,
    "execution": execution_properties,
    "context": context_properties,
}

# Metric series (mlineage's own, not MLMD's): one row per logged point, keyed by
# the client-made sequence number of the point within its (execution, metric),
# so a replayed batch inserts nothing twice and a series reads back with one
# primary-key range scan in logging order. NaN is stored as NULL (SQLite has no NaN).
metric_points = Table(
    "metric_points",
    metadata,
    Column("execution_id", IdType, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("value", Double),
    Column("timestamp_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("execution_id", "name", "seq"),
)

# OpenLineage events as received (POST /api/v1/lineage), kept before the nodes are derived from them,
# so the derived model can always be rebuilt or audited. ``payload`` is the event's JSON.
openlineage_events = Table(
    "openlineage_events",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("namespace", String(255), nullable=False, server_default=DEFAULT_NAMESPACE),
    Column("received_time_since_epoch", BigInteger, nullable=False),
    Column("event_time", String(64), nullable=False),
    Column("event_type", String(16)),
    Column("run_id", String(64)),
    Column("job_namespace", LongText),
    Column("job_name", LongText),
    Column("producer", LongText),
    Column("payload", LongText, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_openlineage_events_run_id", openlineage_events.c.run_id, openlineage_events.c.id)
Index("ix_openlineage_events_namespace_id", openlineage_events.c.namespace, openlineage_events.c.id)

# Authentication (mlineage's own): bearer tokens, kept as a salted SHA-256 of their secret part only
# (``id`` is the token's public prefix, looked up by primary key), each confined to one namespace with
# one role (reader, writer, admin); revoked and expired tokens stay listed and are refused.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255)),
    _namespace(),
    Column("role", String(16), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger),
    Column("revoked_ms", BigInteger),
)

# Namespaces made by ``mlineage namespace create`` (``default`` always exists, listed or not).
namespaces = Table(
    "namespaces",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("description", LongText),
)

# History (mlineage's own). Every write transaction that changes something is one
# ``changes`` row: when (server time, ms), by whom (the caller's identity once there
# is authentication; until then the surface and the peer address). Main tables hold
# each row's current version and the change that wrote it (``change_id``); when a
# version is superseded (an update) or removed (a deletion), the row as it was goes
# to the table's ``*_history`` twin with ``closed_by``, the change that ended it.
# A version is therefore valid over the changes ``change_id <= c < closed_by``, and
# a read "as of" a moment is the same query over the rows valid at the last change
# recorded by then (see metadata/history.py). Nothing is copied when a row is
# created, so history costs inserts one ``changes`` row per transaction.
changes = Table(
    "changes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    _namespace(),
    Column("recorded_ms", BigInteger, nullable=False),
    Column("surface", String(32), nullable=False),
    Column("actor", String(255)),
    Column("peer", String(255)),
    sqlite_autoincrement=True,
)
Index("ix_changes_recorded_ms", changes.c.recorded_ms, changes.c.id)


def _history_of(table: Table, key: tuple[str, ...]) -> Table:
    """The ``*_history`` twin of ``table``: its columns (no defaults, no constraints) and ``closed_by``."""
    columns = [Column(c.name, c.type, nullable=c.nullable, autoincrement=False) for c in table.columns]
    columns.append(Column("closed_by", BigInteger, nullable=False))
    history = Table(f"{table.name}_history", metadata, *columns, PrimaryKeyConstraint(*key))
    Index(f"ix_{table.name}_history_closed_by", history.c.closed_by)
    if "revision" in history.c:
        # A read as of change c wants the version of a row with closed_by > c: one range seek.
        Index(f"ix_{table.name}_history_{key[0]}_closed_by", history.c[key[0]], history.c.closed_by)
    return history


types_history = _history_of(types, ("id", "revision"))
# Properties belong to the version of their owner: ``revision`` is the owner's.
type_properties_history = Table(
    "type_properties_history",
    metadata,
    Column("type_id", IdType, nullable=False, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("data_type", SmallInteger, nullable=False),
    Column("change_id", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("closed_by", BigInteger, nullable=False),
    PrimaryKeyConstraint("type_id", "revision", "name"),
)
Index(
    "ix_type_properties_history_type_id_closed_by",
    type_properties_history.c.type_id,
    type_properties_history.c.closed_by,
)
artifacts_history = _history_of(artifacts, ("id", "revision"))
executions_history = _history_of(executions, ("id", "revision"))
contexts_history = _history_of(contexts, ("id", "revision"))


def _property_history_of(table: Table) -> Table:
    owner_column = table.primary_key.columns.values()[0].name
    columns = [Column(c.name, c.type, nullable=c.nullable, autoincrement=False) for c in table.columns]
    columns += [Column("revision", Integer, nullable=False), Column("closed_by", BigInteger, nullable=False)]
    history = Table(
        f"{table.name}_history",
        metadata,
        *columns,
        PrimaryKeyConstraint(owner_column, "revision", "is_custom", "name"),
    )
    Index(f"ix_{table.name}_history_closed_by", history.c.closed_by)
    Index(f"ix_{table.name}_history_{owner_column}_closed_by", history.c[owner_column], history.c.closed_by)
    return history


artifact_properties_history = _property_history_of(artifact_properties)
execution_properties_history = _property_history_of(execution_properties)
context_properties_history = _property_history_of(context_properties)
# Events and links are never updated: a history row is one removed with a deleted node.
events_history = _history_of(events, ("id",))
attributions_history = _history_of(attributions, ("context_id", "artifact_id"))
associations_history = _history_of(associations, ("context_id", "execution_id"))
parent_contexts_history = _history_of(parent_contexts, ("child_id", "parent_id"))
# The same lookups as on the live tables (a walk reads events by either end).
Index("ix_events_history_artifact_id", events_history.c.artifact_id)
Index("ix_events_history_execution_id", events_history.c.execution_id)
Index("ix_attributions_history_artifact_id", attributions_history.c.artifact_id)
Index("ix_associations_history_execution_id", associations_history.c.execution_id)
Index("ix_parent_contexts_history_parent_id", parent_contexts_history.c.parent_id)

HISTORY_TABLES = {
    types: types_history,
    type_properties: type_properties_history,
    artifacts: artifacts_history,
    executions: executions_history,
    contexts: contexts_history,
    artifact_properties: artifact_properties_history,
    execution_properties: execution_properties_history,
    context_properties: context_properties_history,
    events: events_history,
    attributions: attributions_history,
    associations: associations_history,
    parent_contexts: parent_contexts_history,
}
