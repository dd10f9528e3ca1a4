"""`mlineage run -- COMMAND`: an execution around any command, embedded and through `mlineage serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import client_support
import pytest
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


def test_mlineage_run_says_what_it_recorded_and_where(target):
    run_id = client_support.unique("said")
    done = mlineage_run("--url", target, "--pipeline", "cli", "--run", run_id, "--step", "train", "--", "true")
    assert done.returncode == 0, done.stderr
    store = mlineage.connect(target)
    step = _step(store, f"cli/{run_id}")
    context = store.get_context_by_type_and_name("pipeline_run", f"cli/{run_id}")
    assert done.stderr.strip().splitlines()[-1] == (
        f"mlineage: recorded execution {step.id} (cli/{run_id}/train, type mlineage.Command, COMPLETE) "
        f"in run context {context.id} (cli/{run_id}) at {target}")


def test_every_command_is_one_execution_type_with_the_step_as_its_name_and_the_command_line_kept(target):
    run_id = client_support.unique("types")
    for command in (["true"], ["echo", "hello world"], [sys.executable, "-c", "pass"]):
        done = mlineage_run("--url", target, "--pipeline", "cli", "--run", run_id, "--", *command)
        assert done.returncode == 0, done.stderr
    store = mlineage.connect(target)
    context = store.get_context_by_type_and_name("pipeline_run", f"cli/{run_id}")
    steps = store.get_executions_by_context(context.id)
    assert {store.get_execution_types_by_id([s.type_id])[0].name for s in steps} == {"mlineage.Command"}
    assert {s.name for s in steps} == {f"cli/{run_id}/true", f"cli/{run_id}/echo",
                                        f"cli/{run_id}/{os.path.basename(sys.executable)}"}
    assert {props(s)["command"] for s in steps} >= {"true", "echo 'hello world'"}
    assert {t.name for t in store.get_execution_types()} == {"mlineage.Command"}
    # The same step twice in one run: two executions, the second name made unique.
    again = mlineage_run("--url", target, "--pipeline", "cli", "--run", run_id, "--", "true")
    assert again.returncode == 0, again.stderr
    names = sorted(s.name for s in store.get_executions_by_context(context.id) if "/true" in s.name)
    assert len(names) == 2 and names[0] == f"cli/{run_id}/true" and names[1].startswith(f"cli/{run_id}/true#")


def test_asking_for_gpus_that_are_not_there_is_warned_about(tmp_path):
    url = f"sqlite:///{tmp_path / 'gpu.db'}"
    done = mlineage_run("--url", url, "--gpus", "2", "--", "true", env={"CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 0, done.stderr
    assert "asked for 2 GPU(s) and found none" in done.stderr
    [step] = mlineage.connect(url).get_executions()
    values = props(step)
    assert values["gpus_requested"] == 2 and values["gpus_allocated"] == 0
    assert values["gpu_warning"].startswith("asked for 2 GPU(s) and found none")


def test_an_interrupted_command_is_canceled_as_a_keyboard_interrupt_is_in_the_python_api(target):
    run_id = client_support.unique("int")
    script = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); "  # dies of the signal
              "print('ready', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-m", "mlineage.cli", "run", "--url", target, "--pipeline", "cli",
                                "--run", run_id, "--step", "long", "--", sys.executable, "-c", script],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "CANCELED" in stderr and "Traceback" not in stderr

    with pytest.raises(KeyboardInterrupt):  # the Python API, for comparison
        with mlineage.run("cli", run_id=f"{run_id}-py", url=target) as run:
            with run.step("long"):
                raise KeyboardInterrupt
    store = mlineage.connect(target)
    by_cli, by_api = _step(store, f"cli/{run_id}"), _step(store, f"cli/{run_id}-py")
    for step in (by_cli, by_api):
        assert step.last_known_state == pb.Execution.CANCELED
        assert props(step)["error"] == "KeyboardInterrupt"
    assert props(by_cli)["exit_code"] == 130
    for name in (f"cli/{run_id}", f"cli/{run_id}-py"):
        assert props(store.get_context_by_type_and_name("pipeline_run", name))["status"] == "CANCELED"
