"""History: the change log, superseded versions, and reads as of a past moment, all in one place.

How it works (the tables are described in ``schema/tables.py``):

* A write transaction that changes something records one ``changes`` row (server
  time in ms, the surface, the caller's identity and peer): :func:`record_change`.
  Every row it writes carries that change's id in ``change_id``.
* Before a row is overwritten (an update) or removed (a deletion), its current
  version is copied to the table's ``*_history`` twin with ``closed_by`` set to
  the change that ends it (:func:`close_node_versions`, :func:`close_type_versions`,
  :func:`close_links`). Creating a row copies nothing.
* A version is valid over the changes ``change_id <= c < closed_by``. A read as
  of a moment is the same statement over the rows valid at the last change
  recorded by then: :func:`as_of_statement` replaces every versioned table of a
  statement by its slice (live rows written by then, UNION ALL history rows valid
  then). The executor applies it to every statement it runs while a
  :func:`reading_as_of` scope is active, so every read of the store (gets, lists
  with their filters and paging, neighbourhoods, lineage walks) answers as of a
  moment without a second implementation.

Rows written before history was kept have ``change_id`` 0 and revision 1: their
current state is their first known version, valid from their create time.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.sql.util import ClauseAdapter

from mlineage.errors import AbortedError, InvalidArgumentError
from mlineage.metadata import executor
from mlineage.metadata.kinds import NodeKind
from mlineage.schema import tables as t

# Surfaces a change can come from (``changes.surface``).
SURFACES = ("python", "grpc", "rest", "openlineage", "mlflow", "import", "cli", "migration")


@dataclass(frozen=True)
class Caller:
    """Who makes the writes of the current context: the surface, the authenticated identity, the peer."""

    surface: str = "python"
    actor: str | None = None
    peer: str | None = None


_PYTHON = Caller()
_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("mlineage_caller", default=None)


@contextlib.contextmanager
def calling_as(surface: str, *, actor: str | None = None, peer: str | None = None) -> Iterator[Caller]:
    """Attribute the writes made inside the block to ``surface`` (and ``actor``/``peer``, cut to 255 chars)."""
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}")
    caller = Caller(surface, actor[:255] if actor else None, peer[:255] if peer else None)
    token = _CALLER.set(caller)
    try:
        yield caller
    finally:
        _CALLER.reset(token)


def current_caller() -> Caller:
    return _CALLER.get() or _PYTHON


# --- recording -------------------------------------------------------------------------------------


def record_change(connection: executor.AnyConnection, namespace: str, now_ms: int) -> int:
    """Insert the ``changes`` row of a write transaction and return its id."""
    caller = current_caller()
    changes = t.changes
    rows = executor.insert_returning_ids(
        connection,
        ("history.record_change",),
        lambda _dialect: (
            insert(changes)
            .values(
                namespace=bindparam("namespace"),
                recorded_ms=bindparam("recorded_ms"),
                surface=bindparam("surface"),
                actor=bindparam("actor"),
                peer=bindparam("peer"),
            )
            .returning(changes.c.id)
        ),
        [
            {
                "namespace": namespace,
                "recorded_ms": now_ms,
                "surface": caller.surface,
                "actor": caller.actor,
                "peer": caller.peer,
            }
        ],
    )
    return rows[0]


_PENDING = "mlineage.change"


class _Pending:
    """The change of an open write transaction: recorded at its first write (a transaction that writes
    nothing records none)."""

    __slots__ = ("namespace", "change_id", "keep", "locked")

    def __init__(self, namespace: str, keep: bool) -> None:
        self.namespace = namespace
        self.change_id: int | None = None if keep else 0
        self.keep = keep
        self.locked: dict[str, set[int]] = {}  # table name -> ids this transaction holds (lock_versions)


@contextlib.contextmanager
def write_transaction(connection: Any, namespace: str, *, keep: bool = True) -> Iterator[None]:
    """Mark ``connection``'s transaction as one change (the store's write path wraps every write in it).

    ``keep=False`` (a store opened with ``keep_history=False``) records no change and copies
    no version: rows are written with ``change_id`` 0, as rows from before history was kept.
    """
    connection.info[_PENDING] = _Pending(namespace, keep)
    try:
        yield
    finally:
        connection.info.pop(_PENDING, None)


def change_id(connection: Any) -> int:
    """The id of the change the current write transaction makes (recorded by the first call)."""
    pending: _Pending | None = connection.info.get(_PENDING)
    if pending is None:
        raise RuntimeError("a write outside the store's write transaction")
    if pending.change_id is None:
        pending.change_id = record_change(connection, pending.namespace, time.time_ns() // 1_000_000)
    return pending.change_id


def _keeping(connection: Any) -> bool:
    pending: _Pending | None = connection.info.get(_PENDING)
    return pending is None or pending.keep


def _copy_rows(live: Table, where_column: str, *, with_revision_of: Table | None = None):
    """INSERT INTO <live>_history SELECT <live's columns>, [owner's revision,] :closed_by WHERE <column> IN :ids."""
    history = t.HISTORY_TABLES[live]

    def build(dialect_name: str):
        columns: list[Any] = list(live.c)
        source: Any = live
        if with_revision_of is not None:
            owner_key = live.c[where_column]
            source = live.join(with_revision_of, with_revision_of.c.id == owner_key)
            columns.append(with_revision_of.c.revision)
        columns.append(bindparam("closed_by", type_=t.BigInteger()))
        names = (
            [c.name for c in live.c] + (["revision"] if with_revision_of is not None else []) + ["closed_by"]
        )
        chosen = (
            select(*columns).select_from(source).where(executor.ids_match(dialect_name, live.c[where_column]))
        )
        return insert(history).from_select(names, chosen)

    return build


class OutOfOrderWrite(AbortedError):
    """A row this transaction is about to version was changed by a change newer than its own.

    Change ids are handed out in order, and each version of a row must be closed by a
    later change than the one that wrote it (``change_id <= c < closed_by``). A
    transaction that recorded its change, then waited for a row another writer
    changed and committed meanwhile with a newer change id, cannot version that row
    without breaking the order: it rolls back instead. The store runs a single write
    call again (``store_history.in_order``: it then records a newer change); a unit of
    work of several calls (``store.transaction()``) answers ABORTED, as for a deadlock,
    to be retried.
    """


def locks_rows(connection: executor.AnyConnection) -> bool:
    """Whether writers of one row must lock it (PostgreSQL, MySQL); SQLite has one writer at a time."""
    return connection.dialect.name != "sqlite"


def lock_versions(connection: executor.AnyConnection, table: Table, ids: Sequence[int]) -> None:
    """Lock rows ``ids`` of the versioned ``table`` until this write transaction ends.

    Call it before reading what an update or a deletion will change: concurrent
    writers of one row then take turns, each reading (and versioning) what the one
    before it committed. Rows already held are not locked again. Locking before the
    transaction records its change (the first write, :func:`change_id`) gives it a
    change newer than every version it replaces; a lock taken after that fails with
    :class:`OutOfOrderWrite` when a row it waited for was changed by a newer change.
    SQLite has one writer at a time: nothing to do.
    """
    if not ids or not locks_rows(connection):
        return
    pending: _Pending | None = getattr(connection, "info", {}).get(_PENDING)
    held = pending.locked.setdefault(table.name, set()) if pending is not None else set()
    wanted = sorted({int(i) for i in ids} - held)
    if not wanted:
        return
    rows = executor.fetch(
        connection,
        ("history.lock_versions", table.name),
        lambda d: (
            select(table.c.id, table.c.change_id)
            .where(executor.ids_match(d, table.c.id))
            .order_by(table.c.id)
            .with_for_update()
        ),
        {"ids": executor.ids_param(connection, wanted)},
    )
    held.update(wanted)
    if pending is not None and pending.keep and pending.change_id:
        newer = sorted(row_id for row_id, row_change in rows if row_change > pending.change_id)
        if newer:
            raise OutOfOrderWrite(
                f"a concurrent write changed {table.name} row {newer[0]} while this transaction was "
                "writing; nothing was written: retry the transaction"
            )


def close_node_versions(
    connection: executor.AnyConnection, kind: NodeKind, ids: Sequence[int], closed_by: int
) -> None:
    """Copy the current versions of nodes ``ids`` (rows and properties) to history, ended by change ``closed_by``.

    Call it before the nodes are updated or deleted, inside the same transaction.
    """
    if not ids or not _keeping(connection):
        return
    params = {"ids": executor.ids_param(connection, ids), "closed_by": closed_by}
    lock_versions(connection, kind.table, ids)
    executor.fetch(connection, ("history.close", kind.name), _copy_rows(kind.table, "id"), params)
    executor.fetch(
        connection,
        ("history.close_properties", kind.name),
        _copy_rows(kind.properties, kind.owner_column, with_revision_of=kind.table),
        params,
    )


def close_type_versions(connection: executor.AnyConnection, type_ids: Sequence[int], closed_by: int) -> None:
    """Copy the current versions of types ``type_ids`` (rows and properties) to history."""
    if not type_ids or not _keeping(connection):
        return
    params = {"ids": executor.ids_param(connection, type_ids), "closed_by": closed_by}
    lock_versions(connection, t.types, type_ids)
    executor.fetch(connection, ("history.close_types",), _copy_rows(t.types, "id"), params)
    executor.fetch(
        connection,
        ("history.close_type_properties",),
        _copy_rows(t.type_properties, "type_id", with_revision_of=t.types),
        params,
    )


def bump_revisions(
    connection: executor.AnyConnection,
    table: Table,
    properties: Table,
    owner_column: str,
    ids: Sequence[int],
    change_id: int,
) -> None:
    """Give rows ``ids`` of ``table`` their next revision, written by ``change_id`` (their properties too)."""
    if not ids or not _keeping(connection):
        return
    params = {"ids": executor.ids_param(connection, ids), "change": change_id}
    executor.fetch(
        connection,
        ("history.bump", table.name),
        lambda d: (
            update(table)
            .where(executor.ids_match(d, table.c.id))
            .values(revision=table.c.revision + 1, change_id=bindparam("change"))
        ),
        params,
    )
    stamp_properties(connection, properties, owner_column, ids, change_id)


def stamp_properties(
    connection: executor.AnyConnection,
    properties: Table,
    owner_column: str,
    ids: Sequence[int],
    change_id: int,
) -> None:
    """Mark every property row of owners ``ids`` as part of their version written by ``change_id``."""
    if not ids or not _keeping(connection):
        return
    params = {"ids": executor.ids_param(connection, ids), "change": change_id}
    executor.fetch(
        connection,
        ("history.stamp", properties.name),
        lambda d: (
            update(properties)
            .where(executor.ids_match(d, properties.c[owner_column]))
            .values(change_id=bindparam("change"))
        ),
        params,
    )


# Link tables and the columns naming a node of each kind.
_LINK_ENDS: dict[str, tuple[tuple[Table, str], ...]] = {
    "artifact": ((t.events, "artifact_id"), (t.attributions, "artifact_id")),
    "execution": ((t.events, "execution_id"), (t.associations, "execution_id")),
    "context": (
        (t.attributions, "context_id"),
        (t.associations, "context_id"),
        (t.parent_contexts, "child_id"),
        (t.parent_contexts, "parent_id"),
    ),
}


def close_links(
    connection: executor.AnyConnection, kind: NodeKind, ids: Sequence[int], closed_by: int
) -> None:
    """Copy the events and links touching nodes ``ids`` to history (before the nodes are deleted).

    A link between two nodes deleted by the same change is copied once.
    """
    if not ids or not _keeping(connection):
        return
    params = {"ids": executor.ids_param(connection, ids), "closed_by": closed_by}
    for live, column in _LINK_ENDS[kind.name]:
        history = t.HISTORY_TABLES[live]
        key = [c for c in live.primary_key.columns]

        def build(
            dialect_name: str, live: Table = live, column: str = column, history: Table = history, key=key
        ):
            names = [c.name for c in live.c] + ["closed_by"]
            already = select(literal(1)).where(*(history.c[c.name] == c for c in key))
            chosen = select(*live.c, bindparam("closed_by", type_=t.BigInteger())).where(
                executor.ids_match(dialect_name, live.c[column]), ~already.exists()
            )
            return insert(history).from_select(names, chosen)

        executor.fetch(connection, ("history.close_links", live.name, column), build, params)


# --- reading as of a moment -----------------------------------------------------------------------


@dataclass(frozen=True)
class AsOf:
    """A past moment: the last change recorded by then, and the time itself (ms since the epoch)."""

    change_id: int
    ms: int


_AS_OF: contextvars.ContextVar[AsOf | None] = contextvars.ContextVar("mlineage_as_of", default=None)


@contextlib.contextmanager
def reading_as_of(point: AsOf) -> Iterator[AsOf]:
    """Run the store's reads inside the block as of ``point`` (see the module's docstring)."""
    token = _AS_OF.set(point)
    try:
        with executor.rewriting(executor.Rewrite(("as_of",), as_of_statement, as_of_params(point))):
            yield point
    finally:
        _AS_OF.reset(token)


def active_as_of() -> AsOf | None:
    return _AS_OF.get()


def _slice(live: Table, *, existed: bool = False) -> Any:
    """The rows of ``live`` valid at change ``:h_change`` (time ``:h_ms`` for rows older than history).

    ``existed``: the rows written by then, removed since or not (a walk through deleted nodes).
    """
    history = t.HISTORY_TABLES[live]
    change = bindparam("h_change", type_=t.BigInteger())
    moment = bindparam("h_ms", type_=t.BigInteger())

    def began(table: Table) -> Any:
        if "create_time_since_epoch" in table.c:
            return and_(
                table.c.change_id <= change,
                or_(table.c.change_id > 0, table.c.create_time_since_epoch <= moment),
            )
        return table.c.change_id <= change

    current = select(*live.c).where(began(live))
    past = select(*(history.c[c.name] for c in live.c)).where(
        began(history) if existed else and_(began(history), history.c.closed_by > change)
    )
    return union_all(current, past).subquery(f"{live.name}_asof")


_ADAPTERS: dict[bool, ClauseAdapter] = {}


def _adapter(*, deleted_edges: bool = False) -> ClauseAdapter:
    """Every versioned table replaced by its slice; ``deleted_edges``: events by those written by then."""
    found = _ADAPTERS.get(deleted_edges)
    if found is None:
        adapter: ClauseAdapter | None = None
        for live in t.HISTORY_TABLES:
            step = ClauseAdapter(_slice(live, existed=deleted_edges and live is t.events))
            adapter = step if adapter is None else adapter.chain(step)
        assert adapter is not None
        found = _ADAPTERS[deleted_edges] = adapter
    return found


def as_of_statement(statement: Any) -> Any:
    """``statement`` with every versioned table replaced by its slice (parameters ``h_change``, ``h_ms``)."""
    return _adapter().traverse(statement)


def as_of_params(point: AsOf) -> dict[str, int]:
    return {"h_change": point.change_id, "h_ms": point.ms}


def resolve(connection: executor.AnyConnection, ms: int, namespace: str, now_ms: int) -> AsOf:
    """The moment ``ms`` as an :class:`AsOf`; INVALID_ARGUMENT if it is in the future or before the store existed."""
    if ms > now_ms:
        raise InvalidArgumentError(f"as_of {ms} is in the future (the server's time is {now_ms})")
    changes = t.changes
    (row,) = executor.fetch(
        connection,
        ("history.resolve",),
        lambda _d: select(
            select(func.max(changes.c.id)).where(changes.c.recorded_ms <= bindparam("ms")).scalar_subquery(),
            select(func.min(changes.c.recorded_ms)).scalar_subquery(),
            select(func.min(t.artifacts.c.create_time_since_epoch)).scalar_subquery(),
            select(func.min(t.executions.c.create_time_since_epoch)).scalar_subquery(),
            select(func.min(t.contexts.c.create_time_since_epoch)).scalar_subquery(),
        ),
        {"ms": ms},
    )
    last_change, first_change_ms, *created = row
    known = [value for value in (first_change_ms, *created) if value is not None]
    began = min(known) if known else None
    if began is None or ms < began:
        since = f"; its first record is from {began}" if began is not None else "; it holds no records yet"
        raise InvalidArgumentError(f"as_of {ms} is before the store existed{since}")
    return AsOf(change_id=int(last_change or 0), ms=ms)


# --- history of one node --------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    """One version of a node: its revision, the change that wrote it, the change that ended it (None: current)."""

    revision: int
    change_id: int
    closed_by: int | None
    create_time_ms: int | None


@dataclass(frozen=True)
class ChangeRow:
    id: int
    recorded_ms: int
    surface: str
    actor: str | None
    peer: str | None


def versions_of(connection: executor.AnyConnection, table: Table, node_id: int) -> list[VersionRow]:
    """Every version of row ``node_id`` of ``table`` (artifacts, executions, contexts, types), oldest first."""
    history = t.HISTORY_TABLES[table]
    created = table.c.create_time_since_epoch if "create_time_since_epoch" in table.c else null()
    created_then = history.c.create_time_since_epoch if "create_time_since_epoch" in history.c else null()
    rows = executor.fetch(
        connection,
        ("history.versions", table.name),
        lambda _d: union_all(
            select(history.c.revision, history.c.change_id, history.c.closed_by, created_then).where(
                history.c.id == bindparam("id")
            ),
            select(table.c.revision, table.c.change_id, null(), created).where(table.c.id == bindparam("id")),
        ),
        {"id": node_id},
    )
    versions = [VersionRow(int(r[0]), int(r[1]), None if r[2] is None else int(r[2]), r[3]) for r in rows]
    return sorted(versions, key=lambda v: v.revision)


def changes_by_id(connection: executor.AnyConnection, change_ids: Sequence[int]) -> dict[int, ChangeRow]:
    """The ``changes`` rows ``change_ids`` by id (missing ids are absent)."""
    wanted = sorted({int(i) for i in change_ids if i})
    if not wanted:
        return {}
    changes = t.changes
    rows = executor.fetch(
        connection,
        ("history.changes",),
        lambda d: select(
            changes.c.id, changes.c.recorded_ms, changes.c.surface, changes.c.actor, changes.c.peer
        ).where(executor.ids_match(d, changes.c.id)),
        {"ids": executor.ids_param(connection, wanted)},
    )
    return {int(r[0]): ChangeRow(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows}


# --- tombstones: lineage through deleted nodes ------------------------------------------------------


def _with_deleted(live: Table) -> Any:
    history = t.HISTORY_TABLES[live]
    return union_all(select(*live.c), select(*(history.c[c.name] for c in live.c))).subquery(
        f"{live.name}_all"
    )


_DELETED_EDGES: ClauseAdapter | None = None


def _deleted_edges_adapter() -> ClauseAdapter:
    global _DELETED_EDGES
    if _DELETED_EDGES is None:
        _DELETED_EDGES = ClauseAdapter(_with_deleted(t.events))
    return _DELETED_EDGES


def any_deleted_edges(connection: executor.AnyConnection) -> bool:
    """Whether any event was removed with a deleted node (else a walk needs no tombstones)."""
    rows = executor.fetch(
        connection, ("history.any_deleted_edges",), lambda _d: select(t.events_history.c.id).limit(1), {}
    )
    return bool(rows)


@contextlib.contextmanager
def walking_deleted_edges() -> Iterator[None]:
    """Inside the block, reads of events also see the events removed with deleted nodes.

    A lineage walk made in it runs through deleted nodes (whose rows are gone), so the
    path from a model to its data does not break where something was deleted; the
    walk's deleted nodes are then answered as tombstones (:func:`tombstones`). As of a
    moment, the same holds for what was deleted by then.
    """
    point = active_as_of()
    if point is None:
        rewrite = executor.Rewrite(("deleted_edges",), _deleted_edges_adapter().traverse, {})
    else:  # as of a moment: the events written by then, and every other table as it was then
        adapter = _adapter(deleted_edges=True)
        rewrite = executor.Rewrite(("as_of", "deleted_edges"), adapter.traverse, as_of_params(point))
    with executor.rewriting(rewrite):
        yield


@dataclass(frozen=True)
class Tombstone:
    """What lineage shows of a deleted node: its kind, id, type, name and when it was deleted."""

    kind: str
    id: int
    type_id: int
    type_name: str | None
    name: str | None
    deleted_ms: int | None


def tombstones(connection: executor.AnyConnection, kind: NodeKind, ids: Sequence[int]) -> list[Tombstone]:
    """The tombstones of ``ids``, nodes absent from the state read (now, or as of the active moment):
    each one's version ended by its deletion (by that moment), in id order; ids never deleted are skipped."""
    if not ids:
        return []
    history = t.HISTORY_TABLES[kind.table]
    point = active_as_of()
    limit = point.change_id if point is not None else None

    def build(dialect_name: str) -> Any:
        all_types = _with_deleted(t.types)
        closed = executor.ids_match(dialect_name, history.c.id)
        if limit is not None:
            closed = and_(closed, history.c.closed_by <= bindparam("limit"))
        latest = (
            select(history.c.id, func.max(history.c.revision).label("revision"))
            .where(closed)
            .group_by(history.c.id)
            .subquery("latest")
        )
        return (
            select(history.c.id, history.c.type_id, all_types.c.name, history.c.name, t.changes.c.recorded_ms)
            .select_from(
                history.join(
                    latest, and_(latest.c.id == history.c.id, latest.c.revision == history.c.revision)
                )
                .outerjoin(all_types, all_types.c.id == history.c.type_id)
                .outerjoin(t.changes, t.changes.c.id == history.c.closed_by)
            )
            .order_by(history.c.id)
        )

    params: dict[str, Any] = {"ids": executor.ids_param(connection, ids)}
    if limit is not None:
        params["limit"] = limit
    # The history tables themselves, not a moment's slice of the live ones.
    with executor.rewriting(None):
        rows = executor.fetch(connection, ("history.tombstones", kind.name, limit is not None), build, params)
    found: dict[int, Tombstone] = {}
    for node_id, type_id, type_name, name, deleted in rows:
        found.setdefault(
            int(node_id), Tombstone(kind.name, int(node_id), int(type_id), type_name, name, deleted)
        )
    return list(found.values())


