"""Store.purge on SQLite and PostgreSQL: dry run and real run agree, what live models came from stays, batches, retention.

Old nodes are made by writing them, waiting, writing newer ones, then purging with
a window that falls in the wait (the store's own clock stamps every node).
"""

from __future__ import annotations

import time

import pytest
from purge_scenarios import LIVE_PUSHED, artifact_names, execution_names, write_runs
from sqlalchemy import func, select

from mlineage import metadata_store_pb2 as pb
from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata import history
from mlineage.metadata.kinds import ARTIFACT
from mlineage.metadata.store_purge import PurgedNode, parse_duration
from mlineage.schema import tables as t

LIVE, DELETED = pb.Artifact.LIVE, pb.Artifact.DELETED
IN_A_RUN = "contexts_r.type = 'Run'"
# The wait between old and new nodes, and the window that falls in it (both ms).
GAP_MS, WINDOW_MS = 3000, 1500


def _now() -> int:
    return time.time_ns() // 1_000_000


def _rows(store, table) -> int:
    with store.reading() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def _changes(store) -> int:
    return _rows(store, t.changes)


def _history_rows(store) -> int:
    return sum(_rows(store, table) for table in history.HISTORY_TABLE_ORDER)


def _state(store) -> tuple:
    """Everything a purge could change: nodes, links, history and the change log."""
    return (
        sorted(a.SerializeToString() for a in store.get_artifacts()),
        sorted(e.SerializeToString() for e in store.get_executions()),
        sorted(c.SerializeToString() for c in store.get_contexts()),
        sorted(e.SerializeToString() for e in store.get_events_by_artifact_ids([a.id for a in store.get_artifacts()])),
        _history_rows(store),
        _changes(store),
    )


def test_a_dry_run_changes_nothing_and_the_real_run_deletes_what_it_counted(store):
    ids = write_runs(store, "run", [LIVE, None])
    before = _state(store)
    moment = _now()
    time.sleep(0.003)

    dry = store.purge("artifacts", "type = 'Examples' OR type = 'ModelEvaluation'", sample_size=3)
    assert _state(store) == before
    assert dry.dry_run and dry.count == 4 and dry.deleted == 0
    assert dry.sample == (
        PurgedNode(ids["run0/examples"], "Examples", "run0-examples", "/store/run0-examples"),
        PurgedNode(ids["run0/evaluation"], "ModelEvaluation", "run0-evaluation", "/store/run0-evaluation"),
        PurgedNode(ids["run1/examples"], "Examples", "run1-examples", "/store/run1-examples"),
    )

    real = store.purge("artifacts", "type = 'Examples' OR type = 'ModelEvaluation'", dry_run=False, sample_size=3)
    assert (real.count, real.sample, real.deleted, real.dry_run) == (dry.count, dry.sample, 4, False)
    gone = [ids[f"run{i}/{what}"] for i in (0, 1) for what in ("examples", "evaluation")]
    assert store.get_artifacts_by_id(gone) == []
    assert artifact_names(store) == {"run0-model", "run0-pushed", "run1-model"}
    # Deleted through the store's deletion: kept in history, whole as of before the purge.
    assert sorted(a.id for a in store.as_of(moment).get_artifacts_by_id(gone)) == sorted(gone)
    assert store.get_artifact_history(ids["run0/examples"])[-1].operation == "delete"
    # Nothing left to purge: the same call now counts none.
    assert store.purge("artifacts", "type = 'Examples' OR type = 'ModelEvaluation'").count == 0


