"""Access to artifact, execution and context types: reads, inserts, evolution writes, and a cache by id."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, delete, insert, select, update

from mlineage.errors import NotFoundError
from mlineage.metadata import dialect, executor, history
from mlineage.metadata.kinds import KIND_BY_TYPE_KIND, NodeKind
from mlineage.proto import SYSTEM_TYPE_NAMES
from mlineage.schema import tables as t


@dataclass
class TypeInfo:
    id: int
    kind: int
    name: str
    version: str  # '' when unset
    namespace: str
    properties: dict[str, int] = field(default_factory=dict)
    description: str | None = None
    external_id: str | None = None
    base_type: int = 0
    input_type: bytes | None = None
    output_type: bytes | None = None

    def to_message(self):
        kind = KIND_BY_TYPE_KIND[self.kind]
        message = kind.type_message(id=self.id, name=self.name)
        if self.version:
            message.version = self.version
        if self.description is not None:
            message.description = self.description
        if self.external_id is not None:
            message.external_id = self.external_id
        if self.base_type:
            message.base_type = self.base_type
        for name, data_type in self.properties.items():
            message.properties[name] = data_type
        if self.input_type is not None:
            message.input_type.ParseFromString(self.input_type)
        if self.output_type is not None:
            message.output_type.ParseFromString(self.output_type)
        return message


_TYPE_COLUMNS = (
    t.types.c.id,
    t.types.c.kind,
    t.types.c.name,
    t.types.c.version,
    t.types.c.namespace,
    t.types.c.description,
    t.types.c.external_id,
    t.types.c.base_type,
    t.types.c.input_type,
    t.types.c.output_type,
)


Connection = executor.AnyConnection


def _load(connection: Connection, where) -> list[TypeInfo]:
    """Types matching a condition built for one request, by id, with their declared properties."""
    rows = executor.run(connection, lambda _: select(*_TYPE_COLUMNS).where(where).order_by(t.types.c.id)).all()
    return _infos(connection, rows)


def _info(row: Sequence) -> TypeInfo:
    """A TypeInfo, without its properties, for a row of ``_TYPE_COLUMNS``."""
    return TypeInfo(
        id=row[0],
        kind=row[1],
        name=row[2],
        version=row[3],
        namespace=row[4],
        description=row[5],
        external_id=row[6],
        base_type=row[7],
        input_type=row[8],
        output_type=row[9],
    )


def _infos(connection: Connection, rows: Sequence) -> list[TypeInfo]:
    """TypeInfos for rows of ``_TYPE_COLUMNS`` (tuples), with their declared properties."""
    if not rows:
        return []
    infos = {row[0]: _info(row) for row in rows}
    props = t.type_properties
    found = executor.fetch(
        connection,
        "type_properties",
        lambda dialect_name: select(props.c.type_id, props.c.name, props.c.data_type)
        .where(dialect.ids_match(dialect_name, props.c.type_id))
        .order_by(props.c.type_id, props.c.name),
        {"ids": dialect.ids_param(connection.dialect.name, list(infos))},
    )
    for type_id, name, data_type in found:
        infos[type_id].properties[name] = data_type
    return list(infos.values())


class TypeCache:
    """Types by id, shared by the threads of one process.

    Types only grow (properties are added, never removed or retyped), so a
    cached entry can be stale only by missing a property; callers reload on
    such a miss (``refresh``) before reporting an error.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, TypeInfo] = {}
        self._lock = threading.Lock()

    def get(self, connection: Connection, type_id: int) -> TypeInfo | None:
        info = self._by_id.get(type_id)
        if info is None:
            info = self.refresh(connection, type_id)
        return info

    def refresh(self, connection: Connection, type_id: int) -> TypeInfo | None:
        found = _load(connection, t.types.c.id == type_id)
        with self._lock:
            if found:
                self._by_id[type_id] = found[0]
                return found[0]
            self._by_id.pop(type_id, None)
            return None

    def forget(self, type_id: int) -> None:
        with self._lock:
            self._by_id.pop(type_id, None)

    def clear(self) -> None:
        with self._lock:
            self._by_id.clear()


def types_by_ids(connection: executor.AnyConnection, kind: NodeKind, ids: Sequence[int]) -> list[TypeInfo]:
    """Types of ``kind`` with the given ids, in the order asked, missing ids skipped, repeats repeated (as MLMD)."""
    if not ids:
        return []
    # Through the executor (one cached statement, ids in one parameter): a lineage answer read by
    # MLMD's client asks for its types by id three times. The types and their declared properties
    # in one statement: one round trip on PostgreSQL.
    props = t.type_properties
    rows = executor.fetch(
        connection,
        "types_by_ids_with_properties",
        lambda dialect_name: select(*_TYPE_COLUMNS, props.c.name, props.c.data_type)
        .select_from(t.types.outerjoin(props, props.c.type_id == t.types.c.id))
        .where(dialect.ids_match(dialect_name, t.types.c.id), t.types.c.kind == bindparam("kind"))
        .order_by(t.types.c.id, props.c.name),
        {"ids": dialect.ids_param(connection.dialect.name, sorted(set(ids))), "kind": kind.type_kind},
    )
    found: dict[int, TypeInfo] = {}
    for row in rows:
        info = found.get(row[0])
        if info is None:
            info = found[row[0]] = _info(row)
        if row[10] is not None:
            info.properties[row[10]] = row[11]
    return [found[i] for i in ids if i in found]


SYSTEM_TYPE_NAME_SET = frozenset(SYSTEM_TYPE_NAMES.values())


