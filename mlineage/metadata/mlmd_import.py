"""Import an MLMD database into an mlineage store, ids kept: the records stream over in batches, one store transaction each.

The source is read by ``mlmd_source`` (MLMD's own tables, v6-v10, no ml-metadata
needed); the rows are written by ``import_access`` inside ``store.transaction()``,
so every batch is one transaction of the store (its write lock, its error
mapping, its read-only refusal) and one ``changes`` row with surface
``import`` (actor ``mlineage import-mlmd``, peer: the source). Imported rows keep
``change_id`` 0, MLMD's records having no history before the import.

* **Same ids.** Types, nodes and events keep their MLMD ids, so the
  ml-metadata client reading ``mlineage serve`` gets the answers MLMD gave.
* **Idempotent, resumable.** Tables go over in id order and a batch commits
  whole or not at all; a rerun skips what the target holds (nodes and events
  above the largest id there, links present already), so a second run writes
  nothing and a run after a kill finishes the first.
* **Only into a target of its own.** A target holding anything not imported
  from this source (other writes, another source's records) is refused before
  anything is written.
* **Skipped, not failed.** MLMD declares no foreign keys; records pointing at
  a node or type the source lacks cannot exist in mlineage and are counted as
  skipped in the summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mlineage.errors import FailedPreconditionError
from mlineage.metadata import history, import_access
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.metadata.mlmd_source import MlmdSource, SourceCounts, source_engine, source_identity
from mlineage.schema import tables as t

ACTOR = "mlineage import-mlmd"
DEFAULT_BATCH_SIZE = 5000
# The steps of an import, in order; each names its counter in SourceCounts.
STEPS = ("types", "contexts", "artifacts", "executions", "events", "attributions", "associations", "parent_contexts")


@dataclass
class Tally:
    """One step's outcome: rows written now, rows the target held already, rows that cannot be imported."""

    imported: int = 0
    present: int = 0
    skipped: int = 0


@dataclass
class ImportSummary:
    """What an import did, step by step."""

    schema_version: int
    tallies: dict[str, Tally] = field(default_factory=lambda: {step: Tally() for step in STEPS})
    batches: int = 0
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return sum(tally.imported for tally in self.tallies.values())

    @property
    def nodes_per_second(self) -> float:
        nodes = sum(self.tallies[s].imported for s in ("artifacts", "executions", "contexts"))
        return nodes / self.seconds if self.seconds else 0.0


class Progress:
    """What an import reports as it goes (the command draws a bar from it); does nothing by default."""

    def start(self, counts: SourceCounts) -> None:
        """The source's row counts, before anything is read."""

    def advance(self, step: str, rows: int) -> None:
        """``rows`` more source rows of ``step`` were handled."""