def test_the_typical_rule_keeps_exactly_what_live_pushed_models_came_from(store):
    # Old runs: run0 pushed a live model, run1 pushed one since retired, run2 pushed nothing.
    old = write_runs(store, "old", [LIVE, DELETED, None])
    time.sleep(GAP_MS / 1000)
    new = write_runs(store, "new", [None])  # young: not a candidate, though nothing live came from it
    arguments = {"older_than_ms": WINDOW_MS, "keep_upstream_of": LIVE_PUSHED}

    dry = store.purge("artifacts", IN_A_RUN, **arguments)
    real = store.purge("artifacts", IN_A_RUN, dry_run=False, **arguments)

    kept_old = {"old0-examples", "old0-model", "old0-pushed"}  # the live PushedModel and its upstream
    purged = {"old0-evaluation", "old1-examples", "old1-model", "old1-evaluation", "old1-pushed",
              "old2-examples", "old2-model", "old2-evaluation"}
    assert {node.name for node in dry.sample} == purged
    assert dry.count == real.count == real.deleted == len(purged)
    assert artifact_names(store) == kept_old | {"new0-examples", "new0-model", "new0-evaluation"}
    assert new["new0/model"] in {a.id for a in store.get_artifacts()}
    assert old["old0/pushed"] in {a.id for a in store.get_artifacts()}

    # Executions by the same rule: the trainer and pusher of the live model stay.
    executions = store.purge("executions", IN_A_RUN, dry_run=False, **arguments)
    assert executions.count == executions.deleted == 6
    assert execution_names(store) == {"old0-trainer", "old0-pusher", "new0-trainer", "new0-evaluator"}


def test_what_a_live_model_came_from_stays_even_past_a_deleted_node(store):
    ids = write_runs(store, "run", [LIVE])
    store.delete_executions([ids["run0/trainer"]])  # the model's producer is a tombstone now
    result = store.purge("artifacts", "", keep_upstream_of=LIVE_PUSHED, dry_run=False)
    assert result.count == 1 and [n.name for n in result.sample] == ["run0-evaluation"]
    assert artifact_names(store) == {"run0-examples", "run0-model", "run0-pushed"}


def test_a_real_run_in_batches_of_two_ends_as_one_batch_does(store):
    one = write_runs(store, "a", [LIVE, DELETED, None])
    two = write_runs(store, "b", [LIVE, DELETED, None])
    rule = {"keep_upstream_of": LIVE_PUSHED, "dry_run": False}

    changes = _changes(store)
    single = store.purge("artifacts", "contexts_r.name LIKE 'a%'", batch_size=500, **rule)
    assert _changes(store) == changes + 1  # one transaction
    changes = _changes(store)
    batched = store.purge("artifacts", "contexts_r.name LIKE 'b%'", batch_size=2, **rule)
    assert _changes(store) == changes + (batched.count + 1) // 2  # one transaction per batch of two

    assert single.count == batched.count == single.deleted == batched.deleted == 8
    assert [n.name[1:] for n in single.sample] == [n.name[1:] for n in batched.sample]
    left = artifact_names(store)
    assert {name[1:] for name in left if name.startswith("a")} == {name[1:] for name in left if name.startswith("b")}
    for ids in (one, two):
        prefix = "a" if ids is one else "b"
        for what in ("examples", "model", "pushed"):
            assert store.get_artifacts_by_id([ids[f"{prefix}0/{what}"]]), what


