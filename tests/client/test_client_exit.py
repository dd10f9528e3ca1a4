"""A step never waits on a server it cannot reach: it leaves within 2 s, says where its records wait, loses none.

Every test runs the step as a subprocess with the defaults as shipped (no
``MLINEAGE_JOURNAL_*`` timeouts set), against each way a server can be out of
reach: nothing listening, an unknown host, a server killed in the middle of
the step or frozen in the middle of a send, a host that accepts connections and never answers, and TLS on one
side only. Afterwards the records reach a real server exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from client_server import Server, free_port
from client_support import metric_series

import mlineage
from mlineage.client import journal
from mlineage.proto import metadata_store_pb2 as pb

# The promise is 2 s for the exit; the whole process (interpreter start, imports, the step) gets 3 s.
EXIT_LIMIT_S = 2.0
PROCESS_LIMIT_S = 3.0

STEP = """
import sys, time
import mlineage

url, run_id, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
pause = len(sys.argv) > 4
with mlineage.run("exit", run_id=run_id, url=url) as run:
    with run.step("Trainer") as step:
        step.log_params(lr=0.1)
        for i in range(points):
            step.log_metric("loss", float(i))
        if pause:  # the test does something to the server meanwhile
            print("paused", flush=True)
            sys.stdin.readline()
            for i in range(points, 2 * points):
                step.log_metric("loss", float(i))
        step.output("Model", f"gs://exit/{run_id}/model")
    print("leaving", time.time(), flush=True)
"""


def shipped_env(journal_dir: Path) -> dict[str, str]:
    """The environment with this test's journal and none of the exit knobs set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLINEAGE_JOURNAL_", "MLINEAGE_SEND_"))}
    env.update(MLINEAGE_JOURNAL_DIR=str(journal_dir), MLINEAGE_LOG_LEVEL="WARNING")
    env.pop("MLINEAGE_URL", None)
    return env


def mlineage_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlineage.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


class Timed:
    """A finished step process: its output, and how long it took in all and after its last line of work."""

    def __init__(self, done: subprocess.CompletedProcess, started: float, ended: float, stdout: str) -> None:
        self.returncode = done.returncode
        self.stdout = stdout
        self.stderr = done.stderr
        self.total_s = ended - started
        leaving = [line for line in stdout.splitlines() if line.startswith("leaving ")]
        self.exit_s = ended - float(leaving[-1].split()[1]) if leaving else None

    def assert_left_quickly(self, journal_dir: Path) -> None:
        assert self.returncode == 0, self.stderr
        assert self.total_s < PROCESS_LIMIT_S, (self.total_s, self.stderr)
        if self.exit_s is not None:
            assert self.exit_s < EXIT_LIMIT_S, (self.exit_s, self.stderr)
        assert_one_line_saying_where(self.stderr, journal_dir)


