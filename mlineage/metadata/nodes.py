"""Artifact, execution and context rows: reading them into messages and writing messages into them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    update,
)

from mlineage.metadata import dialect, executor, history
from mlineage.metadata.kinds import ARTIFACT, NodeKind
from mlineage.metadata.values import fill_value_tuple, value_columns
from mlineage.schema import tables as t

if TYPE_CHECKING:
    from mlineage.metadata.update_masks import NodeChanges

Connection = executor.AnyConnection


def _node_columns(kind: NodeKind) -> list:
    """The selected columns of a node, in the order ``_build_message`` reads them."""
    table = kind.table
    columns = [
        table.c.id,
        table.c.type_id,
        t.types.c.name.label("type_name"),
        table.c.name,
        table.c.external_id,
        table.c.create_time_since_epoch,
        table.c.last_update_time_since_epoch,
        table.c.system_metadata,
        table.c.uri if kind.has_uri else null().label("uri"),
        table.c[kind.state_field] if kind.state_field else null().label("state"),
    ]
    return columns


def node_select(kind: NodeKind) -> Select:
    """SELECT of a node's columns plus its type name."""
    table = kind.table
    return select(*_node_columns(kind)).join(t.types, t.types.c.id == table.c.type_id)


def _property_columns(kind: NodeKind) -> list:
    props = kind.properties
    return [
        props.c[kind.owner_column],
        props.c.name,
        props.c.is_custom,
        props.c.value_type,
        props.c.int_value,
        props.c.double_value,
        props.c.string_value,
        props.c.bool_value,
        props.c.struct_value,
        props.c.proto_value,
    ]


def _node_by_ids_select(kind: NodeKind, dialect_name: str) -> Select:
    """``node_select`` for a read by ids. On MySQL the type name is a correlated subquery, not a join:
    a join lets MariaDB start from the (small) types table and scan each type's nodes whenever its
    statistics are stale, which they are on a table filled since it was created (InnoDB recalculates
    them rarely); with the node table alone the ids drive the read (primary-key lookups)."""
    if dialect_name != "mysql":
        return node_select(kind)
    table = kind.table
    type_name = select(t.types.c.name).where(t.types.c.id == table.c.type_id).scalar_subquery()
    columns = _node_columns(kind)
    columns[2] = type_name.label("type_name")
    return select(*columns)


def _by_ids_statement(kind: NodeKind, what: str):
    def build(dialect_name: str):
        if what == "nodes":
            return _node_by_ids_select(kind, dialect_name).where(dialect.ids_match(dialect_name, kind.table.c.id))
        props = kind.properties
        return select(*_property_columns(kind)).where(
            dialect.ids_match(dialect_name, props.c[kind.owner_column])
        )

    return build


def _raw_by_ids(connection: executor.AnyConnection, kind: NodeKind, what: str, ids: Sequence[int]) -> list:
    """Node or property rows for ids, through the executor (one array parameter for all ids)."""
    return executor.fetch(
        connection,
        ("by_ids", kind.name, what),
        _by_ids_statement(kind, what),
        {"ids": dialect.ids_param(connection.dialect.name, ids)},
    )


def _build_message(kind: NodeKind, row):
    node_id, type_id, type_name, name, external_id, created, updated, system_metadata, uri, state = row[:10]
    message = kind.message(
        id=node_id,
        type_id=type_id,
        type=type_name,
        create_time_since_epoch=created,
        last_update_time_since_epoch=updated,
    )
    if name is not None:
        message.name = name
    if external_id is not None:
        message.external_id = external_id
    if uri is not None:
        message.uri = uri
    if state is not None:
        assert kind.state_field is not None  # a kind without a state field selects NULL as its state
        setattr(message, kind.state_field, state)
    if system_metadata is not None:
        message.system_metadata.ParseFromString(bytes(system_metadata))
    return message


def rows_to_messages(connection: executor.AnyConnection, kind: NodeKind, rows: Sequence) -> list:
    """Messages for node rows (as selected by ``node_select``), properties included, in row order."""
    if not rows:
        return []
    messages = [_build_message(kind, row) for row in rows]
    by_id: dict[int, Any] = {message.id: message for message in messages}
    ids = list(by_id)
    for part in dialect.chunks(ids, dialect.LARGE_BATCH):
        for prop in _raw_by_ids(connection, kind, "properties", part):
            message = by_id[prop[0]]
            target = (message.custom_properties if prop[2] else message.properties)[prop[1]]
            fill_value_tuple(target, prop)
    return messages


