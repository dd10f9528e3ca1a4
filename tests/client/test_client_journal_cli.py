"""`mlineage journal flush|retarget|drop`: progress and a summary, a server that moved, deleting with consent."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from client_server import Server, free_port
from client_support import metric_series

import mlineage
from mlineage.client import journal
from mlineage.client import records as rec


def cli(*args: str, journal_dir: Path, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLINEAGE_JOURNAL_")}
    return subprocess.run([sys.executable, "-m", "mlineage.cli", "journal", *args, "--dir", str(journal_dir)],
                          capture_output=True, text=True, timeout=180, env=env, stdin=stdin)


def write_segment(journal_dir: Path, url: str, name: str, points: int, *, keep_open: bool = False):
    """A segment as a step leaves it: a pipeline context, a RUNNING execution, ``points`` metric points."""
    writer = journal.SegmentWriter(journal.journal_dir(journal_dir), url)
    writer.append(rec.encode(["ctx", f"{name}-p", "pipeline", name, {}, None]))
    writer.append(rec.encode(["exe", f"{name}-e", "Trainer", "RUNNING", {}, [f"{name}-p"]]))
    for i in range(1, points + 1):
        writer.append(rec.encode(["m", f"{name}-e", "loss", i, i, float(i), 1000 + i]))
    if not keep_open:
        writer.close()
    return writer


def points_stored(url: str, name: str) -> list[int]:
    store = mlineage.connect(url)
    try:
        [execution] = store.get_executions_by_external_ids([f"{name}-e"])
        [series] = metric_series(store, [execution.id])
        return list(series.seq)
    finally:
        store.close()


# --- flush ----------------------------------------------------------------------------------------


def test_flush_shows_progress_per_batch_and_segment_and_a_summary(tmp_path):
    journal_dir = tmp_path / "journal"
    db = f"sqlite:///{tmp_path / 'flush.db'}"
    big = write_segment(journal_dir, db, "big", 12000)  # three batches
    small = write_segment(journal_dir, db, "small", 10)
    away = f"grpc://127.0.0.1:{free_port()}"
    unreachable = write_segment(journal_dir, away, "away", 5)
    busy = write_segment(journal_dir, db, "busy", 3, keep_open=True)  # a running process holds it
    try:
        done = cli("flush", journal_dir=journal_dir)
    finally:
        busy.close()
    assert done.returncode == 1, done.stdout + done.stderr  # records are left
    lines = done.stdout.splitlines()
    assert lines[0] == f"journal {journal_dir}: 4 segment(s), {12002 + 12 + 7 + 5} record(s) to send"
    assert f"  [1/4] {big.path.name}: 5000/12002 record(s) sent" in lines
    assert f"  [1/4] {big.path.name}: 10000/12002 record(s) sent" in lines
    assert f"  [1/4] {big.path.name}: sent 12002 record(s) to {db}" in lines
    assert f"  [2/4] {small.path.name}: sent 12 record(s) to {db}" in lines
    [away_line] = [line for line in lines if unreachable.path.name in line]
    assert away_line.startswith(f"  [3/4] {unreachable.path.name}: 7 record(s) left, sent 0 (UnavailableError")
    assert f"  [4/4] {busy.path.name}: skipped, in use by a running process (5 record(s) pending)" in lines
    assert lines[-1] == ("flushed 2 segment(s), 12014 record(s) sent; 1 segment(s) failed, 1 in use; "
                         "12 record(s) left")
    assert points_stored(db, "big") == list(range(1, 12001))
    assert points_stored(db, "small") == list(range(1, 11))
    assert {s.path for s in journal.status(journal_dir)} == {unreachable.path, busy.path}

    again = cli("flush", journal_dir=journal_dir)
    assert "flushed 1 segment(s), 5 record(s) sent" in again.stdout  # the busy one, now released
    assert points_stored(db, "big") == list(range(1, 12001))  # nothing twice


def test_flush_of_an_empty_journal_says_so(tmp_path):
    done = cli("flush", journal_dir=tmp_path / "journal")
    assert done.returncode == 0 and done.stdout.strip() == f"journal {tmp_path / 'journal'}: nothing to send"


# --- retarget -------------------------------------------------------------------------------------


def test_retarget_moves_segments_to_the_new_server_keeping_what_was_already_acked(tmp_path):
    journal_dir = tmp_path / "journal"
    old = "grpc://metadata:8080"
    new = f"sqlite:///{tmp_path / 'moved-to-a-longer-path' / 'store.db'}"
    (tmp_path / "moved-to-a-longer-path").mkdir()
    writer = write_segment(journal_dir, old, "moved", 100)
    # The first 40 records reached the new store before the move (as if the old name had pointed there).
    lines, offset = journal.records_after(writer.path, 0, limit=40)
    store = mlineage.connect(new)
    rec.Applier(store).apply([rec.decode(line) for _, line in lines])
    store.close()
    journal.write_ack(writer.path, offset)
    other = write_segment(journal_dir, "grpc://elsewhere:1", "other", 1)

    done = cli("retarget", old, new, journal_dir=journal_dir)
    assert done.returncode == 0, done.stderr
    [segment] = [s for s in journal.status(journal_dir) if s.url == new]
    assert segment.records_pending == 62
    assert done.stdout.splitlines()[-1] == (f"retargeted 1 segment(s), 62 record(s), from {old} to {new}. "
                                            f"Send them with `mlineage journal flush --dir {journal_dir}`.")
    assert segment.path.name < other.path.name  # still sorted where the original was: oldest first
    assert journal.read_header(segment.path)["moved_from"] == old

    flushed = cli("flush", "--url", new, journal_dir=journal_dir)
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    assert "flushed 1 segment(s), 62 record(s) sent" in flushed.stdout
    assert points_stored(new, "moved") == list(range(1, 101))  # each point once
    assert [s.url for s in journal.status(journal_dir)] == ["grpc://elsewhere:1"]


def test_retarget_says_what_it_found_when_nothing_is_addressed_to_the_old_url(tmp_path):
    journal_dir = tmp_path / "journal"
    write_segment(journal_dir, "grpc://a:1", "a", 1)
    done = cli("retarget", "grpc://typo:1", "grpc://b:2", journal_dir=journal_dir)
    assert done.returncode == 1
    assert "no segment" in done.stderr and "grpc://a:1" in done.stderr
    bad = cli("retarget", "grpc://a:1", "http://b:2", journal_dir=journal_dir)
    assert bad.returncode == 2 and "not a store URL" in bad.stderr
    assert [s.url for s in journal.status(journal_dir)] == ["grpc://a:1"]


def test_retarget_leaves_a_segment_that_a_running_process_holds(tmp_path):
    journal_dir = tmp_path / "journal"
    writer = write_segment(journal_dir, "grpc://a:1", "held", 1, keep_open=True)
    try:
        done = cli("retarget", "grpc://a:1", "grpc://b:2", journal_dir=journal_dir)
    finally:
        writer.close()
    assert done.returncode == 1 and "in use by a running process" in done.stdout
    assert [s.url for s in journal.status(journal_dir)] == ["grpc://a:1"]


def test_a_step_logged_to_the_readmes_unknown_host_reaches_the_real_server_after_retarget(tmp_path):
    journal_dir = tmp_path / "journal"
    script = ("import mlineage\n"
              "with mlineage.run('moved', run_id='r', url='grpc://metadata:8080') as run:\n"
              "    with run.step('Trainer') as step:\n"
              "        for i in range(30): step.log_metric('loss', float(i))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLINEAGE_JOURNAL_")}
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=60,
                   env={**env, "MLINEAGE_JOURNAL_DIR": str(journal_dir)})
    with Server(f"sqlite:///{tmp_path / 'real.db'}") as server:
        assert cli("retarget", "grpc://metadata:8080", server.url, journal_dir=journal_dir).returncode == 0
        assert cli("flush", journal_dir=journal_dir).returncode == 0
        store = mlineage.connect(server.url)
        [trainer] = store.get_executions()
        assert list(metric_series(store, [trainer.id])[0].seq) == list(range(1, 31))
    assert journal.segments(journal_dir) == []


# --- drop -----------------------------------------------------------------------------------------


def test_drop_refuses_without_a_terminal_unless_told_yes(tmp_path):
    journal_dir = tmp_path / "journal"
    writer = write_segment(journal_dir, "grpc://gone:1", "gone", 4)
    refused = cli("drop", writer.path.name, journal_dir=journal_dir)
    assert refused.returncode == 2 and "--yes" in refused.stderr and "6 unsent record(s)" in refused.stderr
    assert writer.path.exists()

    dropped = cli("drop", writer.path.name[:20], "--yes", journal_dir=journal_dir)  # a unique start will do
    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stdout.strip() == f"dropped {writer.path.name}: 6 unsent record(s) deleted"
    assert list(journal_dir.iterdir()) == []


def _drop_in_a_terminal(segment: Path, journal_dir: Path, answer: str) -> tuple[int, str]:
    primary, secondary = pty.openpty()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLINEAGE_JOURNAL_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "mlineage.cli", "journal", "drop", segment.name, "--dir", str(journal_dir)],
            stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        os.write(primary, answer.encode())
        stdout, stderr = process.communicate(timeout=60)
        return process.returncode, stdout + stderr
    finally:
        os.close(primary)
        os.close(secondary)


def test_drop_asks_in_a_terminal_and_keeps_the_segment_unless_the_answer_is_yes(tmp_path):
    journal_dir = tmp_path / "journal"
    writer = write_segment(journal_dir, "grpc://gone:1", "gone", 1)
    code, output = _drop_in_a_terminal(writer.path, journal_dir, "n\n")
    assert code == 1 and "for good? [y/N]" in output and "kept" in output
    assert writer.path.exists()
    code, output = _drop_in_a_terminal(writer.path, journal_dir, "y\n")
    assert code == 0 and f"dropped {writer.path.name}" in output
    assert not writer.path.exists()


def test_drop_refuses_a_segment_in_use_and_a_name_that_matches_nothing(tmp_path):
    journal_dir = tmp_path / "journal"
    writer = write_segment(journal_dir, "grpc://a:1", "live", 1, keep_open=True)
    try:
        busy = cli("drop", writer.path.name, "--yes", journal_dir=journal_dir)
        assert busy.returncode == 1 and "in use by a running process" in busy.stderr
        assert writer.path.exists()
    finally:
        writer.close()
    missing = cli("drop", "no-such-segment", "--yes", journal_dir=journal_dir)
    assert missing.returncode == 1 and "no journal segment" in missing.stderr


# --- the knobs are documented where users look ----------------------------------------------------


@pytest.mark.parametrize("command", [["run"], ["journal"]])
def test_help_documents_the_journal_knobs(command):
    done = subprocess.run([sys.executable, "-m", "mlineage.cli", *command, "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for knob in ("MLINEAGE_JOURNAL_EXIT_TIMEOUT", "MLINEAGE_JOURNAL_STALL_TIMEOUT", "MLINEAGE_JOURNAL_DIR",
                 "MLINEAGE_SEND_TIMEOUT"):
        assert knob in done.stdout