def assert_one_line_saying_where(stderr: str, journal_dir: Path) -> None:
    """Stderr is one mlineage line naming the journal: no traceback, no gRPC core log lines."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mlineage: "), stderr
    assert f"they wait in the journal {journal_dir}" in lines[0], stderr


def run_step(url: str, run_id: str, journal_dir: Path, points: int = 50) -> Timed:
    started = time.time()
    done = subprocess.run([sys.executable, "-c", STEP, url, run_id, str(points)], capture_output=True, text=True,
                          timeout=120, env=shipped_env(journal_dir), stdin=subprocess.DEVNULL)
    return Timed(done, started, time.time(), done.stdout)


def pending_records(journal_dir: Path, url: str) -> int:
    return sum(s.records_pending for s in journal.status(journal_dir) if s.url == url)


def assert_delivered_once(url: str, run_id: str, points: int) -> None:
    """The store holds the step once: one COMPLETE execution, every metric point once, one model."""
    store = mlineage.connect(url)
    try:
        context = store.get_context_by_type_and_name("pipeline_run", f"exit/{run_id}")
        assert context is not None
        [trainer] = store.get_executions_by_context(context.id)
        assert trainer.last_known_state == pb.Execution.COMPLETE
        [series] = metric_series(store, [trainer.id])
        assert list(series.seq) == list(range(1, points + 1))
        assert list(series.value) == [float(i) for i in range(points)]
        [model] = store.get_artifacts_by_context(context.id)
        assert model.uri == f"gs://exit/{run_id}/model"
        outputs = [e for e in store.get_events_by_execution_ids([trainer.id]) if e.type == pb.Event.OUTPUT]
        assert len(outputs) == 1
    finally:
        store.close()


def flush(journal_dir: Path, *args: str) -> subprocess.CompletedProcess:
    done = mlineage_cli("journal", "flush", "--dir", str(journal_dir), *args, env=shipped_env(journal_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def journal_dir(tmp_path) -> Path:
    return tmp_path / "journal"


# --- nothing listening ------------------------------------------------------------------------------


def test_a_step_leaves_at_once_when_nothing_listens_and_the_server_gets_its_records_later(tmp_path, journal_dir):
    port = free_port()
    url = f"grpc://127.0.0.1:{port}"
    step = run_step(url, "refused", journal_dir)
    step.assert_left_quickly(journal_dir)
    assert "Connection refused" in step.stderr or "failed to connect" in step.stderr
    assert pending_records(journal_dir, url) > 50

    with Server(f"sqlite:///{tmp_path / 'later.db'}", port=port):
        flush(journal_dir)
        flush(journal_dir)  # a second flush sends nothing twice
        assert_delivered_once(url, "refused", 50)
    assert journal.segments(journal_dir) == []


def test_mlineage_run_leaves_at_once_when_nothing_listens(tmp_path, journal_dir):
    url = f"grpc://127.0.0.1:{free_port()}"
    env = {**shipped_env(journal_dir), "MLINEAGE_URL": url}
    started = time.time()
    done = mlineage_cli("run", "--pipeline", "p", "--run", "r", "--step", "s", "--", "true", env=env)
    elapsed = time.time() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < PROCESS_LIMIT_S, (elapsed, done.stderr)
    assert f"they wait in the journal {journal_dir}" in done.stderr and "Traceback" not in done.stderr
    assert pending_records(journal_dir, url) > 0


# --- an unknown host (the README's own example URL) -------------------------------------------------


def test_a_step_leaves_at_once_when_the_host_is_unknown(journal_dir):
    url = "grpc://metadata:8080"
    step = run_step(url, "unknown-host", journal_dir)
    step.assert_left_quickly(journal_dir)
    assert pending_records(journal_dir, url) > 50


# --- a server killed in the middle of the step ------------------------------------------------------


def test_a_step_whose_server_is_killed_midway_leaves_at_once_and_loses_nothing(tmp_path, journal_dir):
    server = Server(f"sqlite:///{tmp_path / 'killed.db'}").start()
    try:
        started = time.time()
        process = subprocess.Popen([sys.executable, "-c", STEP, server.url, "killed", "200", "pause"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=shipped_env(journal_dir))
        assert process.stdout.readline().strip() == "paused"
        deadline = time.monotonic() + 30
        while pending_records(journal_dir, server.url) and time.monotonic() < deadline:
            time.sleep(0.05)  # the server holds the first half
        server.kill()
        stdout, stderr = process.communicate("go\n", timeout=60)
        step = Timed(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), started,
                     time.time(), stdout)
        assert step.returncode == 0, stderr
        assert step.exit_s < EXIT_LIMIT_S, (step.exit_s, stderr)
        assert_one_line_saying_where(stderr, journal_dir)
        assert pending_records(journal_dir, server.url) >= 200

        server.start()
        flush(journal_dir)
        assert_delivered_once(server.url, "killed", 400)
        assert journal.segments(journal_dir) == []
    finally:
        server.stop()


# --- a host that accepts connections and never answers ----------------------------------------------


class SilentServer:
    """Accepts TCP connections on a port and never sends a byte."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        for connection in self.accepted:
            connection.close()
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.socket.close()
        self._thread.join(timeout=5)


