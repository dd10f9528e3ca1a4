"""The lineage difference of two runs: what one read upstream that the other did not ("B read span 4, A span 3").

Each run's upstream is one walk (``mlineage.lineage.lineage``, direction up)
from all its executions. Two artifacts are *the same input* when they are the
same artifact, or when they say the same thing: same type, same content
properties (span, version, split names, fingerprints, …; provenance such as
``run_id`` or ``producer_component`` aside) and, for an artifact the run did
not produce itself, the same URI (an artifact a run made has a run-specific
URI, so its content decides). What is left on either side is the difference;
``changes`` pairs it by type into sentences.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlineage.metadata.interface import StoreInterface
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.reports.values import plain

if TYPE_CHECKING:
    from mlineage.reports.comparison import Comparison

# Properties that say where an artifact came from, not what it holds.
PROVENANCE = {"producer_component", "pipeline_name", "run_id", "name", "state", "tfx_version", "is_external",
              "created_at_ms", "inspect_error"}
COLUMNS = ["run", "type", "artifact_id", "uri", "produced_by_run", "hops", "properties"]


@dataclass
class LineageDifference:
    """Upstream artifacts of ``a`` that ``b`` did not read (``only_a``), and the other way (``only_b``)."""

    a: str
    b: str
    only_a: pd.DataFrame
    only_b: pd.DataFrame
    changes: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def frame(self) -> pd.DataFrame:
        """Both sides in one frame (column ``run`` says whose upstream each artifact is in)."""
        return pd.concat([self.only_a, self.only_b], ignore_index=True)

    @property
    def empty(self) -> bool:
        return self.only_a.empty and self.only_b.empty

    def as_dict(self) -> dict[str, Any]:
        from mlineage.reports.values import jsonable

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {"a": self.a, "b": self.b, "only_a": rows(self.only_a), "only_b": rows(self.only_b),
                "changes": list(self.changes), "truncated": self.truncated}


def _content(artifact: pb.Artifact) -> dict[str, Any]:
    props = {n: plain(v) for n, v in artifact.properties.items()}
    props.update({n: plain(v) for n, v in artifact.custom_properties.items()})
    return {k: v for k, v in sorted(props.items()) if k not in PROVENANCE}


def _upstream(store: StoreInterface, execution_ids: list[int]):
    from mlineage.lineage import lineage

    answer = lineage(store, execution_ids=execution_ids, direction="up", with_contexts=False)  # type: ignore[arg-type]
    return answer


def _describe(props: Mapping[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{k}={props[k]}" for k in keys if k in props) or "no properties"


def lineage_difference(store: StoreInterface, comparison: Comparison, a: str, b: str) -> LineageDifference:
    """The difference between the upstream lineage of runs ``a`` and ``b`` of ``comparison``."""
    sides: dict[str, dict[int, tuple[pb.Artifact, bool, int]]] = {}
    type_ids: set[int] = set()
    truncated = False
    for run in (a, b):
        steps = comparison.steps_of(run)
        ids = [s.execution.id for s in steps]
        if not ids:
            sides[run] = {}
            continue
        answer = _upstream(store, ids)
        truncated = truncated or answer.truncated
        produced = {e.artifact_id for e in answer.graph.events if e.execution_id in ids and e.type == pb.Event.OUTPUT}
        hops = {node[1]: hop for node, hop in answer.hops.items() if node[0] == "artifact"}
        found = {}
        for artifact in answer.graph.artifacts:
            found[artifact.id] = (artifact, artifact.id in produced, int(hops.get(artifact.id, 0)))
            type_ids.add(artifact.type_id)
        sides[run] = found
    names = {t.id: t.name for t in store.get_artifact_types_by_id(sorted(type_ids))} if type_ids else {}

    def signature(artifact: pb.Artifact, produced: bool) -> tuple:
        content = tuple((k, str(v)) for k, v in _content(artifact).items())
        return (artifact.type_id, content, None if produced else artifact.uri)

    signatures = {run: {aid: signature(art, prod) for aid, (art, prod, _) in found.items()}
                  for run, found in sides.items()}

    def only(run: str, other: str) -> pd.DataFrame:
        theirs_ids = set(sides[other])
        theirs = set(signatures[other].values())
        rows = []
        for aid, (artifact, produced, hop) in sides[run].items():
            if aid in theirs_ids or signatures[run][aid] in theirs:
                continue
            content = _content(artifact)
            rows.append((run, names.get(artifact.type_id, ""), aid, artifact.uri or None, produced, hop,
                         _describe(content, list(content))))
        rows.sort(key=lambda r: (r[4], r[1], r[5], r[2]))  # external inputs first
        return pd.DataFrame(rows, columns=COLUMNS)

    only_a, only_b = only(a, b), only(b, a)
    changes = _changes(a, b, only_a, only_b, sides)
    return LineageDifference(a, b, only_a, only_b, changes, truncated)


def _changes(a: str, b: str, only_a: pd.DataFrame, only_b: pd.DataFrame,
             sides: Mapping[str, Mapping[int, tuple[pb.Artifact, bool, int]]]) -> list[str]:
    """Sentences pairing each side's artifacts by type: "Examples: b read span=4 (uri), a read span=3 (uri)"."""
    by_type: defaultdict[str, dict[str, list[int]]] = defaultdict(lambda: {a: [], b: []})
    for run, frame in ((a, only_a), (b, only_b)):
        for type_name, aid in zip(frame["type"], frame["artifact_id"], strict=True):
            by_type[type_name][run].append(int(aid))
    sentences = []
    for type_name, found in by_type.items():
        left = [sides[a][i][0] for i in found[a]]
        right = [sides[b][i][0] for i in found[b]]
        if left and right:
            for x, y in zip(left, right, strict=False):
                cx, cy = _content(x), _content(y)
                keys = [k for k in sorted(set(cx) | set(cy)) if cx.get(k) != cy.get(k)]
                shown = keys[:4] or []
                if x.uri != y.uri and not shown:
                    sentences.append(f"{type_name}: {b} read {y.uri or '#' + str(y.id)}, {a} read "
                                     f"{x.uri or '#' + str(x.id)}")
                else:
                    sentences.append(f"{type_name}: {b} read {_describe(cy, shown)} ({y.uri or '#' + str(y.id)}), "
                                     f"{a} read {_describe(cx, shown)} ({x.uri or '#' + str(x.id)})")
            for extra, run in ((left[len(right):], a), (right[len(left):], b)):
                for artifact in extra:
                    sentences.append(f"{type_name}: only {run} read {artifact.uri or '#' + str(artifact.id)}")
        else:
            run = a if left else b
            for artifact in left or right:
                sentences.append(f"{type_name}: only {run} read {artifact.uri or '#' + str(artifact.id)}")
    return sentences


__all__ = ["LineageDifference", "lineage_difference"]