def types_of_kind(
    connection: Connection, kind: NodeKind, namespace: str, *, include_system: bool = False
) -> list[TypeInfo]:
    """Types of one kind; MLMD leaves its seeded ``mlmd.*`` system types out of such lists."""
    where = and_(t.types.c.kind == kind.type_kind, t.types.c.namespace == namespace)
    if not include_system:
        where = and_(where, t.types.c.name.not_in(SYSTEM_TYPE_NAME_SET))
    return _load(connection, where)


def types_by_external_ids(
    connection: Connection, kind: NodeKind, external_ids: Sequence[str], namespace: str
) -> list[TypeInfo]:
    if not external_ids:
        return []
    return _load(
        connection,
        and_(
            t.types.c.kind == kind.type_kind,
            t.types.c.namespace == namespace,
            t.types.c.external_id.in_(set(external_ids)),
        ),
    )


def find_type(
    connection: Connection, kind: NodeKind, name: str, version: str | None, namespace: str
) -> TypeInfo | None:
    types = t.types
    rows = executor.fetch(
        connection,
        "find_type",
        lambda _: select(*_TYPE_COLUMNS).where(
            and_(
                types.c.kind == bindparam("p_kind"),
                types.c.namespace == bindparam("p_namespace"),
                types.c.name == bindparam("p_name"),
                types.c.version == bindparam("p_version"),
            )
        ),
        {"p_kind": kind.type_kind, "p_namespace": namespace, "p_name": name, "p_version": version or ""},
    )
    found = _infos(connection, rows)
    return found[0] if found else None


def raise_type_not_found(kind: NodeKind, name: str, version: str | None) -> None:
    raise NotFoundError(
        f"no {kind.name} type found with name {name!r}" + (f" and version {version!r}" if version else "")
    )


def get_type(connection: Connection, kind: NodeKind, name: str, version: str | None, namespace: str) -> TypeInfo:
    info = find_type(connection, kind, name, version, namespace)
    if info is None:
        raise_type_not_found(kind, name, version)
    return info  # type: ignore[return-value]


def lock_type(connection: Connection, type_id: int) -> None:
    """Hold the stored type ``type_id`` until the write transaction ends (before reading what an
    evolution changes; see ``history.lock_versions``)."""
    history.lock_versions(connection, t.types, [type_id])


def evolve_type(
    connection: Connection, type_id: int, added: dict[str, int], updates: dict[str, object]
) -> None:
    """Give a stored type new declared properties (``added``: name -> data type) and new column values
    (``updates``: base_type, external_id), the version it replaces kept in history first. Raises the
    driver's IntegrityError for an external_id another type of the kind has."""
    # The version being replaced goes to history first.
    change = history.change_id(connection)
    history.close_type_versions(connection, [type_id], change)
    if added:
        _insert_type_properties(connection, type_id, added.items())
    if updates:
        update_type(connection, type_id, updates)
    history.bump_revisions(connection, t.types, t.type_properties, "type_id", [type_id], change)


def update_type(connection: Connection, type_id: int, values: dict[str, object]) -> None:
    """Set columns of one stored type (its base type, its external_id); raises the driver's
    IntegrityError for an external_id another type of the kind has."""
    columns = tuple(sorted(values))
    executor.execute_many(
        connection,
        ("update_type", columns),
        lambda _: update(t.types).where(t.types.c.id == bindparam("p_type_id")).values(
            {c: bindparam(f"p_{c}") for c in columns}
        ),
        [{"p_type_id": type_id, **{f"p_{c}": values[c] for c in columns}}],
    )


def insert_type(connection: Connection, kind: NodeKind, message, version: str, namespace: str) -> int:
    """Insert a new type (checked) and its declared properties; returns its id. Raises the driver's
    IntegrityError for a (kind, name, version) or external_id that is taken."""
    row = {
        "kind": kind.type_kind,
        "name": message.name,
        "version": version,
        "namespace": namespace,
        "description": message.description if message.HasField("description") else None,
        "external_id": message.external_id if message.HasField("external_id") else None,
        "base_type": message.base_type if message.HasField("base_type") else 0,
    }
    if kind.type_kind == t.KIND_EXECUTION:
        row["input_type"] = message.input_type.SerializeToString() if message.HasField("input_type") else None
        row["output_type"] = (
            message.output_type.SerializeToString() if message.HasField("output_type") else None
        )
    row["change_id"] = history.change_id(connection)
    columns = tuple(row)
    [type_id] = executor.insert_returning_ids(
        connection,
        ("insert_type", columns),
        lambda _: insert(t.types).values({c: bindparam(f"p_{c}") for c in columns}).returning(t.types.c.id),
        [{f"p_{c}": row[c] for c in columns}],
    )
    _insert_type_properties(connection, type_id, message.properties.items())
    return type_id


def _insert_type_properties(connection: Connection, type_id: int, properties) -> None:
    executor.execute_many(
        connection,
        "insert_type_properties",
        lambda _: insert(t.type_properties).values(
            type_id=bindparam("p_type"),
            name=bindparam("p_name"),
            data_type=bindparam("p_data_type"),
            change_id=bindparam("p_change"),
        ),
        [
            {"p_type": type_id, "p_name": name, "p_data_type": dt, "p_change": history.change_id(connection)}
            for name, dt in properties
        ],
    )


def type_ids_by_name(
    connection: Connection, kind: NodeKind, name: str, version: str | None, namespace: str
) -> Iterable[int]:
    info = find_type(connection, kind, name, version, namespace)
    return [info.id] if info else []


def delete_type(connection: Connection, type_id: int) -> None:
    """Delete one type and its declared properties (the caller has copied its version to history)."""
    executor.fetch(
        connection,
        "delete_type",
        lambda _: delete(t.types).where(t.types.c.id == bindparam("p_type")),
        {"p_type": type_id},
    )