def test_a_step_leaves_at_once_when_the_server_accepts_but_never_answers(tmp_path, journal_dir):
    silent = SilentServer()
    url = f"grpc://127.0.0.1:{silent.port}"
    try:
        step = run_step(url, "silent", journal_dir)
        assert silent.accepted, "the step never connected"
    finally:
        silent.close()
    step.assert_left_quickly(journal_dir)
    assert pending_records(journal_dir, url) > 50

    with Server(f"sqlite:///{tmp_path / 'after-silence.db'}", port=silent.port):
        flush(journal_dir)
        assert_delivered_once(url, "silent", 50)


# --- the server with records to take: the step waits for it --------------------------------------


def test_a_step_waits_for_a_reachable_server_until_it_holds_everything(tmp_path, journal_dir):
    """A large last batch (thousands of points and artifacts in one send) is waited for, not abandoned."""
    with Server(f"sqlite:///{tmp_path / 'up.db'}") as server:
        step = run_step(server.url, "up", journal_dir, points=20000)
        assert step.returncode == 0, step.stderr
        assert "wait in the journal" not in step.stderr
        assert journal.segments(journal_dir) == []
        assert_delivered_once(server.url, "up", 20000)


# --- TLS on one side only -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1: (ca.pem, the serve flags)."""
    from tests.api.test_grpc_tls import CA  # by path: another directory's test module

    directory = tmp_path_factory.mktemp("pki")
    ca = CA(directory, "exit-test-ca")
    issued = ca.issue("server", server=True)
    return ca.files.cert, ("--tls-cert", str(issued.cert), "--tls-key", str(issued.key))


def test_a_plaintext_step_leaves_at_once_when_the_server_speaks_tls(tmp_path, journal_dir, server_tls):
    _, tls_args = server_tls
    db = f"sqlite:///{tmp_path / 'tls.db'}"
    port = free_port()
    url = f"grpc://127.0.0.1:{port}"
    with Server(db, port=port, extra_args=tls_args):
        step = run_step(url, "plain-to-tls", journal_dir)
    step.assert_left_quickly(journal_dir)
    assert pending_records(journal_dir, url) > 50
    with Server(db, port=port):  # the same server, now in plaintext as the step expected
        flush(journal_dir)
        assert_delivered_once(url, "plain-to-tls", 50)


def test_a_tls_step_leaves_at_once_when_the_server_speaks_plaintext(tmp_path, journal_dir, server_tls):
    ca, tls_args = server_tls
    db = f"sqlite:///{tmp_path / 'plain.db'}"
    port = free_port()
    url = f"grpcs://127.0.0.1:{port}?ca={ca}"
    with Server(db, port=port):
        step = run_step(url, "tls-to-plain", journal_dir)
    step.assert_left_quickly(journal_dir)
    assert pending_records(journal_dir, url) > 50
    with Server(db, port=port, extra_args=tls_args):
        flush(journal_dir)
        assert_delivered_once(url, "tls-to-plain", 50)


# --- a server that stops answering in the middle of a send (frozen, not dead) -------------------------


def test_a_step_whose_server_freezes_midway_leaves_at_once_and_loses_nothing(tmp_path, journal_dir):
    server = Server(f"sqlite:///{tmp_path / 'frozen.db'}").start()
    try:
        started = time.time()
        process = subprocess.Popen([sys.executable, "-c", STEP, server.url, "frozen", "200", "pause"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=shipped_env(journal_dir))
        assert process.stdout.readline().strip() == "paused"
        deadline = time.monotonic() + 30
        while pending_records(journal_dir, server.url) and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.send_signal(signal.SIGSTOP)  # connections stay open; nothing answers
        try:
            stdout, stderr = process.communicate("go\n", timeout=60)
        finally:
            server.process.send_signal(signal.SIGCONT)
        step = Timed(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), started,
                     time.time(), stdout)
        assert step.returncode == 0, stderr
        assert step.exit_s < EXIT_LIMIT_S, (step.exit_s, stderr)
        assert_one_line_saying_where(stderr, journal_dir)

        flush(journal_dir)
        assert_delivered_once(server.url, "frozen", 400)
        assert journal.segments(journal_dir) == []
    finally:
        server.stop()
