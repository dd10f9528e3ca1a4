"""The renderings (Markdown parsed as tables, JSON against the frames, the terminal table, HTML), the CLI and REST."""

from __future__ import annotations

import json
import math
import re

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from mlineage.api.rest.app import create_app
from mlineage.cli import main
from mlineage.reports import compare, render, report_data

RUNS = ["taxi/r1", "taxi/r2", "taxi/r3"]


@pytest.fixture
def comparison(taxi_store):
    return compare(taxi_store, pipeline="taxi")


def _tables(markdown: str) -> list[list[list[str]]]:
    """Every table a CommonMark+GFM-tables parser finds: a list of rows of cell texts (header first)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            inline = tokens[index + 1]
            assert row is not None
            row.append(inline.content if inline.type == "inline" else "")
        elif token.type == "tr_close":
            tables[-1].append(row or [])
    return tables


def test_markdown_renders_as_tables_with_the_frames_numbers(comparison):
    text = render(comparison, "markdown", metric="accuracy")
    runs, params, metrics = _tables(text)
    assert runs[0] == ["run", "state", "steps", "duration_s", "git_commit"]
    assert [r[0] for r in runs[1:]] == RUNS and [r[4] for r in runs[1:]] == ["c0ffee1", "c0ffee2", "c0ffee2"]
    assert params[0] == ["param", *RUNS]
    assert ["Trainer.learning_rate", "0.1", "0.01", "0.01"] in params
    assert ["accuracy", "0.7", "0.8", "0.8"] in metrics
    assert ["auc", "0.8", "0.85", ""] in metrics
    assert "Best by `accuracy` (max): **taxi/r2** (tied with taxi/r3)" in text
    assert "- Examples: taxi/r1 read span=3" not in text  # the walk is first run vs the best
    assert "Examples: taxi/r2 read span=4 (/data/taxi/span-4), taxi/r1 read span=3" in text


def test_markdown_diff_lists_only_what_differs(comparison):
    _, params, _ = _tables(render(comparison, "markdown", diff=True))
    assert [row[0] for row in params[1:]] == ["Trainer.batch_size", "Trainer.learning_rate"]


def test_json_matches_the_frames(comparison):
    data = json.loads(render(comparison, "json", metric="loss", mode="min"))
    assert [run["run"] for run in data["runs"]] == RUNS
    assert [run["id"] for run in data["runs"]] == [ref.context_id for ref in comparison.runs]
    for run in data["runs"]:
        name = run["run"]
        frame_params = {k: v for k, v in comparison.params.loc[name].items() if v is not None}
        assert run["params"] == frame_params
        assert all(type(run["params"][k]) is type(v) for k, v in frame_params.items())  # 256 stays an int
        logged = set(comparison.metrics.loc[comparison.metrics["run"] == name, "metric"])
        assert set(run["metrics"]) == logged
        for metric, value in run["metrics"].items():
            expected = comparison.final_metrics.loc[name, metric]
            assert (value is None and math.isnan(expected)) or value == pytest.approx(expected)
    assert data["runs"][2]["metrics"]["loss"] is None  # NaN is null
    assert data["best"] == "taxi/r2" and data["mode"] == "min" and data["metric"] == "loss"
    assert data["differs"] == {"params": ["Trainer.batch_size", "Trainer.learning_rate"],
                               "metrics": comparison.differs()["metrics"]}
    assert data["lineage_difference"]["a"] == "taxi/r1" and data["lineage_difference"]["b"] == "taxi/r2"
    assert len(data["steps"]) == len(comparison.steps)


def test_json_without_a_metric_has_no_best(comparison):
    data = report_data(comparison)
    assert data["best"] is None and data["ties"] == []


def test_terminal_table(comparison):
    text = render(comparison, "table", metric="auc")
    assert "taxi/r2 *" in text and "best by auc (max): taxi/r2" in text
    assert re.search(r"Trainer\.learning_rate\s*│\s*0\.1\s*│\s*0\.01\s*│\s*0\.01", text)


def test_html_is_one_file_with_a_plot_per_kind(comparison):
    text = render(comparison, "html", metric="accuracy")
    plots = re.findall(r'<figure data-plot="([^"]+)"><img src="data:image/png;base64,', text)
    assert plots == ["series:accuracy", "series:loss", "bars", "parallel", "lineage"]  # diverged: only NaN
    assert "Content-Security-Policy" in text
    assert not re.search(r'(src|href)="(?!data:)', text)  # nothing to fetch


def test_cli_compare_formats_and_output_file(taxi_store, store_url, tmp_path, capsys):
    assert main(["compare", "taxi/r1", "taxi/r2", "--format", "json", "--metric", "auc", "--db", store_url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["best"] == "taxi/r2" and [r["run"] for r in data["runs"]] == ["taxi/r1", "taxi/r2"]
    assert main(["compare", "--pipeline", "taxi", "--last", "2", "--format", "json", "--metric", "loss",
                 "--minimize", "--db", store_url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in data["runs"]] == ["taxi/r2", "taxi/r3"] and data["mode"] == "min"
    out = tmp_path / "report.html"
    assert main(["compare", "--pipeline", "taxi", "--diff", "--format", "html", "-o", str(out),
                 "--db", store_url]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert main(["compare", "--filter", "custom_properties.git_commit.string_value = 'c0ffee1'",
                 "--format", "markdown", "--db", store_url]) == 0
    assert "| taxi/r1 |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["taxi/r9"], "unknown run 'taxi/r9'"),
        (["taxi/r1", "--metric", "f1"], "no run has a metric named 'f1'"),
        (["taxi/r1", "--pipeline", "taxi"], "choose one way to select runs"),
        (["--sweep", "x", "--filter", "name = 'a'"], "choose one way to select runs"),
        (["taxi/r1", "--minimize"], "need --metric"),
    ],
)
def test_cli_bad_input_exits_2(taxi_store, store_url, capsys, args, message):
    assert main(["compare", *args, "--db", store_url]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_rest_compare(taxi_store):
    client = TestClient(create_app(taxi_store))
    answer = client.get("/api/v1/compare", params={"pipeline": "taxi", "last": 2, "metric": "accuracy"})
    assert answer.status_code == 200
    data = answer.json()
    assert [r["run"] for r in data["runs"]] == ["taxi/r2", "taxi/r3"] and data["best"] == "taxi/r2"
    assert data["ties"] == ["taxi/r2", "taxi/r3"]
    answer = client.get("/api/v1/compare", params=[("runs", "taxi/r1"), ("runs", "taxi/r2"), ("format", "html")])
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    answer = client.get("/api/v1/compare", params={"runs": "taxi/r1", "format": "markdown", "diff": "true"})
    assert answer.status_code == 200 and answer.text.startswith("## Comparing 1 run")
    assert "/api/v1/compare" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"runs": "taxi/r9"}, "unknown run"),
        ({"pipeline": "taxi", "metric": "f1"}, "no run has a metric named 'f1'"),
        ({"pipeline": "taxi", "runs": "taxi/r1"}, "choose one way"),
        ({"pipeline": "taxi", "format": "pdf"}, "format"),
        ({}, "name the runs to compare"),
    ],
)
def test_rest_bad_input_is_400(taxi_store, params, message):
    answer = TestClient(create_app(taxi_store)).get("/api/v1/compare", params=params)
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_ARGUMENT" and message in answer.json()["message"]
