"""`mlineage history KIND ID` and `mlineage lineage --as-of TS`, on real SQLite files and PostgreSQL."""

from __future__ import annotations

import json
import re
import time

import pytest

from mlineage.cli import main
from mlineage.metadata import history
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb


def _moment() -> int:
    time.sleep(0.003)
    moment = time.time_ns() // 1_000_000
    time.sleep(0.003)
    return moment


def _artifact(type_id: int, uri: str) -> pb.Artifact:
    return pb.Artifact(type_id=type_id, uri=uri, state=pb.Artifact.LIVE)


@pytest.fixture
def written(store_url) -> dict:
    """A model written by "REST", changed from Python, a pipeline around it, moments between; the ids."""
    store = Store(store_url)
    model_type = store.put_artifact_type(pb.ArtifactType(name="Model", properties={"acc": pb.DOUBLE}))
    trainer = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    run_type = store.put_context_type(pb.ContextType(name="Run"))
    with history.calling_as("rest", peer="10.1.2.3:4567"):
        [data, model] = store.put_artifacts([_artifact(model_type, "/data"), _artifact(model_type, "/model")])
    [run] = store.put_contexts([pb.Context(type_id=run_type, name="run-1")])
    first, _, _ = store.put_execution(
        pb.Execution(type_id=trainer, last_known_state=pb.Execution.COMPLETE),
        [(store.get_artifacts_by_id([data])[0], pb.Event(type=pb.Event.INPUT)),
         (store.get_artifacts_by_id([model])[0], pb.Event(type=pb.Event.OUTPUT))],
        store.get_contexts_by_id([run]),
    )
    before = _moment()
    [changed] = store.get_artifacts_by_id([model])
    changed.properties["acc"].double_value = 0.9
    changed.custom_properties["note"].string_value = "blessed"
    store.put_artifacts([changed])
    [later] = store.put_artifacts([_artifact(model_type, "/model-2")])
    store.put_execution(
        pb.Execution(type_id=trainer, last_known_state=pb.Execution.COMPLETE),
        [(store.get_artifacts_by_id([model])[0], pb.Event(type=pb.Event.INPUT)),
         (store.get_artifacts_by_id([later])[0], pb.Event(type=pb.Event.OUTPUT))],
        [],
    )
    store.close()
    return {"url": store_url, "data": data, "model": model, "later": later, "run": run, "first": first,
            "before": before}


def test_history_prints_a_table_of_time_who_operation_and_changes(written, capsys):
    assert main(["history", "artifact", str(written["model"]), "--db", written["url"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["revision", "time", "who", "operation", "changed"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    assert [row[0] for row in rows] == ["1", "2"]
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row[1])
    assert rows[0][2] == "rest/10.1.2.3:4567"
    assert rows[0][3] == "create"
    assert "uri" in rows[0][4]
    assert rows[1][2:] == ["python", "update", "properties.acc, custom_properties.note"]


def test_history_of_executions_contexts_and_a_deleted_node(written, capsys):
    store = Store(written["url"])
    store.delete_contexts([written["run"]])
    store.close()
    assert main(["history", "context", str(written["run"]), "--db", written["url"], "--format", "json"]) == 0
    revisions = json.loads(capsys.readouterr().out)
    assert [r["operation"] for r in revisions] == ["create", "delete"]
    assert revisions[0]["surface"] == "python" and revisions[0]["peer"] is None
    assert main(["history", "execution", str(written["first"]), "--db", written["url"]]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[3] == "create"


def test_history_errors_are_one_line(written, capsys):
    assert main(["history", "artifact", "999999", "--db", written["url"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "999999" in err and len(err.splitlines()) == 1
    assert main(["history", "artifact", "model", "--db", written["url"]]) == 2
    assert "digits" in capsys.readouterr().err
    assert main(["history", "artifact", "1", "--db", "grpc://127.0.0.1:1"]) == 2
    assert "no mlineage server answers" in capsys.readouterr().err


def test_lineage_as_of_shows_the_graph_as_it_was(written, capsys):
    common = ["lineage", "--db", written["url"], "--artifact", str(written["data"]), "--direction", "down",
              "--format", "json"]
    assert main(common) == 0
    now = json.loads(capsys.readouterr().out)
    assert main([*common, "--as-of", str(written["before"])]) == 0
    then = json.loads(capsys.readouterr().out)

    def uris(graph: dict) -> set[str]:
        return {node.get("uri") for node in graph["nodes"] if node.get("uri")}

    assert "/model-2" in uris(now)
    assert uris(then) == {"/data", "/model"}
    assert main(["lineage", "--db", written["url"], "--artifact", str(written["model"]), "--direction", "up",
                 "--as-of", str(written["before"])]) == 0
    assert "/data" in capsys.readouterr().out


def test_lineage_as_of_a_bad_moment_is_a_one_line_error(written, capsys):
    future = str(time.time_ns() // 1_000_000 + 3_600_000)
    for moment in ("yesterday", future, "2026-05-01T12:00:00", "1"):
        assert main(["lineage", "--db", written["url"], "--artifact", str(written["data"]), "--as-of", moment]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and len(err.splitlines()) == 1, err
