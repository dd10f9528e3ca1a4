"""Every command that reads takes every URL `mlineage.connect` takes: `lineage` through a server answers as on the database."""

from __future__ import annotations

import json
import runpy
import shutil

import pytest
from grpc_server import mlineage_server
from paths import SUPPORT

from mlineage.cli import build_parser, main
from mlineage.proto import metadata_store_pb2 as pb

scenarios = runpy.run_path(str(SUPPORT / "lineage_scenarios.py"))


@pytest.fixture
def chain(tmp_path, sqlite_template) -> tuple[str, dict]:
    import mlineage

    shutil.copy(sqlite_template, tmp_path / "chain.db")
    url = f"sqlite:///{tmp_path / 'chain.db'}"
    opened = mlineage.connect(url)
    ids = scenarios["build_graph"](opened, pb, scenarios["GRAPHS"]["chain"]())
    opened.close()
    return url, ids


@pytest.mark.parametrize(
    "arguments",
    [
        ["--artifact", "Model:a2", "--direction", "up"],
        ["--artifact", "Model:a2", "--depth", "1"],
        ["--artifact", "/data/a2", "--format", "json"],
        ["--execution", "Trainer:x2", "--format", "dot", "--direction", "down"],
        ["--artifact", "Dataset:d0", "--direction", "down", "--max-nodes", "3", "--format", "json"],
    ],
    ids=["tree-up", "depth-1", "json", "dot-down", "truncated"],
)
def test_lineage_through_a_server_answers_as_on_the_database(chain, capsys, arguments):
    url, _ = chain
    assert main(["lineage", "--db", url, *arguments]) == 0
    expected = capsys.readouterr().out
    with mlineage_server(url) as server:
        assert main(["lineage", "--db", f"grpc://{server.target}", *arguments]) == 0
        got = capsys.readouterr().out
    if "json" in arguments:
        def nodes(text: str) -> list:
            return sorted((n["kind"], n["id"], n.get("hop")) for n in json.loads(text)["nodes"] if "kind" in n)

        assert nodes(got) == nodes(expected)
    else:
        assert got == expected


def test_lineage_through_a_server_that_is_not_there_is_one_line(capsys):
    assert main(["lineage", "--url", "grpc://127.0.0.1:9", "--artifact", "1"]) == 2
    assert capsys.readouterr().err == "error: no mlineage server answers at grpc://127.0.0.1:9\n"


def test_help_lists_only_commands_that_exist(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "as they land" not in text  # no placeholder for commands to come
    listed = next(a for a in parser._actions if a.dest == "command").choices  # noqa: SLF001
    for name in listed:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
    assert set(listed) == {"serve", "db", "lineage", "metrics", "history", "purge", "import-mlmd", "copy", "export",
                           "restore", "run", "journal", "serving", "record", "compare", "token", "namespace",
                           "audit", "doctor"}
