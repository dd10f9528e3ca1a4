"""The journal: a step logs while the server is down or dies, and the store ends up with every record once."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time

import pytest
from client_server import Server, free_port
from client_support import execution, metric_series, props, unique

import mlineage
from mlineage.client import journal
from mlineage.client.records import encode
from mlineage.proto import metadata_store_pb2 as pb


@pytest.fixture
def journal_dir(tmp_path, monkeypatch):
    directory = tmp_path / "journal"
    monkeypatch.setenv("MLINEAGE_JOURNAL_DIR", str(directory))
    return directory


def _cli(*args: str, env_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlineage.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "MLINEAGE_JOURNAL_DIR": str(env_dir)})


def test_a_step_carries_on_with_no_server_and_the_journal_delivers_later(tmp_path, journal_dir, monkeypatch):
    monkeypatch.setenv("MLINEAGE_JOURNAL_EXIT_TIMEOUT", "0.5")
    server = Server(f"sqlite:///{tmp_path / 'late.db'}", port=free_port())  # not started yet
    durations = []
    with mlineage.run("offline", run_id="r1", url=server.url) as run:
        with run.step("Trainer") as step:
            step.log_params(lr=0.1)
            for i in range(500):
                started = time.perf_counter()
                step.log_metric("loss", 1.0 / (i + 1))
                durations.append(time.perf_counter() - started)
            step.output("Model", "gs://offline/model")
    assert statistics.median(durations) < 0.001 and max(durations) < 0.5  # never waited for the network

    status = _cli("journal", "status", env_dir=journal_dir)
    assert status.returncode == 0 and "orphaned" in status.stdout
    [state] = journal.status(journal_dir)
    assert state.records_pending >= 504 and state.url == server.url

    with server:
        flushed = _cli("journal", "flush", env_dir=journal_dir)
        assert flushed.returncode == 0, flushed.stderr
        assert journal.status(journal_dir) == []
        store = mlineage.connect(server.url)
        trainer = execution(store, step.external_id)
        assert trainer.last_known_state == pb.Execution.COMPLETE
        assert props(trainer)["param.lr"] == 0.1
        [series] = metric_series(store, [trainer.id])
        assert len(series.seq) == 500
        # Flushing again sends nothing twice.
        assert _cli("journal", "flush", env_dir=journal_dir).returncode == 0
        assert len(metric_series(store, [trainer.id])[0].seq) == 500


def test_the_next_process_sends_what_an_earlier_one_left(tmp_path, journal_dir):
    server = Server(f"sqlite:///{tmp_path / 'next.db'}", port=free_port())
    script = (
        "import mlineage\n"
        f"with mlineage.run('handover', run_id='r', url={server.url!r}) as run:\n"
        "    with run.step('First') as step:\n"
        "        for i in range(100): step.log_metric('m', i)\n"
    )
    env = {**__import__("os").environ, "MLINEAGE_JOURNAL_DIR": str(journal_dir),
           "MLINEAGE_JOURNAL_EXIT_TIMEOUT": "0.2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and "will be sent by the next process" in done.stderr
    with server:
        with mlineage.run("handover", run_id="r2", url=server.url) as run:
            with run.step("Second"):
                pass
        store = mlineage.connect(server.url)
        steps = {props(e)["step"]: e for e in store.get_executions()}
        assert set(steps) == {"First", "Second"}
        assert len(metric_series(store, [steps["First"].id])[0].seq) == 100
    assert journal.segments(journal_dir) == []


def test_a_refused_record_is_set_aside_and_the_rest_is_delivered(tmp_path, journal_dir):
    url = f"sqlite:///{tmp_path / 'dead.db'}"
    writer = journal.SegmentWriter(journal.journal_dir(journal_dir), url)
    records = [
        ["ctx", "p", "pipeline", "dead-letters", {}, None],
        ["exe", "e", "Trainer", "RUNNING", {}, ["p"]],
        ["m", "e", "loss", 1, 1, 0.5, 1000],
        ["m", "e", "", 2, 2, 0.5, 1000],  # no name: refused
        ["m", "e", "loss", 3, 3, 0.25, 1000],
        ["exe", "e", "Trainer", "NO-SUCH-STATE", {}, ["p"]],  # malformed: refused
        ["exe", "e", "Trainer", "COMPLETE", {}, ["p"]],
    ]
    for record in records:
        writer.append(encode(record))
    writer.append(b'{"half a rec')  # a torn last line: not sent, not lost
    writer.close()
    results = list(journal.flush(journal_dir))
    assert [(r.sent, r.error, r.left) for r in results] == [(7, None, 0)]
    store = mlineage.connect(url)
    [trainer] = store.get_executions()
    assert trainer.last_known_state == pb.Execution.COMPLETE
    assert list(metric_series(store, [trainer.id])[0].seq) == [1, 3]
    dead = [json.loads(line) for line in open(next(journal_dir.glob("*.dead")))]
    assert [d["error"].split(":")[0] for d in dead] == ["InvalidArgumentError", "KeyError"]


def test_records_survive_the_server_being_killed_twice_and_are_stored_exactly_once(tmp_path, journal_dir):
    """The fault test: 2,000 records logged while `mlineage serve` is SIGKILLed and restarted twice."""
    server = Server(f"sqlite:///{tmp_path / 'fault.db'}").start()
    outages = []

    def chaos() -> None:
        for _ in range(2):
            time.sleep(0.8)
            server.kill()
            outages.append(time.monotonic())
            time.sleep(0.7)
            server.start()

    try:
        pipeline = unique("fault")
        keys = []
        durations = []
        chaos_thread = threading.Thread(target=chaos)
        with mlineage.run(pipeline, run_id="r", url=server.url) as run:
            with run.step("Trainer") as step:
                chaos_thread.start()
                for i in range(2000):
                    started = time.perf_counter()
                    if i % 5 == 4:
                        keys.append(step.output("Shard", f"gs://fault/{i}", index=i).external_id)  # 400
                    elif i % 20 == 0:
                        step.log_param(f"p{i}", i)  # 100
                    else:
                        step.log_metric("loss", float(i))  # 1,500
                    durations.append(time.perf_counter() - started)
                    time.sleep(0.0015)
                chaos_thread.join()
            assert run.flush(120), "the journal did not drain after the restarts"
        assert len(outages) == 2

        store = mlineage.connect(server.url)
        trainer = execution(store, step.external_id)
        assert trainer.last_known_state == pb.Execution.COMPLETE
        [series] = metric_series(store, [trainer.id])
        assert list(series.seq) == list(range(1, 1501))
        assert list(series.value) == [float(i) for i in range(2000) if i % 5 != 4 and i % 20 != 0]
        artifacts = store.get_artifacts_by_type("Shard")
        assert sorted(a.external_id for a in artifacts) == sorted(keys) and len(artifacts) == 400
        outputs = [e for e in store.get_events_by_execution_ids([trainer.id]) if e.type == pb.Event.OUTPUT]
        assert len(outputs) == 400 and len({e.artifact_id for e in outputs}) == 400
        assert sum(1 for name in props(trainer) if name.startswith("param.")) == 100
        assert len(store.get_executions()) == 1
        run_context = store.get_context_by_type_and_name("pipeline_run", f"{pipeline}/r")
        assert len(store.get_artifacts_by_context(run_context.id)) == 400
        assert statistics.median(durations) < 0.001
    finally:
        server.stop()
