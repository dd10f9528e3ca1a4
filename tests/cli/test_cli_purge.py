"""`mlineage purge` on real SQLite files and PostgreSQL: a dry run prints count and sample, a real run deletes them."""

from __future__ import annotations

import json
import time

import pytest
from purge_scenarios import LIVE_PUSHED, artifact_names, write_runs

from mlineage.cli import main
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb


@pytest.fixture
def runs(store_url) -> dict:
    store = Store(store_url)
    ids = write_runs(store, "run", [pb.Artifact.LIVE, pb.Artifact.DELETED])
    store.close()
    return {"url": store_url, **ids}


def _names(url: str) -> set[str]:
    store = Store(url)
    try:
        return artifact_names(store)
    finally:
        store.close()


def test_a_dry_run_prints_the_count_and_a_sample_and_changes_nothing(runs, capsys):
    before = _names(runs["url"])
    argv = ["purge", "--kind", "artifacts", "--filter", "contexts_r.type = 'Run'", "--keep-upstream-of",
            LIVE_PUSHED, "--older-than", "0s", "--dry-run", "--sample", "2", "--db", runs["url"]]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "dry run: 5 artifacts would be deleted"
    assert lines[1].split() == ["id", "type", "name", "uri"]
    assert lines[2].split() == [str(runs["run0/evaluation"]), "ModelEvaluation", "run0-evaluation",
                                "/store/run0-evaluation"]
    assert lines[3].split()[2] == "run1-examples"
    assert lines[4].strip() == "… and 3 more"
    assert _names(runs["url"]) == before


def test_a_real_run_deletes_what_the_dry_run_counted(runs, capsys):
    argv = ["purge", "--kind", "artifacts", "--filter", "", "--keep-upstream-of", LIVE_PUSHED,
            "--batch-size", "2", "--db", runs["url"], "--format", "json"]
    assert main([*argv, "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    real = json.loads(capsys.readouterr().out)
    assert (dry["count"], dry["deleted"], dry["dry_run"]) == (5, 0, True)
    assert (real["count"], real["deleted"], real["dry_run"]) == (5, 5, False)
    assert real["sample"] == dry["sample"]
    assert _names(runs["url"]) == {"run0-examples", "run0-model", "run0-pushed"}
    # The deletions were the CLI's.
    store = Store(runs["url"])
    try:
        assert store.get_artifact_history(runs["run1/model"])[-1].surface == "cli"
    finally:
        store.close()


def test_history_retention_prints_what_it_removed(runs, capsys):
    store = Store(runs["url"])
    store.delete_artifacts([runs["run1/evaluation"]])
    store.close()
    time.sleep(0.01)
    assert main(["purge", "--history-older-than", "0ms", "--dry-run", "--db", runs["url"]]) == 0
    [line] = capsys.readouterr().out.splitlines()
    count = int(line.split()[2])
    assert count > 0 and line == f"dry run: {count} history rows older than 0ms would be removed"
    assert main(["purge", "--history-older-than", "0ms", "--db", runs["url"]]) == 0
    assert capsys.readouterr().out == f"removed {count} history rows older than 0ms\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--kind", "artifacts", "--filter", "uri ="], "error: filter: Invalid"),
        (["--kind", "artifacts", "--filter", "", "--older-than=-3d"], "error: --older-than:"),
        (["--kind", "artifacts", "--filter", "", "--older-than", "3 weeks"], "error: --older-than:"),
        (["--history-older-than", "soon"], "error: --history-older-than:"),
        (["--kind", "artifacts"], "error: --kind needs --filter"),
        ([], "error: give --kind"),
        (["--kind", "artifacts", "--filter", "", "--keep-upstream-of", "state = SHINY"],
         "error: keep_upstream_of:"),
    ],
    ids=["malformed-filter", "negative", "unknown-unit", "bad-window", "kind-without-filter", "nothing",
         "malformed-keep"],
)
def test_bad_input_is_one_line_and_deletes_nothing(runs, capsys, arguments, message):
    before = _names(runs["url"])
    assert main(["purge", *arguments, "--db", runs["url"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert _names(runs["url"]) == before


def test_purge_works_on_the_database_not_through_a_server(capsys):
    assert main(["purge", "--kind", "artifacts", "--filter", "", "--db", "grpc://127.0.0.1:9"]) == 2
    assert "works on the database itself" in capsys.readouterr().err
