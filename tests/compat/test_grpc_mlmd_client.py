"""The unmodified ml-metadata client (1.17.1, in its own environment) against `mlineage serve`.

Every public method of `ml_metadata.MetadataStore` is called by a scenario group
in tests/mlmd_client_scenarios.py. Each group runs against the server (on
SQLite and on PostgreSQL) and against MLMD's own in-process store; the tests
assert concrete values and that mlineage answers exactly as MLMD does, apart
from the listed differences where mlineage is deliberately more faithful.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BACKENDS, postgres_database
from grpc_server import mlineage_server, require_mlmd_python, run_mlmd_scenarios
from mysql_databases import mysql_database

pytestmark = pytest.mark.mlmd


@pytest.fixture(scope="module", params=[*BACKENDS, "mysql"])
def server(request, tmp_path_factory):
    """One server per backend; groups keep to their own type names, so they can share it."""
    if request.param == "mysql":  # KFP's metadata database is MySQL: `mlineage serve --db mysql://…`
        db = mysql_database("mlineage_grpc")
    else:
        db = tmp_path_factory.mktemp("grpc-sqlite") if request.param == "sqlite" else postgres_database("mlineage_grpc")
    with mlineage_server(db) as running:
        yield running


@pytest.fixture(scope="module")
def run_group(server):
    python = require_mlmd_python()

    def run(group: str) -> tuple[dict[str, Any], dict[str, Any]]:
        out = run_mlmd_scenarios(python, server.target, [group], reference=True)[group]
        return out["server"], out["reference"]

    return run


def assert_same_as_mlmd(result: Any, reference: Any, allowed: set[str] = frozenset(), path: str = "") -> None:
    """Equal, key by key, except at the `allowed` paths (dotted)."""
    if path.lstrip(".") in allowed:
        return
    if isinstance(result, dict) and isinstance(reference, dict):
        for key in sorted(set(result) | set(reference)):
            missing = "<absent>"
            assert_same_as_mlmd(result.get(key, missing), reference.get(key, missing), allowed, f"{path}.{key}")
        return
    assert result == reference, f"{path}: mlineage {result!r} != MLMD {reference!r}"


def test_types_put_get_evolve_and_errors(run_group):
    r, ref = run_group("types")
    assert r["user_type_ids_after_system_types"] and r["same_type_same_id"]
    assert r["add_without_can_add"] == "AlreadyExistsError"
    assert r["add_with_can_add_same_id"] and r["omit_with_can_omit_same_id"]
    assert r["change_property_type"] == "AlreadyExistsError"
    assert r["omit_without_can_omit"] == "AlreadyExistsError"
    assert r["model"] == {
        "name": "Model", "description": "a model", "external_id": "model-type", "base_type": "MODEL",
        "properties": {"acc": "DOUBLE", "framework": "STRING", "layers": "INT"},
    }  # fmt: skip
    assert r["model_v2"] == {"name": "Model", "version": "v2", "properties": {"acc": "INT"}}
    assert r["version_is_new_type"] and r["model_v3_missing"] == "NotFoundError"
    assert r["by_type_version"] == {
        "unversioned": ["x@v1"], "v2": ["x@v2"], "v3": [],
        "by_name_v2": "x@v2", "by_name_unversioned": "x@v1", "by_name_v3": None,
        "executions_v9": [], "contexts_v9": [], "execution_by_name_v9": None, "context_by_name_v9": None,
        "execution_type_v9": "NotFoundError", "context_type_v9": "NotFoundError",
    }  # fmt: skip
    assert r["trainer"]["base_type"] == "TRAIN" and r["trainer"]["properties"] == {"lr": "DOUBLE", "steps": "INT"}
    assert r["pipeline"]["properties"] == {"owner": "STRING", "team": "STRING"}
    assert r["context_type_change_property_type"] == "AlreadyExistsError"
    assert set(r["missing"].values()) == {"NotFoundError"}
    assert r["artifact_types"] == ["Model", "Model@v2"]  # MLMD's system types are not listed
    assert r["execution_types"] == ["Trainer"] and r["context_types"] == ["Pipeline"]
    assert r["artifact_types_by_id"] == ["Model", "Model"]
    assert r["artifact_types_by_id_wrong_kind"] == [] and r["context_types_by_id"] == ["Pipeline"]
    assert r["artifact_types_by_external_ids"] == ["Model"]
    assert r["execution_types_by_external_ids"] == ["Trainer"]
    assert r["context_types_by_external_ids"] == ["Pipeline"]
    assert r["duplicate_type_external_id"] == "AlreadyExistsError"
    assert r["type_without_name"] == r["type_with_unknown_property_type"] == "InvalidArgumentError"
    assert_same_as_mlmd(r, ref)


def test_nodes_put_update_and_lookups(run_group):
    r, ref = run_group("nodes")
    assert r["put_artifacts_ids_distinct_ascending"] and r["update_returns_id"]
    a1 = r["artifacts_by_id"][0]
    assert a1["properties"] == {
        "acc": 0.25, "meta": {"struct": {"cols": ["x", "y"], "rows": 10.0}}, "ok": True, "span": 7,
        "split": "train", "msg": {"proto": "type.googleapis.com/google.protobuf.Struct", "bytes": 10},
    }  # fmt: skip
    assert (a1["name"], a1["external_id"], a1["state"], a1["times_set"]) == ("a1", "a1-ext", "LIVE", True)
    assert [a["label"] for a in r["artifacts_by_id"]] == ["a1", "a3"]
    assert [a["label"] for a in r["artifacts_and_types"]["artifacts"]] == ["a1", "a2"]
    assert r["artifacts_and_types"]["types"] == ["Dataset"]
    # A mask changes only what it names; a mask key with no value deletes that key.
    masked = r["a1_after_masked_updates"]
    assert masked["uri"] == "/data/a1-moved" and masked["custom_properties"] == {"note": "changed"}
    assert masked["properties"]["span"] == 7
    assert r["a2_after_full_update"] == {
        "label": "a2", "type": "Dataset", "type_id": "Dataset", "uri": "/data/a2-v2", "state": "DELETED",
        "properties": {"span": 9}, "times_set": True,
    }  # fmt: skip
    assert r["update_to_other_type"] == "InvalidArgumentError"
    assert (r["by_uri"], r["by_uri_moved"], r["by_uri_none"]) == (["a3"], ["a1"], [])
    assert r["by_type"] == ["a1", "a2", "a3"] and r["by_type_missing_type"] == []
    assert r["by_type_and_name"]["label"] == "a3"
    assert r["by_type_and_name_missing"] is None and r["by_type_and_name_missing_type"] is None
    assert r["by_external_ids"] == ["a1"]
    assert [(e["label"], e["last_known_state"]) for e in r["executions_by_id"]] == [("e1", "COMPLETE"), ("e2", "NEW")]
    assert r["executions_by_id"][0]["custom_properties"] == {"gpu": True}
    assert r["executions_by_type"] == ["e1", "e2"] and r["executions_by_external_ids"] == ["e1"]
    assert r["execution_by_type_and_name"]["label"] == "e1" and r["execution_by_type_and_name_missing"] is None
    assert [c["properties"] for c in r["contexts_by_id"]] == [{"owner": "ann"}, {"owner": "bob"}]
    assert r["contexts_by_id"][1]["custom_properties"] == {"cfg": {"struct": {"lr": 0.1}}}
    assert r["contexts_by_type"] == ["c1", "c2"] and r["contexts_by_external_ids"] == ["c1"]
    assert r["context_by_type_and_name"]["label"] == "c1" and r["context_by_type_and_name_missing"] is None
    assert r["errors"] == {
        "duplicate_artifact_name": "AlreadyExistsError",
        "duplicate_artifact_external_id": "AlreadyExistsError",
        "duplicate_execution_name": "AlreadyExistsError",
        "duplicate_context_name": "AlreadyExistsError",
        "context_without_name": "InvalidArgumentError",
        "unknown_property": "InvalidArgumentError",
        "property_of_wrong_type": "InvalidArgumentError",
        "missing_type_id": "InvalidArgumentError",
        "unknown_type_id": "NotFoundError",
        "update_unknown_artifact": "InvalidArgumentError",
    }
    assert r["failed_batch_wrote_nothing"] == ["a1", "a2", "a3"]
    assert_same_as_mlmd(r, ref)


def test_events_attributions_associations_and_parent_contexts(run_group):
    r, ref = run_group("edges")
    assert r["events_by_execution_e1"] == [
        {"artifact": "a1", "execution": "e1", "type": "INPUT", "path": [{"key": "examples"}, {"index": 0}],
         "time_set": True},
        {"artifact": "a2", "execution": "e1", "type": "OUTPUT", "path": [{"key": "model"}], "time_set": True},
    ]  # fmt: skip
    assert r["events_by_execution_both"] == 5
    assert [(e["artifact"], e["type"]) for e in r["events_by_artifact_a2_a3"]] == [
        ("a2", "OUTPUT"), ("a2", "INPUT"), ("a3", "DECLARED_OUTPUT"), ("a3", "OUTPUT"),
    ]  # fmt: skip
    assert r["events_by_artifact_none"] == []
    assert r["duplicate_event"] == "AlreadyExistsError"
    for key in ("event_unknown_artifact", "event_unknown_execution", "event_without_type", "event_without_artifact"):
        assert r[key] == "InvalidArgumentError", key
    assert r["attribution_unknown_context"] == r["association_unknown_execution"] == "InvalidArgumentError"
    assert r["contexts_by_artifact_a2"] == ["c1", "c2"]
    assert r["contexts_by_artifact_a3"] == {"error": "NotFoundError"}  # MLMD: NOT_FOUND when there are none
    assert r["contexts_by_execution_e2"] == ["c1"]
    assert r["artifacts_by_context_c1"] == ["a1", "a2"]
    assert r["artifacts_by_context_c1_desc_limit1"] == ["a2"]
    assert r["artifacts_by_context_c1_filtered"] == ["a2"]
    assert r["executions_by_context_c1_default_newest_first"] == ["e2", "e1"]
    assert r["executions_by_context_c1_id_asc"] == ["e1", "e2"]
    assert r["executions_by_context_c2"] == []
    assert (r["parents_of_c2"], r["parents_of_c1"]) == (["c1"], [])
    assert (r["children_of_c1"], r["children_of_c4"]) == (["c2", "c3"], [])
    assert r["duplicate_parent"] == "AlreadyExistsError"
    assert r["self_parent"] == r["cycle"] == r["parent_unknown_context"] == "InvalidArgumentError"
    assert r["contexts_filtered_by_parent"] == ["c2", "c3"] and r["contexts_filtered_by_child"] == ["c2"]
    assert_same_as_mlmd(r, ref)


def test_put_execution_with_every_option(run_group):
    r, ref = run_group("put_execution")
    assert r["returned"] == {"artifacts": 2, "contexts": 1}
    assert [(e["artifact"], e["type"], e["path"]) for e in r["events"]] == [
        ("examples", "INPUT", [{"key": "examples"}, {"index": 0}]), ("model", "OUTPUT", []),
    ]  # fmt: skip
    assert r["contexts_of_execution"] == ["run1"] and r["artifacts_in_run"] == ["examples", "model"]
    assert r["context_exists"] == "AlreadyExistsError" and r["nothing_kept"]
    assert r["reused_context"] == ["run1"] and r["reused_artifact_by_external_id"] == ["model"]
    assert r["duplicate_external_id_without_reuse"] == "AlreadyExistsError"
    assert r["executions_in_run"] == ["e1", "e2"]
    assert r["context_after_force_reuse"] == {"owner": "ann"}
    assert r["context_after_plain_update"] == {"owner": "bob"}
    assert r["execution_after_update"] == "COMPLETE"
    assert r["update_time_bumped_with_force"]
    assert r["event_with_other_execution"] == "InvalidArgumentError"
    assert r["execution_unknown_type"] == "NotFoundError"
    assert_same_as_mlmd(r, ref)


def test_put_lineage_subgraph(run_group):
    r, ref = run_group("put_lineage_subgraph")
    assert r["counts"] == [2, 3, 1]
    assert [(e["artifact"], e["execution"], e["type"]) for e in r["events"]] == [
        ("a1", "e1", "INPUT"), ("a2", "e1", "OUTPUT"), ("a2", "e2", "INPUT"), ("a3", "e2", "OUTPUT"),
    ]  # fmt: skip
    assert r["attributed"] == ["a1", "a2", "a3"] and r["associated"] == ["e1", "e2"]
    assert r["context_exists"] == "AlreadyExistsError"
    assert r["reused"] == {"artifacts": ["a3"], "contexts": ["run1"]}
    assert [(e["artifact"], e["type"]) for e in r["events_of_e3"]] == [("a3", "INPUT")]
    assert r["edge_index_out_of_range"] == "OutOfRangeError"
    assert r["nothing_kept_after_error"] == 3
    assert_same_as_mlmd(r, ref)


def test_list_options_order_limit_and_filters(run_group):
    r, ref = run_group("listing")
    assert r["all_own"] == ["d1", "d2", "d3", "d4", "d5", "m1"]
    assert r["limit_2_id_asc"] == ["d1", "d2"]
    assert r["limit_3_id_desc"] == ["m1", "d5", "d4"]
    assert r["create_time_desc"] == ["d5", "d4", "d3", "d2", "d1"]
    assert r["update_time_desc_first"] == ["d4"]
    assert r["filters"] == {
        "property_int": ["d4", "d5"],
        "property_string": ["d2", "d3"],
        "property_backquoted": ["d5"],
        "property_double": ["m1"],
        "custom_property": ["d2", "d4"],
        "custom_bool": ["d4"],
        "or_not": ["d1", "d5"],
        "state": ["d1", "d3", "d5"],
        "state_in": ["d2", "d4"],
        "uri_like": ["d1", "d2"],
        "name_in": ["d1", "m1"],
        "external_id": ["m1"],
        "id_in": ["d2", "d3"],
        "type": ["m1"],
        "create_time": ["m1"],
        "context": ["d1", "d2"],
        "two_contexts": ["d2"],
        "context_type": ["d2"],
        "event_type": ["m1"],
        "event_type_in": ["d1", "d5"],
        "event_execution": ["d5"],
        "is_null": ["d1"],
    }
    assert r["filter_with_limit_and_order"] == ["d5", "d3"]
    assert r["execution_filters"] == {
        "state": ["e1"], "state_not_in": ["e2"], "context": ["e1"], "event_artifact": ["e2"], "name": ["e2"],
    }  # fmt: skip
    assert r["context_filters"] == {
        "name": ["run2"], "artifact": ["run1"], "execution_state": ["run1"], "all_desc": ["run2", "run1"],
    }  # fmt: skip
    assert set(r["bad_filters"].values()) == {"InvalidArgumentError"}
    assert r["executions_limit_1"] == r["contexts_limit_1"] == 1
    assert_same_as_mlmd(r, ref)


def test_get_lineage_subgraph(run_group):
    r, ref = run_group("lineage")

    def nodes(key: str) -> tuple[list[str], list[str], list[str], int]:
        graph = r[key]
        return graph["artifacts"], graph["executions"], graph["contexts"], graph["events"]

    assert nodes("upstream_2") == (["a1", "a2"], ["e1"], ["run1"], 2)
    assert nodes("downstream_2") == (["a2", "a3"], ["e2"], [], 2)
    assert nodes("bidirectional_2") == (["a1", "a2", "a3"], ["e1", "e2"], ["run1"], 4)
    assert nodes("unspecified_direction_default_hops") == nodes("bidirectional_2")
    assert nodes("zero_hops") == (["a2"], [], [], 0)
    assert nodes("one_hop_downstream_from_a1") == (["a1"], ["e1"], ["run1"], 1)
    assert nodes("ending_at_a2_excluded") == (["a1"], ["e1"], ["run1"], 1)
    assert nodes("ending_at_a2_included") == (["a1", "a2"], ["e1"], ["run1"], 2)
    assert r["bidirectional_2"]["hydrated"]
    assert (r["bidirectional_2"]["attributions"], r["bidirectional_2"]["associations"]) == (1, 1)
    assert r["bidirectional_2"]["artifact_types"] == ["Dataset"]
    masked = r["mask_artifacts_and_events"]
    assert (masked["artifacts"], masked["events"], masked["executions"], masked["artifact_types"]) == (
        ["a1", "a2", "a3"], 4, [], [],
    )  # fmt: skip
    types_only = r["mask_types_only"]
    assert (types_only["artifacts"], types_only["events"]) == ([], 0)
    assert (types_only["artifact_types"], types_only["execution_types"], types_only["context_types"]) == (
        ["Dataset"], ["Trainer"], ["Run"],
    )  # fmt: skip
    assert r["from_execution_e2_downstream_1"] == {"artifacts": ["a3"], "executions": ["e2"]}
    assert r["no_starting_nodes"] == r["bad_starting_filter"] == "InvalidArgumentError"
    assert_same_as_mlmd(r, ref)


def test_get_artifacts_pages_through_250_artifacts(run_group):
    r, ref = run_group("pagination")
    assert r["no_options_own"] == 250 and r["no_options_distinct_ids"] and r["no_options_own_in_id_order"]
    for key in ("default", "create_time_asc"):
        assert r[key] == {"count": 250, "distinct": 250, "first": "p000", "last": "p249"}, key
    for key in ("id_desc", "create_time_desc", "update_time_desc"):
        assert r[key] == {"count": 250, "distinct": 250, "first": "p249", "last": "p000"}, key
    assert r["limit_201"] == {"count": 201, "distinct": 201, "first": "p000", "last": "p200"}
    assert r["by_type"] == {"count": 250, "distinct": 250}
    assert_same_as_mlmd(r, ref)


def test_errors_and_value_round_trip(run_group):
    r, ref = run_group("errors_and_misc")
    assert r["pipeline_asset"] is None
    assert r["get_artifact_type_missing"] == r["artifact_type_for_execution_type_name"] == "NotFoundError"
    assert r["get_artifacts_by_id_empty"] == r["get_artifacts_by_id_missing"] == []
    assert r["get_contexts_by_artifact_missing"] == r["get_contexts_by_execution_missing"] == {"error": "NotFoundError"}
    assert r["put_artifact_type_twice_incompatible"] == "AlreadyExistsError"
    assert r["put_empty_lists"] == [[], [], []]
    roundtrip = r["struct_and_proto_roundtrip"]
    assert roundtrip["same_properties"] and roundtrip["same_custom"]
    assert roundtrip["node"]["custom_properties"]["big"] == 2**40
    assert roundtrip["node"]["custom_properties"]["neg"] == -1.5e-9
    assert roundtrip["node"]["properties"]["meta"] == {"struct": {"nested": {"list": [1.0, "two", None, True]}}}
    # MLMD on SQLite loses small doubles (-1.5e-9 reads back as 0.0) and
    # reads an unset uri back as "" (set); mlineage keeps the double and leaves the uri unset.
    assert_same_as_mlmd(
        r,
        ref,
        allowed={
            "struct_and_proto_roundtrip.node.custom_properties.neg",
            "struct_and_proto_roundtrip.node.uri",
            "struct_and_proto_roundtrip.same_custom",
        },
    )