def import_mlmd(
    source_url: str,
    store: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportSummary:
    """Copy the MLMD database ``source_url`` into ``store`` (a ``metadata.Store``), ids kept.

    Raises NotFoundError (no such SQLite file), InvalidArgumentError (an unsupported URL),
    FailedPreconditionError (not an MLMD database, a schema version outside 6-10, a target
    holding other records: nothing is written then) and the store's errors for a batch
    that fails (that batch is rolled back; the batches before it stay and a rerun resumes).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    progress = progress or Progress()
    started = time.monotonic()
    identity = source_identity(source_url)
    with MlmdSource(source_engine(source_url)) as source:
        system, types = source.types()
        moves = _check_target(store, source, identity, system, types)
        counts = source.counts()
        progress.start(counts)
        summary = ImportSummary(schema_version=source.version)
        run = _Run(store, source, identity, summary, progress, batch_size)
        with history.calling_as("import", actor=ACTOR, peer=identity):
            run.types(types, counts.types - len(types), moves)
            for kind in (CONTEXT, ARTIFACT, EXECUTION):
                run.nodes(kind)
            run.events()
            run.links("attributions", "Attribution", t.attributions, "artifact_id", t.artifacts)
            run.links("associations", "Association", t.associations, "execution_id", t.executions)
            run.parent_contexts()
    summary.seconds = time.monotonic() - started
    return summary


def _check_target(store: Any, source: MlmdSource, identity: str, system: dict[str, int], types: list[Any]) -> dict[int, int]:
    """Refuse a target that holds records other than those of an earlier import of this source; the
    moves (old id -> new id) that give the target's system types the source's ids."""
    with store.reading() as connection:
        contents = import_access.target_contents(connection)
        keys = import_access.type_keys(connection)
        maxima = {kind: import_access.max_id(connection, kind.table) for kind in (ARTIFACT, EXECUTION, CONTEXT)}
    moves = _system_type_moves(system, keys, types)
    if contents.empty:
        return moves
    refusal = (
        f"the target already holds records that were not imported from {identity}: "
        "import into a new database (or the one an earlier import of this source made)"
    )
    if contents.changes != {("import", ACTOR, identity)} or contents.metric_points or contents.openlineage_events:
        raise FailedPreconditionError(refusal)
    source_keys = {s.row["id"]: (s.row["kind"], s.row["name"], s.row["version"]) for s in types}
    if moves or any(
        key[1] not in import_access.SYSTEM_TYPE_NAMES and source_keys.get(type_id) != key
        for type_id, key in keys.items()
    ):
        raise FailedPreconditionError(refusal)
    if any(maxima[kind] > source.max_id(kind) for kind in maxima):
        raise FailedPreconditionError(refusal)
    return moves


def _system_type_moves(system: dict[str, int], keys: dict[int, tuple[int, str, str]], types: list[Any]) -> dict[int, int]:
    """Where the target's system types must go for the source's ids to be free: each to its id in the
    source, or (absent there) where it is unless a source type takes that id, then above every id."""
    current = {name: type_id for type_id, (_kind, name, _version) in keys.items() if name in import_access.SYSTEM_TYPE_NAMES}
    taken = {s.row["id"] for s in types} | set(system.values())
    spare = max([*taken, *keys, 0]) + 1
    moves: dict[int, int] = {}
    for name, type_id in sorted(current.items(), key=lambda item: item[1]):
        wanted = system.get(name)
        if wanted is None and type_id in taken:
            wanted, spare = spare, spare + 1
        if wanted is not None and wanted != type_id:
            moves[type_id] = wanted
    return moves


class _Run:
    """One import's steps: each reads its batches from the source and writes what is new."""

    def __init__(
        self, store: Any, source: MlmdSource, identity: str, summary: ImportSummary, progress: Progress, size: int
    ) -> None:
        self.store = store
        self.source = source
        self.summary = summary
        self.progress = progress
        self.size = size
        self.namespace = store.namespace

    def _write(self, work: Callable[[Any], None]) -> None:
        """One batch: one store transaction, recorded as one change by the import."""
        with self.store.transaction() as tx:
            connection = tx.connection
            import_access.widen_page_cache(connection)
            history.change_id(connection)
            work(connection)
        self.summary.batches += 1

    def types(self, types: list[Any], system_count: int, moves: dict[int, int]) -> None:
        tally = self.summary.tallies["types"]
        self.progress.advance("types", system_count)
        if moves:  # an MLMD database older than its system types: they take its ids in the target too
            def move(connection: Any) -> None:
                import_access.move_types(connection, moves)
                import_access.advance_id_sequence(connection, t.types)

            self._write(move)
        for start in range(0, len(types), self.size):
            batch = types[start : start + self.size]
            with self.store.reading() as connection:
                present = import_access.present_ids(connection, t.types, (s.row["id"] for s in batch))
            new = [s for s in batch if s.row["id"] not in present]
            tally.present += len(batch) - len(new)
            if new:
                def work(connection: Any, new: list[Any] = new) -> None:
                    import_access.insert_rows(connection, t.types, [{**s.row, "namespace": self.namespace} for s in new])
                    import_access.insert_rows(connection, t.type_properties, [p for s in new for p in s.properties])
                    import_access.advance_id_sequence(connection, t.types)

                self._write(work)
                tally.imported += len(new)
            self.progress.advance("types", len(batch))

    def nodes(self, kind: NodeKind) -> None:
        tally = self.summary.tallies[kind.plural]
        with self.store.reading() as connection:
            # Batches commit in id order: everything up to the largest id there was handled before.
            after = import_access.max_id(connection, kind.table)
            tally.present = import_access.row_count(connection, kind.table)
        self.progress.advance(kind.plural, tally.present)
        for rows, properties in self.source.node_batches(kind, self.size, after):
            with self.store.reading() as connection:
                known_types = import_access.present_ids(connection, t.types, (r["type_id"] for r in rows))
            new = [{**r, "namespace": self.namespace} for r in rows if r["type_id"] in known_types]
            tally.skipped += len(rows) - len(new)
            ids = {r["id"] for r in new}
            new_properties = [p for p in properties if p[kind.owner_column] in ids]
            if new:
                def work(connection: Any, new: list[dict] = new, props: list[dict] = new_properties) -> None:
                    import_access.insert_rows(connection, kind.table, new)
                    import_access.insert_rows(connection, kind.properties, props)
                    import_access.advance_id_sequence(connection, kind.table)

                self._write(work)
                tally.imported += len(new)
            self.progress.advance(kind.plural, len(rows))

    def events(self) -> None:
        tally = self.summary.tallies["events"]
        with self.store.reading() as connection:
            after = import_access.max_id(connection, t.events)
            tally.present = import_access.row_count(connection, t.events)
        self.progress.advance("events", tally.present)
        for rows, read in self.source.event_batches(self.size, after):
            with self.store.reading() as connection:
                artifacts = import_access.present_ids(connection, t.artifacts, (r["artifact_id"] for r in rows))
                executions = import_access.present_ids(connection, t.executions, (r["execution_id"] for r in rows))
                taken = (
                    import_access.present_event_keys(connection, artifacts) if self.source.version < 8 else set()
                )
            new = [
                r for r in rows
                if r["artifact_id"] in artifacts and r["execution_id"] in executions
                and (r["artifact_id"], r["execution_id"], r["type"]) not in taken
            ]  # fmt: skip
            tally.skipped += read - len(new)
            if new:
                def work(connection: Any, new: list[dict] = new) -> None:
                    import_access.insert_rows(connection, t.events, new)
                    import_access.advance_id_sequence(connection, t.events)

                self._write(work)
                tally.imported += len(new)
            self.progress.advance("events", read)

    def links(self, step: str, source_table: str, table: Any, node_column: str, nodes: Any) -> None:
        tally = self.summary.tallies[step]
        for pairs in self.source.link_batches(source_table, self.size):
            self._pairs(step, tally, pairs, table, "context_id", node_column,
                        ((t.contexts, (c for c, _ in pairs)), (nodes, (n for _, n in pairs))))  # fmt: skip

    def parent_contexts(self) -> None:
        tally = self.summary.tallies["parent_contexts"]
        for pairs in self.source.parent_context_batches(self.size):
            ends = [c for pair in pairs for c in pair]
            self._pairs("parent_contexts", tally, pairs, t.parent_contexts, "child_id", "parent_id",
                        ((t.contexts, ends), (t.contexts, ends)))  # fmt: skip

    def _pairs(
        self,
        step: str,
        tally: Tally,
        pairs: list[tuple[int, int]],
        table: Any,
        first: str,
        second: str,
        ends: Iterable[tuple[Any, Iterable[int]]],
    ) -> None:
        with self.store.reading() as connection:
            present = import_access.present_pairs(connection, table, first, second, (b for _, b in pairs))
            (first_table, first_ids), (second_table, second_ids) = ends
            firsts = import_access.present_ids(connection, first_table, first_ids)
            seconds = import_access.present_ids(connection, second_table, second_ids)
        unique = list(dict.fromkeys(pairs))
        new = [p for p in unique if p not in present and p[0] in firsts and p[1] in seconds]
        already = sum(1 for p in unique if p in present)
        tally.present += already
        tally.skipped += len(pairs) - already - len(new)
        if new:
            def work(connection: Any, new: list[tuple[int, int]] = new) -> None:
                import_access.insert_rows(connection, table, [{first: a, second: b} for a, b in new])

            self._write(work)
            tally.imported += len(new)
        self.progress.advance(step, len(pairs))