def _with_properties_statement(kind: NodeKind):
    def build(dialect_name: str):
        table, props = kind.table, kind.properties
        if dialect_name == "mysql":  # the type name as a subquery: see _node_by_ids_select
            return (
                _node_by_ids_select(kind, dialect_name)
                .add_columns(*_property_columns(kind))
                .select_from(table.outerjoin(props, props.c[kind.owner_column] == table.c.id))
                .where(dialect.ids_match(dialect_name, table.c.id))
            )
        joined = table.join(t.types, t.types.c.id == table.c.type_id).outerjoin(
            props, props.c[kind.owner_column] == table.c.id
        )
        return (
            select(*_node_columns(kind), *_property_columns(kind))
            .select_from(joined)
            .where(dialect.ids_match(dialect_name, table.c.id))
        )

    return build


def _read_nodes_in_one_statement(connection: executor.AnyConnection, kind: NodeKind, ids: list[int]) -> list:
    # Each row: a node's columns, then one of its properties (NULLs for a node without any).
    rows = executor.fetch(
        connection,
        ("by_ids", kind.name, "with_properties"),
        _with_properties_statement(kind),
        {"ids": dialect.ids_param(connection.dialect.name, ids)},
    )
    by_id: dict[int, Any] = {}
    for row in rows:
        message = by_id.get(row[0])
        if message is None:
            message = by_id[row[0]] = _build_message(kind, row)
        if row[10] is not None:
            target = (message.custom_properties if row[12] else message.properties)[row[11]]
            fill_value_tuple(target, row[10:])
    return [by_id[node_id] for node_id in ids if node_id in by_id]


