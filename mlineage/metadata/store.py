"""metadata.Store: the one place where MLMD's rules live, over SQLite or PostgreSQL.

Every public method is one transaction: it either does all it was asked or
raises one of ``mlineage.errors`` and changes nothing. Method names and
signatures are those of ``ml_metadata.MetadataStore``; they take and return
the messages of ``mlineage.proto``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

from mlineage.errors import (
    AbortedError,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    MlineageError,
    NotFoundError,
    OutOfRangeError,
    UnimplementedError,
)
from mlineage.metadata import (
    database,
    db_errors,
    events,
    executor,
    history,
    links,
    metrics,
    namespace_scope,
    openlineage_events,
    update_masks,
    validation,
)
from mlineage.metadata import nodes as node_access
from mlineage.metadata import parent_contexts as hierarchy
from mlineage.metadata import types as type_access
from mlineage.metadata.as_of import install_read_methods
from mlineage.metadata.engine import WRITE, enable_wal, make_engine, sqlite_file
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, KINDS, NodeKind, kind_named
from mlineage.metadata.listing import decode_options, encode_token, list_rows
from mlineage.metadata.options import ListingMethods
from mlineage.metadata.replica import ReadReplica
from mlineage.metadata.store_history import HistoryMethods, in_order
from mlineage.metadata.store_purge import PurgeMethods
from mlineage.metadata.values import TYPE_NAMES, UNKNOWN, value_type
from mlineage.migrations import runner
from mlineage.proto import SYSTEM_TYPE_NAMES
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb
from mlineage.schema.tables import DEFAULT_NAMESPACE

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine


def now_ms() -> int:
    return int(time.time() * 1000)


_T = TypeVar("_T")


def _again_after_a_concurrent_insert(upsert: Callable[[], _T]) -> _T:
    """Run a type upsert; if it loses a race to insert the same new type, run it once more.

    Two servers (PostgreSQL, READ COMMITTED) can both see a type missing and
    both insert it; the loser's unique violation must not reach a caller
    registering an identical type. The second run sees the winner's row, so
    it succeeds for the same definition and fails as usual for an incompatible one.
    """
    try:
        return upsert()
    except AlreadyExistsError:
        return upsert()


class Store(ListingMethods, HistoryMethods, PurgeMethods):
    """A metadata store on one database (``sqlite:///…`` or ``postgresql://…``)."""

    def __init__(
        self,
        url: str | Engine,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        upgrade: bool = False,
        max_node_bytes: int | None = None,
        keep_history: bool = True,
        read_db: str | Engine | None = None,
        read_window_s: float | None = None,
    ) -> None:
        # History (metadata/history.py) is kept unless the operator turns it off: then writes
        # record no change and copy no replaced version (bench/history_bench.py measures the cost).
        self._keep_history = keep_history
        # The largest node (serialized) any write may leave; MLINEAGE_MAX_NODE_BYTES when not given.
        self._max_node_bytes = validation.max_node_bytes(max_node_bytes)
        self._engine = make_engine(url) if isinstance(url, str) else url
        self._write_engine = self._engine.execution_options(**{WRITE: True})
        # PostgreSQL reads run at READ COMMITTED, where each statement sees its own snapshot whether
        # or not a transaction surrounds it; in autocommit they skip the BEGIN and ROLLBACK round
        # trips (two of a get by id's four). SQLite reads keep their transaction: one snapshot.
        self._read_engine = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._engine.dialect.name == "postgresql"
            else self._engine
        )
        # SQLite has one writer at a time. Threads of this process queue on a lock (in order)
        # rather than on SQLite's busy timeout, whose retry sleeps make the wait unfair and
        # the tail latency of writes seconds long under load. PostgreSQL needs no such lock.
        self._write_lock: contextlib.AbstractContextManager = (
            threading.Lock() if self._engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self._namespace = namespace
        self._types = type_access.TypeCache()
        self._read_only_reason: str | None = None
        # The unit of work (store.transaction()) each thread has open, which its writes join.
        self._in_transaction = threading.local()
        self._open(upgrade)
        # A streaming read replica for lists and lineage (metadata/replica.py; serve --read-db).
        self._replica: ReadReplica | None = None
        if read_db is not None:
            self.use_read_replica(read_db, window_s=read_window_s)

    # --- lifecycle ------------------------------------------------------------------------------

    def _open(self, upgrade: bool) -> None:
        status = runner.schema_status(self._engine)
        state = runner.SchemaState
        if status.state is state.EMPTY:
            runner.upgrade(self._engine)
        elif status.state is state.BEHIND:
            if not upgrade:
                raise FailedPreconditionError(
                    f"the database schema is at revision {status.current}, older than this mlineage "
                    f"(revision {status.head}); run `mlineage db upgrade --db URL` (or start the server "
                    "with --upgrade) first"
                )
            runner.upgrade(self._engine)
        elif status.state is state.AHEAD:
            self._read_only_reason = (
                f"the database schema (revision {status.current}) is newer than this mlineage "
                f"(revision {status.head}); upgrade mlineage to write to it"
            )
        elif status.state is state.FOREIGN:
            raise FailedPreconditionError(
                "the database holds tables that are not an mlineage schema (an MLMD database?); "
                "it is not opened or upgraded in place: import its records into an mlineage database instead"
            )
        enable_wal(self._engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def namespace(self) -> str:
        """The caller's namespace (metadata/namespace_scope.py) inside a scope, else the store's own."""
        return namespace_scope.current() or self._namespace

    @property
    def max_node_bytes(self) -> int:
        return self._max_node_bytes

    @property
    def read_only(self) -> bool:
        return self._read_only_reason is not None

    def close(self) -> None:
        if self._replica is not None:
            self._replica.close()
        self._engine.dispose()

    def use_read_replica(
        self, url: str | Engine, *, window_s: float | None = None, wait_s: float | None = None
    ) -> None:
        """Send lists and lineage walks to a PostgreSQL streaming replica of this store's database
        (metadata/replica.py: read-your-writes within ``window_s``, waiting at most ``wait_s`` per read)."""
        if self._engine.dialect.name != "postgresql":
            raise InvalidArgumentError("a read replica needs a PostgreSQL primary (--db postgresql://…)")
        options = {"window_s": window_s, "wait_s": wait_s}
        replica = ReadReplica(url, **{k: v for k, v in options.items() if v is not None})
        replica.hold_until_replayed(self._read_engine)  # not before it has this store's schema
        if self._replica is not None:
            self._replica.close()
        self._replica = replica

    @property
    def replica(self) -> ReadReplica | None:
        """The read replica lists and lineage use (None: every read runs on the primary)."""
        return self._replica

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- transactions ---------------------------------------------------------------------------

    def transaction(self) -> contextlib.AbstractContextManager[WriteTransaction]:
        """A write unit of work: ``with store.transaction() as tx: tx.put_artifacts(...); ...``.

        Everything done through ``tx`` (and every write method of this store called
        in the same thread inside the block) is one transaction: it commits when the
        block exits normally and rolls back, changing nothing, when it raises. It takes
        the store's write lock (SQLite: one writer at a time, queued in order), maps
        database errors to ``mlineage.errors`` as every store method does, and a
        read-only store refuses it with FailedPreconditionError.

        An error raised by an operation inside the block ends the unit of work: let it
        propagate. If it is caught and the block exits normally, nothing is committed
        and FailedPreconditionError is raised at the end of the block.
        """
        return self._unit_of_work()

    @contextlib.contextmanager
    def _unit_of_work(self) -> Iterator[WriteTransaction]:
        with self._write() as connection:
            tx = WriteTransaction(self, connection)
            outer = getattr(self._in_transaction, "tx", None)
            self._in_transaction.tx = tx if outer is None else outer
            try:
                yield tx
            except BaseException:
                tx._failed = True
                raise
            finally:
                tx._open = False
                self._in_transaction.tx = outer
            if tx._failed or (outer is not None and outer._failed):
                raise FailedPreconditionError(
                    "the transaction was rolled back: an operation inside it failed (let that error propagate)"
                )

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        joined: WriteTransaction | None = getattr(self._in_transaction, "tx", None)
        if joined is not None:  # a write method called inside store.transaction(): join it
            if joined._failed:
                raise FailedPreconditionError(
                    "the transaction was rolled back: an operation inside it failed"
                )
            try:
                yield joined._connection
            except BaseException:
                joined._failed = True
                raise
            return
        if self._read_only_reason:
            raise FailedPreconditionError(self._read_only_reason)
        try:
            with self._write_lock, self._write_engine.begin() as connection:
                database.set_write_lock_timeout(connection)
                with history.write_transaction(connection, self.namespace, keep=self._keep_history):
                    yield connection
            if self._replica is not None:  # committed: this caller's next routed reads wait for it
                self._replica.note_write(self._read_engine)
        except BaseException as exc:  # e.g. a caller's own error inside store.transaction(): rolled back too
            self._types.clear()  # a rolled-back type change must not stay cached
            mapped = db_errors.write_error(exc)
            if mapped is None:
                raise
            raise mapped from None

    def _routed_engine(self, replica: bool) -> Engine:
        """The engine of a read: the replica for a routed read (lists, lineage) when one is set and
        the caller's writes are replayed there (metadata/replica.py), else the primary."""
        if not replica or self._replica is None or getattr(self._in_transaction, "tx", None) is not None:
            return self._read_engine
        engine = self._replica.choose(self._read_engine)
        if engine is not self._read_engine:
            try:  # a replica that does not answer: the primary serves
                engine.connect().close()
            except Exception:  # noqa: BLE001
                self._replica.replica_reads -= 1
                self._replica.primary_reads += 1
                return self._read_engine
        return engine

    @contextlib.contextmanager
    def _read(self, replica: bool = False) -> Iterator[Connection]:
        try:
            with self._routed_engine(replica).connect() as connection:
                # Begin now so raw-cursor reads (nodes.read_nodes) share one snapshot with the rest
                # (on SQLite; on PostgreSQL, see _read_engine, the begin sends nothing).
                connection.begin()
                yield connection
        except Exception as exc:  # e.g. a filter's text literal PostgreSQL cannot compare (a NUL)
            mapped = db_errors.read_error(exc)
            if mapped is None:
                raise
            raise mapped from None

    @contextlib.contextmanager
    def _raw_read(self) -> Iterator[executor.RawConnection]:
        """A read transaction on a pooled DBAPI connection, for reads made only of executor calls."""
        try:
            connection = executor.begin_raw_read(self._engine)
        except Exception as exc:
            raise _read_error(exc) from None
        try:
            yield connection
        except Exception as exc:
            raise _read_error(exc) from None
        finally:
            executor.end_raw_read(connection)

    def reading(self, *, replica: bool = False) -> contextlib.AbstractContextManager[Connection]:
        """A read transaction (one consistent snapshot) for layers built on the store, such as lineage;
        ``replica=True`` lets it run on the read replica (see _routed_engine)."""
        return self._read(replica)

    def reads_primary(self, connection: Connection) -> bool:
        """Whether ``connection`` (from ``reading``) reads the primary, the database ``change_token``
        watches (not the read replica)."""
        return connection.engine is self._read_engine

    def check_database(self) -> None:
        """Ask the database for one trivial answer; UNAVAILABLE when it does not answer."""
        with self._read() as connection:
            database.ping(connection)

    def change_token(self) -> database.ChangeToken | None:
        """A reader of the database's change token (equal tokens: equal data), for a cache of answers
        such as the gRPC service's by-id cache; None where the database has none (in-memory SQLite).
        The caller closes it."""
        return database.change_token(self._engine)

    @property
    def sqlite_path(self) -> Path | None:
        """The file of a SQLite store (as its URL names it); None for PostgreSQL or an in-memory database."""
        return sqlite_file(self._engine.url.render_as_string(hide_password=False))

    # --- metric series --------------------------------------------------------------------------

    def put_metric_series(self, series: Sequence[mpb.MetricSeries]) -> int:
        """Store metric points; returns how many were new (points already stored are skipped)."""
        rows = metrics.metric_rows(series, now_ms())
        if not rows:
            return 0
        with self._write() as connection:
            return metrics.insert_points(connection, rows)

    def get_metric_series(
        self, execution_ids: Sequence[int], names: Sequence[str] = ()
    ) -> list[mpb.MetricSeries]:
        """Every point of the named metrics (all when ``names`` is empty) of ``execution_ids``."""
        with self._read() as connection:
            return metrics.read_series(connection, execution_ids, names)

    # --- OpenLineage events as received ---------------------------------------------------------

    def get_openlineage_events(
        self, run_id: str | None = None, after_id: int | None = None, limit: int = 100
    ) -> list[tuple[int, str]]:
        """(id, JSON payload) of up to ``limit`` kept OpenLineage events (of one run), after ``after_id``, oldest first.

        Events are kept by ``WriteTransaction.add_openlineage_event``.
        """
        with self._read() as connection:
            return openlineage_events.read_events(connection, self.namespace, run_id, after_id, limit)

    # --- types ----------------------------------------------------------------------------------

    def _put_type(self, kind: NodeKind, message, can_add_fields: bool, can_omit_fields: bool) -> int:
        validation.check_type(kind, message)

        def upsert() -> tuple[int, bool]:
            with self._write() as connection:
                return self._upsert_type(
                    connection, kind, message, can_add_fields=can_add_fields, can_omit_fields=can_omit_fields
                )

        type_id, changed = _again_after_a_concurrent_insert(upsert)
        if changed:
            self._types.forget(type_id)
        return type_id

    def put_artifact_type(
        self,
        artifact_type: pb.ArtifactType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        return self._put_type(ARTIFACT, artifact_type, can_add_fields, can_omit_fields or can_delete_fields)

    def put_execution_type(
        self,
        execution_type: pb.ExecutionType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        return self._put_type(EXECUTION, execution_type, can_add_fields, can_omit_fields or can_delete_fields)

    def put_context_type(
        self,
        context_type: pb.ContextType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        return self._put_type(CONTEXT, context_type, can_add_fields, can_omit_fields or can_delete_fields)

    @in_order
    def put_types(
        self,
        artifact_types: Sequence[pb.ArtifactType] = (),
        execution_types: Sequence[pb.ExecutionType] = (),
        context_types: Sequence[pb.ContextType] = (),
        can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Upsert types of all three kinds atomically (MLMD's PutTypes RPC)."""
        for kind, messages in (
            (ARTIFACT, artifact_types),
            (EXECUTION, execution_types),
            (CONTEXT, context_types),
        ):
            for message in messages:
                validation.check_type(kind, message)

        def upsert() -> list[list[int]]:
            results: list[list[int]] = [[], [], []]
            with self._write() as connection:
                for slot, (kind, messages) in enumerate(
                    ((ARTIFACT, artifact_types), (EXECUTION, execution_types), (CONTEXT, context_types))
                ):
                    for message in messages:
                        type_id, _ = self._upsert_type(
                            connection,
                            kind,
                            message,
                            can_add_fields=can_add_fields,
                            can_omit_fields=can_omit_fields,
                        )
                        results[slot].append(type_id)
            return results

        results = _again_after_a_concurrent_insert(upsert)
        self._types.clear()
        return results[0], results[1], results[2]

    @staticmethod
    def _evolves(message, stored) -> bool:
        """Whether an upsert of ``message`` may change the ``stored`` type (new properties, a base type,
        an external_id): what :meth:`_upsert_type` writes, before its checks."""
        return (
            any(name not in stored.properties for name in message.properties)
            or (message.HasField("base_type") and not stored.base_type)
            or bool(message.external_id and message.external_id != stored.external_id)
        )

    def _upsert_type(
        self,
        connection: Connection,
        kind: NodeKind,
        message,
        *,
        can_add_fields: bool,
        can_omit_fields: bool,
        locked: bool = False,
    ) -> tuple[int, bool]:
        """Insert or evolve a type keyed by (name, version) with MLMD's evolution rules; returns (id, changed)."""
        _check_type_message(kind, message)
        version = message.version if message.HasField("version") else ""
        stored = type_access.find_type(connection, kind, message.name, version, self.namespace)
        if stored is None:
            return type_access.insert_type(connection, kind, message, version, self.namespace), True
        if not locked and history.locks_rows(connection) and self._evolves(message, stored):
            # Lock the type, then decide from what is stored now (another writer may have evolved it).
            type_access.lock_type(connection, stored.id)
            return self._upsert_type(
                connection, kind, message, can_add_fields=can_add_fields, can_omit_fields=can_omit_fields,
                locked=True,
            )

        given = dict(message.properties.items())
        for name, data_type in given.items():
            if name in stored.properties and stored.properties[name] != data_type:
                raise AlreadyExistsError(
                    f"Type already exists with different properties: property {name!r} of type "
                    f"{message.name!r} is {TYPE_NAMES[stored.properties[name]]}, not {TYPE_NAMES[data_type]}"
                )
        added = {name: dt for name, dt in given.items() if name not in stored.properties}
        omitted = [name for name in stored.properties if name not in given]
        if added and not can_add_fields:
            raise AlreadyExistsError(
                f"Type already exists with different properties: can_add_fields is false while the given "
                f"type {message.name!r} has more properties: {sorted(added)}"
            )
        if omitted and not can_omit_fields:
            raise AlreadyExistsError(
                f"Type already exists with different properties: can_omit_fields is false while the stored "
                f"type {message.name!r} has more properties: {sorted(omitted)}"
            )
        if message.HasField("base_type") and stored.base_type and message.base_type != stored.base_type:
            raise UnimplementedError("base_type update is not supported yet")

        # As MLMD: an update may give a type its base type or a new external_id; the
        # description stays as first stored, and an empty external_id changes nothing.
        updates: dict[str, object] = {}
        if message.HasField("base_type") and not stored.base_type:
            updates["base_type"] = message.base_type
        if message.external_id and message.external_id != stored.external_id:
            updates["external_id"] = message.external_id
        if not added and not updates:
            return stored.id, False
        type_access.evolve_type(connection, stored.id, added, updates)
        return stored.id, True

    def _get_type(self, kind: NodeKind, type_name: str, type_version: str | None):
        if not validation.storable(type_name) or not validation.storable(type_version or ""):
            type_access.raise_type_not_found(kind, type_name, type_version)
        with self._read() as connection:
            return type_access.get_type(
                connection, kind, type_name, type_version, self.namespace
            ).to_message()

    def get_artifact_type(self, type_name: str, type_version: str | None = None) -> pb.ArtifactType:
        return self._get_type(ARTIFACT, type_name, type_version)

    def get_execution_type(self, type_name: str, type_version: str | None = None) -> pb.ExecutionType:
        return self._get_type(EXECUTION, type_name, type_version)

    def get_context_type(self, type_name: str, type_version: str | None = None) -> pb.ContextType:
        return self._get_type(CONTEXT, type_name, type_version)

    def _get_types(self, kind: NodeKind) -> list:
        with self._read() as connection:
            return [
                info.to_message() for info in type_access.types_of_kind(connection, kind, self.namespace)
            ]

    def list_types(self, kind: NodeKind | str) -> list:
        """Every type of a kind (a NodeKind or its name), whole: mlineage's own listing (REST's)."""
        return self._get_types(kind if isinstance(kind, NodeKind) else kind_named(kind))

    def _mlmd_types(self, kind: NodeKind) -> list:
        # As MLMD: its listing of all types (FindTypes) answers them without their external_id,
        # which its reads by name, id and external id do answer.
        types = self._get_types(kind)
        for message in types:
            message.ClearField("external_id")
        return types

    def get_artifact_types(self) -> list[pb.ArtifactType]:
        return self._mlmd_types(ARTIFACT)

    def get_execution_types(self) -> list[pb.ExecutionType]:
        return self._mlmd_types(EXECUTION)

    def get_context_types(self) -> list[pb.ContextType]:
        return self._mlmd_types(CONTEXT)

    def _get_types_by_id(self, kind: NodeKind, type_ids: Sequence[int]) -> list:
        with self._raw_read() as connection:
            return [info.to_message() for info in type_access.types_by_ids(connection, kind, list(type_ids))]

    def get_artifact_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ArtifactType]:
        return self._get_types_by_id(ARTIFACT, type_ids)

    def get_execution_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ExecutionType]:
        return self._get_types_by_id(EXECUTION, type_ids)

    def get_context_types_by_id(self, type_ids: Sequence[int]) -> list[pb.ContextType]:
        return self._get_types_by_id(CONTEXT, type_ids)

    @staticmethod
    def _check_external_ids(external_ids: Sequence[str]) -> None:
        if any(not external_id for external_id in external_ids):
            raise InvalidArgumentError("Invalid argument because at least one empty external_id exists.")

    def _get_types_by_external_ids(self, kind: NodeKind, external_ids: Sequence[str]) -> list:
        if not external_ids:
            return []
        self._check_external_ids(external_ids)
        wanted = [external_id for external_id in external_ids if validation.storable(external_id)]
        with self._read() as connection:
            infos = type_access.types_by_external_ids(connection, kind, wanted, self.namespace)
        if not infos:
            raise NotFoundError("No types found for external_ids.")  # as MLMD: none at all is NOT_FOUND
        return [info.to_message() for info in infos]

    def get_artifact_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ArtifactType]:
        return self._get_types_by_external_ids(ARTIFACT, external_ids)

    def get_execution_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ExecutionType]:
        return self._get_types_by_external_ids(EXECUTION, external_ids)

    def get_context_types_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.ContextType]:
        return self._get_types_by_external_ids(CONTEXT, external_ids)

    # --- node writes ----------------------------------------------------------------------------

    def _node_type(self, connection: Connection, kind: NodeKind, type_id: int) -> type_access.TypeInfo:
        info = self._types.get(connection, type_id)
        if info is None or info.kind != kind.type_kind or info.namespace != self.namespace:
            raise NotFoundError(f"Cannot find type for type_id: {type_id}; no {kind.name} type has that id")
        return info

    def _check_declared_properties(
        self,
        connection: Connection,
        kind: NodeKind,
        message,
        info: type_access.TypeInfo,
        mask: Sequence[str] = (),
    ) -> None:
        """A new node's declared properties, or those an update's mask writes, must be the type's
        (name and value type); custom properties are free-form."""
        checked = message
        if mask:
            # Only the masked property keys are written; only they must match the type.
            checked = kind.message()
            checked.CopyFrom(message)
            keep = {path.split(".", 1)[1] for path in mask if path.startswith("properties.")}
            if "properties" not in mask:
                for name in list(checked.properties):
                    if name not in keep:
                        del checked.properties[name]
        problem = _property_problem(checked, info)
        if problem is not None:
            # The cached type may predate a property added by another process.
            info = self._types.refresh(connection, message.type_id) or info
            problem = _property_problem(checked, info)
        if problem is not None:
            raise InvalidArgumentError(f"Cannot validate properties of type_id {message.type_id}: {problem}")

    @staticmethod
    def _check_values_set(kind: NodeKind, message) -> None:
        """Every property and custom property of a written node holds a value."""
        for values in (message.properties, message.custom_properties):
            for name, value in values.items():
                if value.WhichOneof("value") is None:
                    raise InvalidArgumentError(f"property {name!r} of the {kind.name} has no value set")

    def _validate_new(self, connection: Connection, kind: NodeKind, message) -> None:
        if not message.type_id:
            raise InvalidArgumentError(f"{kind.title} type id is missing.")
        info = self._node_type(connection, kind, message.type_id)
        self._check_declared_properties(connection, kind, message, info)
        if kind.name_required and not message.name:
            raise InvalidArgumentError(f"{kind.title} name should not be empty")
        self._check_values_set(kind, message)

    def _upsert_nodes(
        self,
        connection: Connection,
        kind: NodeKind,
        messages: Sequence,
        mask: Sequence[str] = (),
        *,
        force_update_time: bool = False,
        now: int | None = None,
        check_update_time: bool = False,
    ) -> list[int]:
        """Insert nodes without ids and update nodes with ids; ids index-aligned with ``messages``."""
        now = now or now_ms()
        ids: list[int | None] = [None] * len(messages)
        new_positions = []
        updates = []
        names: set[tuple[int, str]] = set()
        external_ids: set[str] = set()
        for position, message in enumerate(messages):
            if message.HasField("id"):
                updates.append(position)
            else:
                self._validate_new(connection, kind, message)
                new_positions.append(position)
                # Named here, with the values; a clash with a stored node is worded by db_errors.
                if message.HasField("name"):
                    if (message.type_id, message.name) in names:
                        raise AlreadyExistsError(
                            f"Given node already exists: the request has two {kind.name}s of type_id "
                            f"{message.type_id} named {message.name!r}"
                        )
                    names.add((message.type_id, message.name))
                if message.external_id:
                    if message.external_id in external_ids:
                        raise AlreadyExistsError(
                            f"Given node already exists: the request has two {kind.name}s with external_id "
                            f"{message.external_id!r}"
                        )
                    external_ids.add(message.external_id)
        if updates:
            update_ids = [messages[p].id for p in updates]
            stored = {node.id: node for node in node_access.read_nodes(connection, kind, update_ids)}
            changed, grown = self._plan_updates(
                connection, kind, messages, updates, stored, mask, force_update_time, check_update_time
            )
            if changed and history.locks_rows(connection):
                # Lock what changes, then plan again from what is stored now: a writer that changed
                # these nodes between the read above and the lock is merged with (a masked update),
                # and the version it wrote is the one kept in history.
                locked = [current.id for current, _, _ in changed]
                history.lock_versions(connection, kind.table, locked)
                for node_id in locked:
                    stored.pop(node_id, None)
                for node in node_access.read_nodes(connection, kind, locked):
                    stored[node.id] = node
                changed, grown = self._plan_updates(
                    connection, kind, messages, updates, stored, mask, force_update_time, check_update_time
                )
            for position in updates:
                ids[position] = messages[position].id
            node_access.update_nodes(connection, kind, changed, now=now)
            if grown:
                for node in node_access.read_nodes(connection, kind, grown):
                    validation.check_node(kind, node, self._max_node_bytes)
        if new_positions:
            new_ids = node_access.insert_nodes(
                connection, kind, [messages[p] for p in new_positions], self.namespace, now
            )
            for position, node_id in zip(new_positions, new_ids, strict=True):
                ids[position] = node_id
        return ids  # type: ignore[return-value]

    def _plan_updates(
        self,
        connection: Connection,
        kind: NodeKind,
        messages: Sequence,
        updates: Sequence[int],
        stored: dict,
        mask: Sequence[str],
        force_update_time: bool,
        check_update_time: bool,
    ) -> tuple[list[tuple], list[int]]:
        """What the updates at positions ``updates`` of ``messages`` change in the ``stored`` nodes:
        ``(stored, message, changes)`` of each node that changes, and the ids of the nodes a masked
        update may have made larger than the size limit (checked once written)."""
        changed: list[tuple] = []
        grown: list[int] = []
        for position in updates:
            message = messages[position]
            current = stored.get(message.id)
            if current is None:
                raise InvalidArgumentError(f"Cannot find the given id {message.id}: no such {kind.name}")
            if message.type_id and message.type_id != current.type_id:
                raise InvalidArgumentError(
                    f"Given type_id {message.type_id} is different from the one known before: "
                    f"{current.type_id}"
                )
            if check_update_time and message.last_update_time_since_epoch != current.last_update_time_since_epoch:
                raise AbortedError(
                    f"{kind.title} {message.id} was updated at {current.last_update_time_since_epoch}, after the "
                    f"given last_update_time_since_epoch {message.last_update_time_since_epoch}; read it again"
                )
            checked = kind.message()
            checked.CopyFrom(message)
            checked.type_id = current.type_id
            self._validate_update(connection, kind, checked, mask)
            changes = update_masks.node_changes(kind, current, checked, mask)
            if changes or force_update_time:  # the update time moves only then
                changed.append((current, checked, changes))
            if mask and current.ByteSize() + checked.ByteSize() > self._max_node_bytes:
                grown.append(message.id)  # a masked update may make a node larger than either part
        return changed, grown

    def _validate_update(self, connection: Connection, kind: NodeKind, message, mask: Sequence[str]) -> None:
        info = self._node_type(connection, kind, message.type_id)
        if kind.name_required and not message.name and (not mask or "name" in mask):
            raise InvalidArgumentError(f"{kind.title} name should not be empty")
        self._check_declared_properties(connection, kind, message, info, mask)
        self._check_values_set(kind, message)

    @in_order
    def put_artifacts(
        self,
        artifacts: Sequence[pb.Artifact],
        field_mask_paths: Sequence[str] | None = None,
        abort_if_latest_updated_time_changed: bool = False,
    ) -> list[int]:
        """Insert or update artifacts; ids index-aligned with the input.

        With ``abort_if_latest_updated_time_changed`` (optimistic concurrency),
        an update whose ``last_update_time_since_epoch`` differs from the stored
        one fails with AbortedError: someone else changed the artifact since it was read.
        """
        validation.check_nodes(ARTIFACT, artifacts, self._max_node_bytes)
        with self._write() as connection:
            return self._upsert_nodes(
                connection,
                ARTIFACT,
                artifacts,
                field_mask_paths or (),
                check_update_time=abort_if_latest_updated_time_changed,
            )

    @in_order
    def put_executions(
        self, executions: Sequence[pb.Execution], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        validation.check_nodes(EXECUTION, executions, self._max_node_bytes)
        with self._write() as connection:
            return self._upsert_nodes(connection, EXECUTION, executions, field_mask_paths or ())

    @in_order
    def put_contexts(
        self, contexts: Sequence[pb.Context], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        validation.check_nodes(CONTEXT, contexts, self._max_node_bytes)
        with self._write() as connection:
            return self._upsert_nodes(connection, CONTEXT, contexts, field_mask_paths or ())

    # --- edges ----------------------------------------------------------------------------------

    def _require_ids(
        self,
        connection: Connection,
        kind: NodeKind,
        ids: set[int],
        message: str,
        error: type[MlineageError] = InvalidArgumentError,
    ) -> None:
        if not ids:
            return
        missing = ids - node_access.existing_ids(connection, kind, ids)
        if missing:
            raise error(message.format(id=min(missing)))

    def _insert_events(
        self,
        connection: Connection,
        event_list: Sequence[pb.Event],
        now: int,
        *,
        known_artifacts: set[int] | frozenset[int] = frozenset(),
        known_executions: set[int] | frozenset[int] = frozenset(),
    ) -> None:
        """Insert events; ``known_*`` are ids this transaction just wrote (no need to look them up)."""
        if not event_list:
            return
        for event in event_list:
            if not event.HasField("artifact_id") or not event.HasField("execution_id"):
                raise InvalidArgumentError("An event needs both artifact_id and execution_id.")
            if not event.type:
                raise InvalidArgumentError("No event type is specified.")
            if event.type not in pb.Event.Type.values():
                raise InvalidArgumentError(f"unknown event type {event.type}")
        self._require_ids(
            connection,
            ARTIFACT,
            {e.artifact_id for e in event_list} - set(known_artifacts),
            "No artifact with the given id {id}",
        )
        self._require_ids(
            connection,
            EXECUTION,
            {e.execution_id for e in event_list} - set(known_executions),
            "No execution with the given id {id}",
        )
        seen = set()
        for event in event_list:
            key = (event.artifact_id, event.execution_id, event.type)
            if key in seen:
                raise AlreadyExistsError(f"Given event already exists: {key} appears twice in the request")
            seen.add(key)
        events.insert_events(connection, [events.event_row(event, now) for event in event_list])

    def put_events(self, events: Sequence[pb.Event]) -> None:
        with self._write() as connection:
            self._insert_events(connection, events, now_ms())

    @staticmethod
    def _link(connection: Connection, kind: NodeKind, context_ids: Sequence[int], ids: Sequence[int]) -> None:
        """Link every node of ``ids`` (of ``kind``) to every context of ``context_ids`` (MLMD: a no-op when present)."""
        links.link(connection, kind, ((c, i) for c in context_ids for i in ids))

    def put_attributions_and_associations(
        self, attributions: Sequence[pb.Attribution], associations: Sequence[pb.Association]
    ) -> None:
        with self._write() as connection:
            self._require_ids(
                connection,
                CONTEXT,
                {a.context_id for a in attributions} | {a.context_id for a in associations},
                "Context id not found: {id}",
            )
            self._require_ids(
                connection, ARTIFACT, {a.artifact_id for a in attributions}, "Artifact id not found: {id}"
            )
            self._require_ids(
                connection, EXECUTION, {a.execution_id for a in associations}, "Execution id not found: {id}"
            )
            by_context: dict[int, list[int]] = {}
            for attribution in attributions:
                by_context.setdefault(attribution.context_id, []).append(attribution.artifact_id)
            for context_id, artifact_ids in by_context.items():
                self._link(connection, ARTIFACT, [context_id], artifact_ids)
            by_context = {}
            for association in associations:
                by_context.setdefault(association.context_id, []).append(association.execution_id)
            for context_id, execution_ids in by_context.items():
                self._link(connection, EXECUTION, [context_id], execution_ids)

    def put_parent_contexts(self, parent_contexts: Sequence[pb.ParentContext]) -> None:
        with self._write() as connection:
            # Serialise hierarchy changes so two concurrent calls cannot close a cycle together.
            hierarchy.lock_hierarchy(connection)
            for edge in parent_contexts:
                if not edge.HasField("child_id") or not edge.HasField("parent_id"):
                    raise InvalidArgumentError("A parent context needs both child_id and parent_id.")
            self._require_ids(
                connection,
                CONTEXT,
                {e.child_id for e in parent_contexts} | {e.parent_id for e in parent_contexts},
                "Given parent / child id in the parent_context cannot be found: {id}",
            )
            for edge in parent_contexts:
                if edge.child_id == edge.parent_id:
                    raise InvalidArgumentError(
                        f"There is a cycle detected of the given relationship: context {edge.child_id} "
                        "cannot be its own parent"
                    )
                if hierarchy.edge_exists(connection, edge.child_id, edge.parent_id):
                    raise AlreadyExistsError(
                        f"Given parent_context already exists: child_id {edge.child_id}, parent_id {edge.parent_id}"
                    )
                if edge.child_id in hierarchy.ancestors(connection, edge.parent_id):
                    raise InvalidArgumentError(
                        f"There is a cycle detected of the given relationship: context {edge.child_id} is "
                        f"already an ancestor of context {edge.parent_id}"
                    )
                hierarchy.insert_edge(connection, edge.child_id, edge.parent_id)

    # --- composite writes -----------------------------------------------------------------------

    def _upsert_contexts_reusing(
        self,
        connection: Connection,
        contexts: Sequence[pb.Context],
        *,
        reuse_if_exists: bool,
        force_reuse: bool,
        now: int,
    ) -> list[int]:
        ids = []
        for context in contexts:
            if context.HasField("id") and force_reuse:
                # MLMD answers NOT_FOUND here (the context is looked up, not written).
                self._require_ids(
                    connection, CONTEXT, {context.id}, "Cannot find the given context id {id}", NotFoundError
                )
                ids.append(context.id)
                continue
            if not context.HasField("id") and reuse_if_exists:
                existing = node_access.context_id_by_type_and_name(connection, context.type_id, context.name)
                if existing is not None:
                    ids.append(existing)
                    continue
                try:
                    with executor.savepoint(connection):
                        ids.extend(self._upsert_nodes(connection, CONTEXT, [context], now=now))
                except AlreadyExistsError:
                    raise
                except Exception as exc:
                    if not db_errors.is_conflict(exc):
                        raise
                    # Another writer created it between our look-up and insert: reuse theirs.
                    existing = node_access.context_id_by_type_and_name(
                        connection, context.type_id, context.name
                    )
                    if existing is None:
                        raise
                    ids.append(existing)
                continue
            ids.extend(self._upsert_nodes(connection, CONTEXT, [context], now=now))
        return ids

    def _reuse_artifacts_by_external_id(
        self, connection: Connection, artifacts: Sequence[pb.Artifact]
    ) -> list:
        """Copies of ``artifacts`` where a new artifact whose external_id exists takes that artifact's id."""
        wanted = [a.external_id for a in artifacts if not a.HasField("id") and a.external_id]
        if not wanted:
            return list(artifacts)
        found = node_access.artifact_ids_by_external_ids(connection, self.namespace, wanted)
        result = []
        for artifact in artifacts:
            if not artifact.HasField("id") and artifact.external_id in found:
                copy = pb.Artifact()
                copy.CopyFrom(artifact)
                copy.id = found[artifact.external_id]
                result.append(copy)
            else:
                result.append(artifact)
        return result

    @in_order
    def put_execution(
        self,
        execution: pb.Execution,
        artifact_and_events: Sequence[tuple[pb.Artifact | None, pb.Event | None]],
        contexts: Sequence[pb.Context],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
        force_reuse_context: bool = False,
        force_update_time: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        """Record one execution with its artifacts, events and contexts in one transaction."""
        pairs = [tuple(pair) + (None,) * (2 - len(pair)) for pair in artifact_and_events]
        validation.check_node(EXECUTION, execution, self._max_node_bytes)
        validation.check_nodes(
            ARTIFACT, [artifact for artifact, _ in pairs if artifact is not None], self._max_node_bytes
        )
        validation.check_nodes(CONTEXT, contexts, self._max_node_bytes)
        now = now_ms()
        with self._write() as connection:
            [execution_id] = self._upsert_nodes(
                connection, EXECUTION, [execution], force_update_time=force_update_time, now=now
            )
            artifacts = [artifact for artifact, _ in pairs if artifact is not None]
            if reuse_artifact_if_already_exist_by_external_id:
                artifacts = self._reuse_artifacts_by_external_id(connection, artifacts)
            artifact_ids = self._upsert_nodes(connection, ARTIFACT, artifacts, now=now)
            events = []
            position = 0
            all_artifact_ids = []
            for artifact, event in pairs:
                if artifact is not None:
                    artifact_id = artifact_ids[position]
                    position += 1
                elif event is not None and event.HasField("artifact_id"):
                    # A pair without artifact names a stored one through its event (MLMD returns and
                    # attributes that id too, keeping artifact_ids index-aligned with the pairs).
                    artifact_id = event.artifact_id
                elif event is not None:
                    raise InvalidArgumentError(
                        "If no artifact is present, the given event must have an artifact_id"
                    )
                else:
                    continue
                all_artifact_ids.append(artifact_id)
                if event is not None:
                    events.append(self._bind_event(event, artifact_id, execution_id))
            self._insert_events(
                connection, events, now, known_artifacts=set(artifact_ids), known_executions={execution_id}
            )
            context_ids = self._upsert_contexts_reusing(
                connection,
                contexts,
                reuse_if_exists=reuse_context_if_already_exist,
                force_reuse=force_reuse_context,
                now=now,
            )
            self._link(connection, EXECUTION, context_ids, [execution_id])
            self._link(connection, ARTIFACT, context_ids, all_artifact_ids)
        return execution_id, all_artifact_ids, context_ids

    @staticmethod
    def _bind_event(event: pb.Event, artifact_id: int | None, execution_id: int) -> pb.Event:
        bound = pb.Event()
        bound.CopyFrom(event)
        if artifact_id is not None:
            if event.HasField("artifact_id") and event.artifact_id != artifact_id:
                raise InvalidArgumentError(
                    f"Request's event.artifact_id {event.artifact_id} does not match the artifact's id {artifact_id}"
                )
            bound.artifact_id = artifact_id
        if event.HasField("execution_id") and event.execution_id != execution_id:
            raise InvalidArgumentError(
                f"Request's event.execution_id {event.execution_id} does not match the execution's id {execution_id}"
            )
        bound.execution_id = execution_id
        return bound

    @in_order
    def put_lineage_subgraph(
        self,
        executions: Sequence[pb.Execution],
        artifacts: Sequence[pb.Artifact],
        contexts: Sequence[pb.Context],
        event_edges: Sequence[tuple[int | None, int | None, pb.Event]],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Record executions, artifacts, contexts and the events between them in one transaction."""
        validation.check_nodes(EXECUTION, executions, self._max_node_bytes)
        validation.check_nodes(ARTIFACT, artifacts, self._max_node_bytes)
        validation.check_nodes(CONTEXT, contexts, self._max_node_bytes)
        now = now_ms()
        for execution_index, artifact_index, event in event_edges:
            # An edge names each end by index into the request or, without one, by the event's id.
            for index, nodes, end in (
                (execution_index, executions, EXECUTION),
                (artifact_index, artifacts, ARTIFACT),
            ):
                field = end.name
                if index is None:
                    if not event.HasField(f"{field}_id"):
                        raise InvalidArgumentError(
                            f"Event_edge is missing an {field}: it has neither an {field}_index nor an "
                            f"event.{field}_id"
                        )
                elif not 0 <= index < len(nodes):
                    raise OutOfRangeError(
                        f"The event_edge has an {field}_index {index} that is outside the bounds of the "
                        f"request's {field}s list, [0, {len(nodes)})"
                    )
        with self._write() as connection:
            context_ids = self._upsert_contexts_reusing(
                connection,
                contexts,
                reuse_if_exists=reuse_context_if_already_exist,
                force_reuse=False,
                now=now,
            )
            if reuse_artifact_if_already_exist_by_external_id:
                artifacts = self._reuse_artifacts_by_external_id(connection, artifacts)
            artifact_ids = self._upsert_nodes(connection, ARTIFACT, artifacts, now=now)
            execution_ids = self._upsert_nodes(connection, EXECUTION, executions, now=now)
            events = []
            for execution_index, artifact_index, event in event_edges:
                artifact_id = (
                    artifact_ids[artifact_index] if artifact_index is not None else event.artifact_id
                )
                execution_id = (
                    execution_ids[execution_index] if execution_index is not None else event.execution_id
                )
                events.append(self._bind_event(event, artifact_id, execution_id))
            self._insert_events(
                connection,
                events,
                now,
                known_artifacts=set(artifact_ids),
                known_executions=set(execution_ids),
            )
            self._link(connection, ARTIFACT, context_ids, artifact_ids)
            self._link(connection, EXECUTION, context_ids, execution_ids)
        return execution_ids, artifact_ids, context_ids

    # --- node reads -----------------------------------------------------------------------------

    def _by_ids(self, kind: NodeKind, ids: Sequence[int]) -> list:
        # MLMD answers in id order, each node once, whatever the order asked.
        with self._raw_read() as connection:
            return node_access.read_nodes(connection, kind, sorted({int(i) for i in ids}))

    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[pb.Artifact]:
        return self._by_ids(ARTIFACT, artifact_ids)

    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[pb.Execution]:
        return self._by_ids(EXECUTION, execution_ids)

    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[pb.Context]:
        return self._by_ids(CONTEXT, context_ids)

    def get_artifacts_and_types_by_artifact_ids(
        self, artifact_ids: Sequence[int]
    ) -> list[tuple[pb.Artifact, pb.ArtifactType]]:
        with self._raw_read() as connection:
            artifacts = node_access.read_nodes(connection, ARTIFACT, artifact_ids)
            types = {
                info.id: info.to_message()
                for info in type_access.types_by_ids(
                    connection, ARTIFACT, sorted({a.type_id for a in artifacts})
                )
            }
        return [(artifact, types[artifact.type_id]) for artifact in artifacts]

    def _by_external_ids(self, kind: NodeKind, external_ids: Sequence[str]) -> list:
        if not external_ids:
            return []
        self._check_external_ids(external_ids)
        wanted = [external_id for external_id in external_ids if validation.storable(external_id)]
        with self._read() as connection:
            found = node_access.nodes_by_external_ids(connection, kind, self.namespace, wanted)
        if not found:
            raise NotFoundError(
                f"No {kind.name}s found for external_ids."
            )  # as MLMD: none at all is NOT_FOUND
        return found

    def get_artifacts_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Artifact]:
        return self._by_external_ids(ARTIFACT, external_ids)

    def get_executions_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Execution]:
        return self._by_external_ids(EXECUTION, external_ids)

    def get_contexts_by_external_ids(self, external_ids: Sequence[str]) -> list[pb.Context]:
        return self._by_external_ids(CONTEXT, external_ids)

    def get_artifacts_by_uri(self, uri: str | Sequence[str]) -> list[pb.Artifact]:
        uris = [u for u in ([uri] if isinstance(uri, str) else uri) if validation.storable(u)]
        if not uris:
            return []
        with self._read() as connection:
            return node_access.artifacts_by_uris(connection, self.namespace, uris)

    def _by_type_and_name(self, kind: NodeKind, type_name: str, name: str, type_version: str | None):
        if not all(validation.storable(text) for text in (type_name, name, type_version or "")):
            return None
        with self._read() as connection:
            info = type_access.find_type(connection, kind, type_name, type_version, self.namespace)
            if info is None:
                return None
            return node_access.node_by_type_and_name(connection, kind, info.id, name)

    def get_artifact_by_type_and_name(
        self, type_name: str, artifact_name: str, type_version: str | None = None
    ) -> pb.Artifact | None:
        return self._by_type_and_name(ARTIFACT, type_name, artifact_name, type_version)

    def get_execution_by_type_and_name(
        self, type_name: str, execution_name: str, type_version: str | None = None
    ) -> pb.Execution | None:
        return self._by_type_and_name(EXECUTION, type_name, execution_name, type_version)

    def get_context_by_type_and_name(
        self, type_name: str, context_name: str, type_version: str | None = None
    ) -> pb.Context | None:
        return self._by_type_and_name(CONTEXT, type_name, context_name, type_version)

    # --- listing --------------------------------------------------------------------------------

    def list_nodes(
        self,
        kind_name: str,
        options: pb.ListOperationOptions | None = None,
        *,
        type_name: str | None = None,
        type_version: str | None = None,
        context_id: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list, str]:
        """One page of nodes of a kind, optionally of one type or in one context.

        ``options=None`` returns every match and no token (as MLMD does for a
        request without options); otherwise at most ``max_result_size`` rows
        and a ``next_page_token`` when more remain. With ``max_bytes`` the page
        is cut, with a token, where the serialized nodes would pass that many
        bytes (at least one node is always returned): MLMD's clients follow
        the token, with or without options.
        """
        kind = KINDS[kind_name]
        scope = f"{kind_name}:type={type_name}:{type_version}:context={context_id}"
        request = decode_options(options, scope)
        type_id: int | None = None
        if type_name is not None and not validation.storable(type_name + (type_version or "")):
            return [], ""
        with self._read(replica=True) as connection:
            if type_name is not None:
                info = type_access.find_type(connection, kind, type_name, type_version, self.namespace)
                if info is None:
                    return [], ""
                type_id = info.id
            if context_id is not None and kind is CONTEXT:
                raise InvalidArgumentError("contexts cannot be listed by context")
            rows = list_rows(
                connection, kind, request, self.namespace, type_id=type_id, context_id=context_id
            )
            token = ""
            if request.page_size is not None and len(rows) > request.page_size:
                rows = rows[: request.page_size]
                last = rows[-1]
                position = SimpleNamespace(
                    id=last[0], create_time_since_epoch=last[5], last_update_time_since_epoch=last[6]
                )
                token = encode_token(request, scope, position)
            messages = node_access.rows_to_messages(connection, kind, rows)
        if max_bytes is not None:
            fitting = _fitting(messages, max_bytes)
            if fitting < len(messages):
                del messages[fitting:]
                token = encode_token(request, scope, messages[-1])
        return messages, token

    # --- neighbourhood reads --------------------------------------------------------------------

    def _contexts_of(self, kind: NodeKind, node_id: int) -> list[pb.Context]:
        with self._read() as connection:
            contexts = links.contexts_of(connection, kind, node_id)
        if not contexts:
            # MLMD answers NOT_FOUND, not an empty list, for a node in no context (or no such node).
            raise NotFoundError(f"No contexts found for {kind.owner_column}: {node_id}")
        return contexts

    def get_contexts_by_artifact(self, artifact_id: int) -> list[pb.Context]:
        return self._contexts_of(ARTIFACT, artifact_id)

    def get_contexts_by_execution(self, execution_id: int) -> list[pb.Context]:
        return self._contexts_of(EXECUTION, execution_id)

    def _related_contexts(self, context_ids: Sequence[int], *, parents: bool) -> dict[int, list[pb.Context]]:
        ids = list(dict.fromkeys(context_ids))
        result: dict[int, list[pb.Context]] = {i: [] for i in ids}
        with self._read() as connection:
            pairs = hierarchy.related(connection, ids, parents=parents)
            contexts = {
                c.id: c for c in node_access.read_nodes(connection, CONTEXT, sorted({p[1] for p in pairs}))
            }
        for source_id, target_id in sorted(pairs, key=lambda p: (p[0], p[1])):
            result[source_id].append(contexts[target_id])
        return result

    def get_parent_contexts_by_context(self, context_id: int) -> list[pb.Context]:
        return self._related_contexts([context_id], parents=True)[context_id]

    def get_children_contexts_by_context(self, context_id: int) -> list[pb.Context]:
        return self._related_contexts([context_id], parents=False)[context_id]

    def get_parent_contexts_by_contexts(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]:
        return self._related_contexts(context_ids, parents=True)

    def get_children_contexts_by_contexts(self, context_ids: Sequence[int]) -> dict[int, list[pb.Context]]:
        return self._related_contexts(context_ids, parents=False)

    def _events(self, kind: NodeKind, ids: Sequence[int]) -> list[pb.Event]:
        with self._read() as connection:
            return events.events_of_nodes(connection, kind, ids)

    def get_events_by_execution_ids(self, execution_ids: Sequence[int]) -> list[pb.Event]:
        return self._events(EXECUTION, execution_ids)

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int]) -> list[pb.Event]:
        return self._events(ARTIFACT, artifact_ids)

    # --- lineage --------------------------------------------------------------------------------

    def get_lineage_subgraph(
        self, query_options: pb.LineageSubgraphQueryOptions, field_mask_paths: Sequence[str] | None = None
    ) -> pb.LineageGraph:
        """MLMD's get_lineage_subgraph: hydrated nodes, and only the types the nodes use."""
        from mlineage.metadata.lineage_engine.mlmd import hydrated_lineage_subgraph

        return hydrated_lineage_subgraph(self, query_options, field_mask_paths)

    def lineage_page(self, **walk: Any) -> Any:
        """One page of mlineage's lineage walk, answered whole in one read (see lineage_engine.pages;
        ``mlineage.lineage.lineage`` is the readable front of it)."""
        from mlineage.metadata.lineage_engine.pages import lineage_page

        with self._read(replica=True) as connection:
            return lineage_page(connection, **walk)

    def get_lineage_graph(self, query_options: pb.LineageGraphQueryOptions) -> pb.LineageGraph:
        """The deprecated GetLineageGraph (only reachable over gRPC in MLMD)."""
        from mlineage.metadata.lineage_engine.mlmd import lineage_graph

        return lineage_graph(self, query_options)


class WriteTransaction:
    """One write unit of work on a Store, made by ``Store.transaction()``: its operations commit together.

    Each method is the store method of the same name, run inside the unit of work
    (same rules, same errors); use it only inside the ``with`` block, in the thread
    that opened it.
    """

    def __init__(self, store: Store, connection: Connection) -> None:
        self._store = store
        self._connection = connection
        self._open = True
        self._failed = False

    @property
    def store(self) -> Store:
        return self._store

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for the access-tier functions of ``mlineage.metadata``."""
        self._check_open()
        return self._connection

    def _check_open(self) -> None:
        if not self._open:
            raise FailedPreconditionError("the transaction is over: use it inside its `with` block")

    def _locked_read(self, kind: NodeKind, ids: Sequence[int]) -> list:
        """The nodes ``ids`` as this unit of work sees them, held until it ends (PostgreSQL, MySQL): a
        unit of work reads what it is about to change, and no other writer may change it in between."""
        wanted = sorted({int(i) for i in ids})
        history.lock_versions(self._connection, kind.table, wanted)
        return node_access.read_nodes(self._connection, kind, wanted)

    def put_artifact_type(
        self,
        artifact_type: pb.ArtifactType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        self._check_open()
        return self._store.put_artifact_type(
            artifact_type, can_add_fields, can_delete_fields, all_fields_match, can_omit_fields
        )

    def put_execution_type(
        self,
        execution_type: pb.ExecutionType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        self._check_open()
        return self._store.put_execution_type(
            execution_type, can_add_fields, can_delete_fields, all_fields_match, can_omit_fields
        )

    def put_context_type(
        self,
        context_type: pb.ContextType,
        can_add_fields: bool = False,
        can_delete_fields: bool = False,
        all_fields_match: bool = True,
        can_omit_fields: bool = False,
    ) -> int:
        self._check_open()
        return self._store.put_context_type(
            context_type, can_add_fields, can_delete_fields, all_fields_match, can_omit_fields
        )

    def put_types(
        self,
        artifact_types: Sequence[pb.ArtifactType] = (),
        execution_types: Sequence[pb.ExecutionType] = (),
        context_types: Sequence[pb.ContextType] = (),
        can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        self._check_open()
        return self._store.put_types(
            artifact_types, execution_types, context_types, can_add_fields, can_omit_fields
        )

    def put_artifacts(
        self,
        artifacts: Sequence[pb.Artifact],
        field_mask_paths: Sequence[str] | None = None,
        abort_if_latest_updated_time_changed: bool = False,
    ) -> list[int]:
        self._check_open()
        return self._store.put_artifacts(artifacts, field_mask_paths, abort_if_latest_updated_time_changed)

    def put_executions(
        self, executions: Sequence[pb.Execution], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        self._check_open()
        return self._store.put_executions(executions, field_mask_paths)

    def put_contexts(
        self, contexts: Sequence[pb.Context], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        self._check_open()
        return self._store.put_contexts(contexts, field_mask_paths)

    def put_events(self, events: Sequence[pb.Event]) -> None:
        self._check_open()
        self._store.put_events(events)

    def put_attributions_and_associations(
        self, attributions: Sequence[pb.Attribution], associations: Sequence[pb.Association]
    ) -> None:
        self._check_open()
        self._store.put_attributions_and_associations(attributions, associations)

    def put_parent_contexts(self, parent_contexts: Sequence[pb.ParentContext]) -> None:
        self._check_open()
        self._store.put_parent_contexts(parent_contexts)

    def put_execution(
        self,
        execution: pb.Execution,
        artifact_and_events: Sequence[tuple[pb.Artifact | None, pb.Event | None]],
        contexts: Sequence[pb.Context],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
        force_reuse_context: bool = False,
        force_update_time: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        self._check_open()
        return self._store.put_execution(
            execution,
            artifact_and_events,
            contexts,
            reuse_context_if_already_exist,
            reuse_artifact_if_already_exist_by_external_id,
            force_reuse_context,
            force_update_time,
        )

    def put_lineage_subgraph(
        self,
        executions: Sequence[pb.Execution],
        artifacts: Sequence[pb.Artifact],
        contexts: Sequence[pb.Context],
        event_edges: Sequence[tuple[int | None, int | None, pb.Event]],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        self._check_open()
        return self._store.put_lineage_subgraph(
            executions,
            artifacts,
            contexts,
            event_edges,
            reuse_context_if_already_exist,
            reuse_artifact_if_already_exist_by_external_id,
        )

    def put_metric_series(self, series: Sequence[mpb.MetricSeries]) -> int:
        self._check_open()
        return self._store.put_metric_series(series)

    def add_openlineage_event(self, event: openlineage_events.RawEvent) -> int:
        """Keep one OpenLineage event as received, in the store's namespace; its id."""
        self._check_open()
        return openlineage_events.insert_event(self._connection, self._store.namespace, event, now_ms())

    # Reads that see this unit of work's own writes (a store read runs on another connection).

    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[pb.Artifact]:
        self._check_open()
        return self._locked_read(ARTIFACT, artifact_ids)

    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[pb.Execution]:
        self._check_open()
        return self._locked_read(EXECUTION, execution_ids)

    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[pb.Context]:
        self._check_open()
        return self._locked_read(CONTEXT, context_ids)


def _read_error(exc: Exception) -> Exception:
    """What a read raises for ``exc``: its mapping to ``mlineage.errors``, or ``exc`` itself."""
    return db_errors.read_error(exc) or exc


def _check_type_message(kind: NodeKind, message) -> None:
    """A type to store has a name, known property types, and (if any) a known base type."""
    if not message.name:
        raise InvalidArgumentError("No type name is specified.")
    for name, data_type in message.properties.items():
        if data_type == UNKNOWN or data_type not in TYPE_NAMES:
            raise InvalidArgumentError(f"Property {name} of type {message.name!r} is UNKNOWN.")
    if message.HasField("base_type"):
        if not message.base_type:
            # MLMD reads an explicitly set UNSET as a request to remove the base type, new type or not.
            raise UnimplementedError("base_type deletion is not supported yet")
        if (kind.name, message.base_type) not in SYSTEM_TYPE_NAMES:
            raise InvalidArgumentError(f"unknown base_type {message.base_type} for a {kind.name} type")


def _property_problem(message, info: type_access.TypeInfo) -> str | None:
    """The first declared-property problem of ``message`` against its type, or None."""
    for name, value in message.properties.items():
        declared = info.properties.get(name)
        if declared is None:
            return f"Found unknown property: {name}"
        if value_type(value) != declared:
            return (
                f"Found unmatched property type: {name} (declared {TYPE_NAMES[declared]}, "
                f"got {TYPE_NAMES[value_type(value)]})"
            )
    return None


def _fitting(messages: Sequence, max_bytes: int) -> int:
    """How many of ``messages`` (at least one) fit in ``max_bytes`` as a repeated field of a response."""
    total = 0
    for count, message in enumerate(messages):
        total += message.ByteSize() + 6  # the field's tag and length prefix
        if total > max_bytes and count:
            return count
    return len(messages)


__all__ = ["Store", "now_ms"]


install_read_methods()
