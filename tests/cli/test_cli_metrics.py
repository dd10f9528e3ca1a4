"""`mlineage metrics EXECUTION [NAME]`: the metrics an execution logged, from a database or a server."""

from __future__ import annotations

import csv
import io
import json

import pytest
from grpc_server import mlineage_server

from mlineage.cli import main
from mlineage.metadata.metrics import put_metric_series
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metric_series_pb2 as mpb


@pytest.fixture
def logged(tmp_path) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = Store(url)
    type_id = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    [trainer] = store.put_executions([pb.Execution(type_id=type_id, name="train-1")])
    put_metric_series(store, [
        mpb.MetricSeries(execution_id=trainer, name="loss", seq=[1, 2, 3], step=[100, 200, 300],
                         value=[0.9, 0.5, 0.31], timestamp_ms=[1, 2, 3]),
        mpb.MetricSeries(execution_id=trainer, name="accuracy", seq=[1], value=[0.8], timestamp_ms=[4]),
    ])  # fmt: skip
    store.close()
    return url, trainer


def test_table_of_metrics_and_of_points(logged, capsys):
    url, trainer = logged
    assert main(["metrics", str(trainer), "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "points", "last_step", "last_value", "min_value", "max_value"]
    assert lines[1].split() == ["accuracy", "1", "1", "0.8", "0.8", "0.8"]
    assert lines[2].split() == ["loss", "3", "300", "0.31", "0.31", "0.9"]
    assert main(["metrics", "Trainer:train-1", "loss", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [
        ["seq", "step", "value", "timestamp_ms"], ["1", "100", "0.9", "1"], ["2", "200", "0.5", "2"],
        ["3", "300", "0.31", "3"],
    ]  # fmt: skip


def test_json_and_csv(logged, capsys):
    url, trainer = logged
    assert main(["metrics", str(trainer), "loss", "--db", url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[2] == {"seq": 3, "step": 300, "value": 0.31, "timestamp_ms": 3}
    assert main(["metrics", str(trainer), "--db", url, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["name"], r["points"], r["last_value"]) for r in rows] == [("accuracy", "1", "0.8"), ("loss", "3", "0.31")]


def test_errors_are_one_line(logged, capsys):
    url, trainer = logged
    assert main(["metrics", "4242", "--db", url]) == 2
    assert capsys.readouterr().err == "error: no execution with id 4242\n"
    assert main(["metrics", str(trainer), "nope", "--db", url]) == 2
    assert capsys.readouterr().err == f"error: execution {trainer} has no metric named 'nope'\n"


def test_the_same_answer_through_a_server(logged, capsys):
    url, trainer = logged
    assert main(["metrics", str(trainer), "--db", url]) == 0
    from_database = capsys.readouterr().out
    with mlineage_server(url) as server:
        assert main(["metrics", str(trainer), "--url", f"grpc://{server.target}"]) == 0
        assert capsys.readouterr().out == from_database
        assert main(["metrics", "Trainer:train-1", "loss", "--db", f"grpc://{server.target}", "--format", "json"]) == 0
        assert [p["step"] for p in json.loads(capsys.readouterr().out)] == [100, 200, 300]