def read_nodes(connection: executor.AnyConnection, kind: NodeKind, ids: Sequence[int]) -> list:
    """Nodes with the given ids, in the order asked, missing ids skipped, duplicates once."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        return []
    if len(ids) <= dialect.BATCH and connection.dialect.name in ("postgresql", "mysql"):
        # Nodes and their properties in one statement: one round trip, and one consistent snapshot
        # (two statements at READ COMMITTED could see a write between them; MySQL's reads run so too). On SQLite, where the
        # read transaction is the snapshot and a statement costs no trip, two measured faster
        # (10 artifacts with 3 properties each: 80 vs 85 us).
        return _read_nodes_in_one_statement(connection, kind, ids)
    rows = []
    for part in dialect.chunks(ids, dialect.LARGE_BATCH):
        rows.extend(_raw_by_ids(connection, kind, "nodes", part))
    if len(rows) > 1:
        position = {node_id: i for i, node_id in enumerate(ids)}
        rows.sort(key=lambda row: position[row[0]])
    return rows_to_messages(connection, kind, rows)


def _nodes_where(connection: Connection, kind: NodeKind, where: Any) -> list:
    """Nodes matching a condition built for one request, by id (SQLAlchemy compiles and caches it)."""
    rows = executor.run(connection, lambda _: node_select(kind).where(where).order_by(kind.table.c.id)).all()
    return rows_to_messages(connection, kind, rows)


def existing_ids(connection: Connection, kind: NodeKind, ids: set[int]) -> set[int]:
    """Which of ``ids`` name a stored node of ``kind``."""
    if not ids:
        return set()
    table = kind.table
    rows = executor.fetch(
        connection,
        ("existing_ids", kind.name),
        lambda dialect_name: select(table.c.id).where(dialect.ids_match(dialect_name, table.c.id)),
        {"ids": dialect.ids_param(connection.dialect.name, ids)},
    )
    return {row[0] for row in rows}


def nodes_by_external_ids(
    connection: Connection, kind: NodeKind, namespace: str, external_ids: Sequence[str]
) -> list:
    """Nodes of ``kind`` in ``namespace`` with one of ``external_ids``, by id; [] for none."""
    if not external_ids:
        return []
    table = kind.table
    return _nodes_where(
        connection, kind, and_(table.c.namespace == namespace, table.c.external_id.in_(list(external_ids)))
    )


def artifact_ids_by_external_ids(
    connection: Connection, namespace: str, external_ids: Sequence[str]
) -> dict[str, int]:
    """external_id -> id of the artifacts in ``namespace`` with one of ``external_ids``."""
    table = t.artifacts
    rows = executor.run(
        connection,
        lambda _: select(table.c.external_id, table.c.id).where(
            and_(table.c.namespace == namespace, table.c.external_id.in_(list(external_ids)))
        ),
    ).all()
    return {row[0]: row[1] for row in rows}


def artifacts_by_uris(connection: Connection, namespace: str, uris: Sequence[str]) -> list:
    """Artifacts in ``namespace`` with one of ``uris``, by id."""
    table = t.artifacts
    return _nodes_where(
        connection, ARTIFACT, and_(table.c.namespace == namespace, table.c.uri.in_(list(uris)))
    )


def node_by_type_and_name(connection: Connection, kind: NodeKind, type_id: int, name: str):
    """The node of ``kind`` with that type and name, or None."""
    table = kind.table
    found = _nodes_where(connection, kind, and_(table.c.type_id == type_id, table.c.name == name))
    return found[0] if found else None


def context_id_by_type_and_name(connection: Connection, type_id: int, name: str) -> int | None:
    """The id of the context with that type and name, or None."""
    table = t.contexts
    rows = executor.fetch(
        connection,
        "context_id_by_type_and_name",
        lambda _: select(table.c.id).where(
            and_(table.c.type_id == bindparam("p_type"), table.c.name == bindparam("p_name"))
        ),
        {"p_type": type_id, "p_name": name},
    )
    return rows[0][0] if rows else None


# --- property rows ------------------------------------------------------------------------------


def property_rows(kind: NodeKind, node_id: int, message, keys=None) -> list[dict]:
    """Rows of the property table for ``message``; ``keys`` limits to {(is_custom, name)}."""
    rows = []
    for is_custom, values in ((False, message.properties), (True, message.custom_properties)):
        for name, value in values.items():
            if keys is not None and (is_custom, name) not in keys:
                continue
            vtype, columns = value_columns(value, name)
            rows.append(
                {
                    kind.owner_column: node_id,
                    "name": name,
                    "is_custom": is_custom,
                    "value_type": vtype,
                    **columns,
                }
            )
    return rows


# --- writes -------------------------------------------------------------------------------------


def node_row(kind: NodeKind, message, namespace: str) -> dict:
    row: dict[str, Any] = {
        "namespace": namespace,
        "type_id": message.type_id,
        "name": message.name if message.HasField("name") else None,
        "external_id": message.external_id
        if message.HasField("external_id") and message.external_id
        else None,
        "system_metadata": message.system_metadata.SerializeToString()
        if message.HasField("system_metadata")
        else None,
    }
    if kind.has_uri:
        row["uri"] = message.uri if message.HasField("uri") else None
    if kind.state_field is not None:
        row[kind.state_field] = (
            getattr(message, kind.state_field) if message.HasField(kind.state_field) else None
        )
    return row


def insert_nodes(
    connection: Connection, kind: NodeKind, messages: Sequence, namespace: str, now: int
) -> list[int]:
    """Insert new nodes (ids unset) and their properties; returns their ids in order."""
    if not messages:
        return []
    rows = []
    change = history.change_id(connection)
    for message in messages:
        row = node_row(kind, message, namespace)
        row["create_time_since_epoch"] = now
        row["last_update_time_since_epoch"] = now
        row["change_id"] = change
        rows.append(row)
    table = kind.table
    if len(rows) > 1 and connection.dialect.name != "sqlite":
        # One round trip for the batch (insertmanyvalues) instead of one per row.
        result = executor.run(
            connection, lambda _: insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        ids = [row.id for row in result]
    else:
        columns = tuple(rows[0])
        ids = executor.insert_returning_ids(
            connection,
            ("insert_node", kind.name, columns),
            lambda _: insert(table).values({c: bindparam(f"p_{c}") for c in columns}).returning(table.c.id),
            [{f"p_{c}": row[c] for c in columns} for row in rows],
        )
    prop_rows = []
    for node_id, message in zip(ids, messages, strict=True):
        prop_rows.extend(property_rows(kind, node_id, message))
    insert_property_rows(connection, kind, prop_rows)
    return ids


_PROPERTY_ROW_COLUMNS = (
    "name",
    "is_custom",
    "value_type",
    "int_value",
    "double_value",
    "string_value",
    "bool_value",
    "struct_value",
    "proto_value",
)


def insert_property_rows(connection: Connection, kind: NodeKind, rows: Sequence[dict]) -> None:
    if not rows:
        return
    props = kind.properties
    columns = (kind.owner_column, *_PROPERTY_ROW_COLUMNS)
    change = history.change_id(connection)
    if connection.dialect.name == "mysql":
        rows = [dialect.storable_double(row) for row in rows]
    executor.execute_many(
        connection,
        ("insert_props", kind.name),
        lambda _: insert(props).values(
            {**{c: bindparam(f"p_{c}") for c in columns}, "change_id": bindparam("p_change")}
        ),
        [{**{f"p_{c}": row[c] for c in columns}, "p_change": change} for row in rows],
    )


def update_nodes(connection: Connection, kind: NodeKind, updates: Sequence[tuple], *, now: int) -> None:
    """Write the updates ``(stored, message, changes)`` of one request (see :func:`update_node`): the
    versions they replace go to history together first, then each node is written."""
    if not updates:
        return
    change = history.change_id(connection)
    node_ids = [stored.id for stored, _, _ in updates]
    history.close_node_versions(connection, kind, node_ids, change)
    for stored, message, changes in updates:
        update_node(connection, kind, stored, message, changes, now=now, closed=True)
    history.stamp_properties(connection, kind.properties, kind.owner_column, node_ids, change)


def update_node(
    connection: Connection,
    kind: NodeKind,
    stored,
    message,
    changes: NodeChanges,
    *,
    now: int,
    closed: bool = False,
) -> None:
    """Write one node's update: ``changes`` (the store's reading of the message and its mask) to the
    stored node ``stored``, the version it replaces kept in history first, the update time moved
    (never backwards). ``message`` holds the property values written. Raises the driver's errors.
    """
    node_id = stored.id
    values = dict(changes.values)
    to_delete, to_write = changes.to_delete, changes.to_write
    table = kind.table
    # The version being replaced goes to history first (this also locks the row on PostgreSQL).
    change = history.change_id(connection)
    if not closed:  # update_nodes closed them all at once
        history.close_node_versions(connection, kind, [node_id], change)
    values["last_update_time_since_epoch"] = max(now, stored.last_update_time_since_epoch)
    columns = tuple(sorted(values))
    executor.execute_many(
        connection,
        ("update_node", kind.name, columns),
        # The row's next revision, written by this change, in the same statement.
        lambda _: (
            update(table)
            .where(table.c.id == bindparam("p_node_id"))
            .values(
                {
                    **{c: bindparam(f"p_{c}") for c in columns},
                    "revision": table.c.revision + literal_column("1"),
                    "change_id": bindparam("p_change_id"),
                }
            )
        ),
        [{"p_node_id": node_id, "p_change_id": change, **{f"p_{c}": values[c] for c in columns}}],
    )
    props = kind.properties
    owner = props.c[kind.owner_column]
    rewrite = to_delete + to_write
    executor.execute_many(
        connection,
        ("delete_prop", kind.name),
        lambda _: delete(props).where(
            and_(
                owner == bindparam("p_owner"),
                props.c.is_custom == bindparam("p_custom"),
                props.c.name == bindparam("p_name"),
            )
        ),
        [{"p_owner": node_id, "p_custom": custom, "p_name": name} for custom, name in rewrite],
    )
    if to_write:
        insert_property_rows(connection, kind, property_rows(kind, node_id, message, keys=set(to_write)))
    if not closed:
        history.stamp_properties(connection, props, kind.owner_column, [node_id], change)


def delete_nodes(connection: Connection, kind: NodeKind, ids: Sequence[int]) -> None:
    """Delete nodes ``ids`` of ``kind``; their properties, events and links go with them (ON DELETE CASCADE).

    The caller has copied what goes to history first (``history.close_links``, ``close_node_versions``).
    """
    if not ids:
        return
    table = kind.table
    executor.fetch(
        connection,
        ("delete_nodes", kind.name),
        lambda dialect_name: delete(table).where(dialect.ids_match(dialect_name, table.c.id)),
        {"ids": dialect.ids_param(connection.dialect.name, ids)},
    )


def count_of_type(connection: Connection, kind: NodeKind, type_id: int) -> int:
    """How many live nodes of ``kind`` have type ``type_id``."""
    table = kind.table
    rows = executor.fetch(
        connection,
        ("count_of_type", kind.name),
        lambda _: select(func.count()).select_from(table).where(table.c.type_id == bindparam("p_type")),
        {"p_type": type_id},
    )
    return int(rows[0][0])