# --- retention: hard removal of old history ---------------------------------------------------------

#: Every ``*_history`` table, in the order retention visits them.
HISTORY_TABLE_ORDER: tuple[Table, ...] = tuple(t.HISTORY_TABLES.values())


def _ended_before(history: Table) -> Any:
    """``history.closed_by`` is a change of namespace ``:r_namespace`` recorded before ``:r_before``."""
    changes = t.changes
    ended = select(changes.c.id).where(
        changes.c.namespace == bindparam("r_namespace"), changes.c.recorded_ms < bindparam("r_before")
    )
    return history.c.closed_by.in_(ended)


def count_history_before(
    connection: executor.AnyConnection, history: Table, namespace: str, before_ms: int
) -> int:
    """How many rows of ``history`` (a ``*_history`` table) hold versions ended, in ``namespace``,
    by a change recorded before ``before_ms``."""
    (row,) = executor.fetch(
        connection,
        ("history.count_before", history.name),
        lambda _d: select(func.count()).select_from(history).where(_ended_before(history)),
        {"r_namespace": namespace, "r_before": before_ms},
    )
    return int(row[0])


def remove_history_before(
    connection: executor.AnyConnection, history: Table, namespace: str, before_ms: int, limit: int
) -> int:
    """Hard-remove at most ``limit`` rows of ``history`` ended (in ``namespace``) by a change recorded
    before ``before_ms``; returns how many went (fewer than ``limit``: none of them is left).

    A read as of any moment from ``before_ms`` on answers as before: the rows removed were no
    longer valid then. Reads of earlier moments, node histories and lineage tombstones lose them.
    """
    key = list(history.primary_key.columns)

    def build(dialect_name: str) -> Any:
        chosen: Any = select(*key).where(_ended_before(history)).limit(bindparam("r_limit"))
        if dialect_name == "mysql":
            # MySQL takes neither LIMIT in an IN subquery nor the deleted table in one: a derived table.
            batch = chosen.subquery("batch")
            chosen = select(*(batch.c[column.name] for column in key))
        target = key[0] if len(key) == 1 else tuple_(*key)
        return delete(history).where(target.in_(chosen)).returning(key[0])

    rows = executor.fetch(
        connection,
        ("history.remove_before", history.name),
        build,
        {"r_namespace": namespace, "r_before": before_ms, "r_limit": limit},
    )
    return len(rows)
