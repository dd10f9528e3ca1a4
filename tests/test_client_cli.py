"""`mlineage run -- COMMAND`: an execution around any command, embedded and through `mlineage serve`."""

from __future__ import annotations

import os
import subprocess
import sys

import client_support
from client_support import props

import mlineage
from mlineage.proto import metadata_store_pb2 as pb

server, target = client_support.server, client_support.target  # fixtures


def mlineage_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlineage.cli", "run", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def _step(store, run_name: str) -> pb.Execution:
    context = store.get_context_by_type_and_name("pipeline_run", run_name)
    [step] = store.get_executions_by_context(context.id)
    return step


def test_a_command_that_succeeds_is_complete_with_its_outputs(target):
    run_id = client_support.unique("ok")
    done = mlineage_run("--url", target, "--pipeline", "cli", "--run", run_id, "--step", "train",
                        "--param", "epochs=3", "--input", "Examples=gs://cli/examples",
                        "--output", "Model=gs://cli/model", "--",
                        sys.executable, "-c", "import os; print('hello from', os.environ['MLINEAGE_RUN_ID'])")
    assert done.returncode == 0, done.stderr
    assert f"hello from {run_id}" in done.stdout  # the command's output passes through
    store = mlineage.connect(target)
    step = _step(store, f"cli/{run_id}")
    values = props(step)
    assert step.last_known_state == pb.Execution.COMPLETE
    assert values["exit_code"] == 0 and values["param.epochs"] == 3 and values["duration_s"] > 0
    assert values["command"].startswith(sys.executable)
    events = {(e.type, a.uri) for e in store.get_events_by_execution_ids([step.id])
              for a in store.get_artifacts_by_id([e.artifact_id])}
    assert events == {(pb.Event.INPUT, "gs://cli/examples"), (pb.Event.OUTPUT, "gs://cli/model")}


def test_a_command_that_fails_is_failed_with_its_exit_code_and_output_tail(target):
    run_id = client_support.unique("fail")
    script = "import sys\nfor i in range(100): print('line', i)\nprint('bad input', file=sys.stderr)\nsys.exit(3)"
    done = mlineage_run("--url", target, "--pipeline", "cli", "--run", run_id, "--tail-lines", "5", "--",
                        sys.executable, "-c", script)
    assert done.returncode == 3
    assert "line 99" in done.stdout and "bad input" in done.stderr
    store = mlineage.connect(target)
    step = _step(store, f"cli/{run_id}")
    values = props(step)
    assert step.last_known_state == pb.Execution.FAILED
    assert values["exit_code"] == 3 and values["error"].endswith("exit code 3")
    assert values["stdout_tail"].splitlines() == [f"line {i}" for i in range(95, 100)]
    assert values["stderr_tail"] == "bad input"
    assert values["step"] == "python" or values["step"].startswith("python")
    run_context = store.get_context_by_type_and_name("pipeline_run", f"cli/{run_id}")
    assert props(run_context)["status"] == "FAILED"


def test_a_command_that_cannot_start_exits_127(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    done = mlineage_run("--url", url, "--", str(tmp_path / "no-such-program"))
    assert done.returncode == 127
    [step] = mlineage.connect(url).get_executions()
    assert step.last_known_state == pb.Execution.FAILED and "cannot start" in props(step)["error"]