def test_history_retention_removes_only_old_history_and_later_as_of_reads_still_answer(store):
    ids = write_runs(store, "run", [LIVE])
    model = ids["run0/model"]

    def update(note: str) -> None:
        [artifact] = store.get_artifacts_by_id([model])
        artifact.custom_properties["note"].string_value = note
        store.put_artifacts([artifact])

    update("first")  # closes revision 1
    store.delete_artifacts([ids["run0/evaluation"]])  # old deletion: its history goes too
    time.sleep(0.003)
    boundary = _now()
    time.sleep(GAP_MS / 1000)
    update("second")  # closes revision 2, inside the window: kept
    store.delete_artifacts([ids["run0/examples"]])  # recent deletion: its history and tombstone stay
    time.sleep(0.003)
    moments = [_now()]
    snapshots = [(store.get_artifacts_by_id([model]), store.get_artifacts(), store.get_events_by_artifact_ids([model]))]
    window = _now() - boundary - WINDOW_MS // 2  # the cutoff lands in the gap (half of it is margin)
    history_before = _history_rows(store)

    dry = store.purge(None, history_older_than_ms=window)
    assert _history_rows(store) == history_before and dry.history_rows > 0 and dry.history_rows_removed == 0
    real = store.purge(None, history_older_than_ms=window, dry_run=False, batch_size=2)
    assert real.history_rows == dry.history_rows == real.history_rows_removed
    assert _history_rows(store) == history_before - real.history_rows_removed

    # The node's history lost the revision ended before the window, and only that one.
    assert [r.revision for r in store.get_artifact_history(model)] == [2, 3]
    # The old deletion's history is gone; the recent one's is whole.
    assert [r.operation for r in store.get_artifact_history(ids["run0/examples"])] == ["create", "delete"]
    # As of a moment after the window, every read answers what it did then.
    for moment, (by_id, listed, events) in zip(moments, snapshots, strict=True):
        view = store.as_of(moment)
        assert view.get_artifacts_by_id([model]) == by_id
        assert view.get_artifacts() == listed
        assert view.get_events_by_artifact_ids([model]) == events
    # Between the two updates, after the cutoff: revision 2, which lives in history, answers.
    [then] = store.as_of(boundary + GAP_MS - 500).get_artifacts_by_id([model])
    assert then.custom_properties["note"].string_value == "first"
    with pytest.raises(NotFoundError):  # deleted before the window: nothing of it is left
        store.get_artifact_history(ids["run0/evaluation"])


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"kind": "artifacts", "filter_query": "uri = ", "history_older_than_ms": 0}, "filter"),
        ({"kind": "artifacts", "filter_query": "no_such_field = 1", "history_older_than_ms": 0}, "filter"),
        ({"kind": "artifacts", "keep_upstream_of": "state = SHINY", "history_older_than_ms": 0},
         "keep_upstream_of"),
        ({"kind": "artifacts", "older_than_ms": -1}, "negative"),
        ({"kind": "artifacts", "history_older_than_ms": -5}, "negative"),
        ({"kind": "artifacts", "older_than_ms": "90d"}, "milliseconds"),
        ({"kind": "models", "history_older_than_ms": 0}, "unknown kind"),
        ({"kind": "artifacts", "batch_size": 0, "history_older_than_ms": 0}, "batch_size"),
        ({"kind": "contexts", "keep_upstream_of": "", "history_older_than_ms": 0}, "contexts"),
        ({"kind": None, "filter_query": "type = 'Model'", "history_older_than_ms": 0}, "kind"),
        ({"kind": None}, "nothing to purge"),
    ],
    ids=["malformed-filter", "unknown-field", "malformed-keep", "negative-age", "negative-history",
         "age-as-text", "unknown-kind", "zero-batch", "contexts-keep", "filter-without-kind", "nothing"],
)
def test_bad_input_is_invalid_argument_and_changes_nothing(store, arguments, words):
    write_runs(store, "run", [LIVE, None])
    before = _state(store)
    arguments = dict(arguments)
    kind = arguments.pop("kind")
    with pytest.raises(InvalidArgumentError, match=words):
        store.purge(kind, dry_run=False, **arguments)
    assert _state(store) == before


def test_contexts_are_purged_by_filter_and_their_members_stay(store):
    ids = write_runs(store, "run", [LIVE, None])
    result = store.purge("contexts", "name = 'run1'", dry_run=False)
    assert (result.count, result.deleted) == (1, 1)
    assert [c.name for c in store.get_contexts()] == ["run0"]
    assert store.get_artifacts_by_id([ids["run1/model"]])


@pytest.mark.parametrize(
    ("text", "ms"),
    [("90d", 90 * 86_400_000), ("12h", 12 * 3_600_000), ("30m", 1_800_000), ("45s", 45_000), ("500ms", 500),
     ("0s", 0), (250, 250)],
)
def test_durations_are_a_number_and_a_unit(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["-5d", "5", "5 weeks", "d", "", "1.5h", True, -1])
def test_other_durations_are_invalid_argument(text):
    with pytest.raises(InvalidArgumentError):
        parse_duration(text)


def test_a_batch_skips_nodes_someone_else_deleted_after_the_purge_read_them(store):
    ids = write_runs(store, "run", [None])
    examples, model = ids["run0/examples"], ids["run0/model"]
    store.delete_artifacts([examples])  # as a concurrent writer would, between the purge's read and its batch
    assert store._delete_batch(ARTIFACT, [examples, model]) == 1  # noqa: SLF001 - the batch step itself
    assert store.get_artifacts_by_id([model]) == []
