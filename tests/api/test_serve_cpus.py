"""``mlineage serve --cpus``: the server's threads together on one CPU by default, following the load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from mlineage.api import cpu_placement
from mlineage.api.cpu_placement import CpuChoice, cpu_times, describe, idlest, own_ticks, parse
from mlineage.proto import metadata_store_service_pb2 as svc
from mlineage.proto import metadata_store_service_pb2_grpc as svc_grpc
from tests.support.client_server import Server

ALLOWED = cpu_placement.available()
linux_only = pytest.mark.skipif(ALLOWED is None, reason="thread affinity is Linux's")
several_cpus = pytest.mark.skipif(ALLOWED is None or len(ALLOWED) < 2, reason="needs two CPUs to choose from")


# --- what --cpus accepts ------------------------------------------------------------------------


def test_parse_modes_lists_and_ranges():
    allowed = frozenset(range(8))
    assert parse("auto", allowed) == CpuChoice("auto")
    assert parse(" ALL ", allowed) == CpuChoice("all")
    assert parse("3", allowed) == CpuChoice("list", frozenset({3}))
    assert parse("0,2, 4-6", allowed) == CpuChoice("list", frozenset({0, 2, 4, 5, 6}))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("x", "--cpus takes auto, all or CPU numbers such as 0,2 or 4-7; got 'x'"),
        ("1,", "--cpus takes auto, all or CPU numbers"),
        ("3-1", "'3-1' is not a CPU number or an ascending range"),
        ("-1", "--cpus takes auto, all or CPU numbers"),
        ("2,9-10", "CPU 9-10 is not available to this process (available: 0-3)"),
    ],
)
def test_parse_refuses_what_it_cannot_place(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(spec, frozenset(range(4)))


def test_a_list_needs_thread_affinity():
    assert parse("auto", None) == CpuChoice("auto")
    with pytest.raises(ValueError, match="this platform does not have; use --cpus all"):
        parse("0", None)


def test_describe_writes_ranges():
    assert describe({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert describe({4}) == "4"


# --- where auto goes ----------------------------------------------------------------------------


def _times(**loads: tuple[int, int]) -> dict[int, tuple[int, int]]:
    return {int(name[3:]): value for name, value in loads.items()}


def test_auto_moves_to_a_cpu_others_leave_idler():
    before = _times(cpu0=(0, 0), cpu1=(0, 0), cpu2=(0, 0))
    after = _times(cpu0=(95, 100), cpu1=(10, 100), cpu2=(40, 100))
    assert idlest(before, after, current=0, own=5, allowed=frozenset({0, 1, 2})) == 1


def test_auto_does_not_chase_its_own_load():
    # The server itself kept CPU 0 busy: without it CPU 0 is the idlest, so it stays.
    before = _times(cpu0=(0, 0), cpu1=(0, 0))
    after = _times(cpu0=(90, 100), cpu1=(20, 100))
    assert idlest(before, after, current=0, own=85, allowed=frozenset({0, 1})) == 0


def test_auto_stays_unless_another_cpu_is_idler_by_the_margin():
    before = _times(cpu0=(0, 0), cpu1=(0, 0))
    slightly = _times(cpu0=(50, 100), cpu1=(30, 100))  # 20 points idler: below the 25-point margin
    assert idlest(before, slightly, current=0, own=0, allowed=frozenset({0, 1})) == 0
    clearly = _times(cpu0=(60, 100), cpu1=(30, 100))
    assert idlest(before, clearly, current=0, own=0, allowed=frozenset({0, 1})) == 1


def test_auto_only_goes_where_the_process_may_run():
    before = _times(cpu0=(0, 0), cpu1=(0, 0), cpu2=(0, 0))
    after = _times(cpu0=(90, 100), cpu1=(0, 100), cpu2=(30, 100))
    assert idlest(before, after, current=0, own=0, allowed=frozenset({0, 2})) == 2
    # The CPU it is on is no longer one it may use: the idlest of those it may.
    assert idlest(before, after, current=1, own=0, allowed=frozenset({0, 2})) == 2


def test_proc_readers():
    stat = "cpu  10 0 5 100 3 0 1 0 0 0\ncpu0 4 1 2 50 1 0 1 1 0 0\ncpu1 6 0 3 50 2 0 0 0 0 0\nintr 5\n"
    assert cpu_times(stat) == {0: (9, 60), 1: (9, 61)}
    own = "1234 (odd name) (x) S 1 1 1 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 9 0 100 " + " ".join(["0"] * 20)
    assert own_ticks(own) == 10
    # This process's own line parses too (the CPU it last ran on is one it may use).
    assert own_ticks(Path("/proc/self/stat").read_text()) >= 0
    if ALLOWED is not None:
        assert cpu_placement.last_cpu(Path("/proc/self/stat").read_text()) in ALLOWED | set(os.sched_getaffinity(0))


# --- the server ---------------------------------------------------------------------------------


def _thread_cpus(pid: int) -> dict[int, frozenset[int]]:
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(task.name)] = frozenset(os.sched_getaffinity(int(task.name)))
        except (ProcessLookupError, FileNotFoundError):
            pass
    return found


def _call_many(port: int, calls: int = 40) -> None:
    # Concurrent calls make the server start more worker threads than it had at start.
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = svc_grpc.MetadataStoreServiceStub(channel)
        futures = [stub.GetArtifactTypes.future(svc.GetArtifactTypesRequest()) for _ in range(calls)]
        for future in futures:
            future.result(timeout=30)


def test_poller_io_unless_all_or_the_operator_chose():
    for spec in ("auto", "3", "0-1"):
        environ: dict[str, str] = {}
        assert cpu_placement.poller_io(spec, environ, loaded={}, placed=True) is True
        assert environ == {"GRPC_EXPERIMENTS": "-event_engine_listener"}
    environ = {}
    assert cpu_placement.poller_io(" ALL", environ, loaded={}, placed=True) is False and environ == {}
    # Without thread affinity auto leaves the threads to the OS: gRPC's own I/O threads stay too.
    assert cpu_placement.poller_io("auto", environ, loaded={}, placed=False) is False and environ == {}
    environ = {"GRPC_EXPERIMENTS": "event_engine_listener"}
    assert cpu_placement.poller_io("auto", environ, loaded={}, placed=True) is False
    assert environ == {"GRPC_EXPERIMENTS": "event_engine_listener"}
    # gRPC reads the variable when it is imported: too late then, so it is not set.
    environ = {}
    assert cpu_placement.poller_io("auto", environ, loaded={"grpc": object()}, placed=True) is False
    assert environ == {}


def _thread_cpu_ns(pid: int) -> dict[str, int]:
    """CPU time (ns) of the process's threads, summed by thread name."""
    found: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            found[name] = found.get(name, 0) + int((task / "schedstat").read_text().split()[0])
        except OSError:  # a thread that ended meanwhile
            pass
    return found


def _event_engine_share(server: Server, calls: int = 400) -> float:
    """The part of the server's CPU time its EventEngine threads took over ``calls`` calls, one at a time."""
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = svc_grpc.MetadataStoreServiceStub(channel)
        stub.GetArtifactTypes(svc.GetArtifactTypesRequest(), timeout=30)
        before = _thread_cpu_ns(server.process.pid)
        for _ in range(calls):
            stub.GetArtifactTypes(svc.GetArtifactTypesRequest(), timeout=30)
        after = _thread_cpu_ns(server.process.pid)
    spent = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    return spent.get("event_engine", 0) / max(sum(spent.values()), 1)


@linux_only
@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="needs per-thread CPU times (schedstat)")
def test_on_one_cpu_the_polling_thread_does_the_socket_io(tmp_path):
    # Measured: EventEngine's threads took about 15% of the server's CPU doing its sockets' I/O, and
    # about 0.2% with the listener's I/O on the polling thread.
    with Server(f"sqlite:///{tmp_path / 'm.db'}") as server:
        default = _event_engine_share(server)
        output = "".join(server.lines)
    assert default < 0.03, default
    assert "Unknown experiment" not in output and "experiment" not in output.lower()
    with Server(f"sqlite:///{tmp_path / 'm.db'}", extra_args=("--cpus", "all")) as server:
        spread = _event_engine_share(server)
    assert spread > 0.03, spread
    # The operator's own GRPC_EXPERIMENTS is left as it is.
    with Server(f"sqlite:///{tmp_path / 'm.db'}", env={"GRPC_EXPERIMENTS": "event_engine_listener"}) as server:
        chosen = _event_engine_share(server)
    assert chosen > 0.03, chosen


@linux_only
def test_by_default_every_thread_shares_one_cpu_it_may_use(tmp_path):
    with Server(f"sqlite:///{tmp_path / 'm.db'}") as server:
        _call_many(server.port)
        placed = set(_thread_cpus(server.process.pid).values())
        output = "".join(server.lines)
    assert len(placed) == 1, placed
    (cpus,) = placed
    assert len(cpus) == 1 and cpus <= ALLOWED
    if len(ALLOWED) > 1:
        assert f"mlineage: threads on CPU {next(iter(cpus))}, following the load (--cpus auto" in output
    else:
        assert "the only one available" in output


@linux_only
def test_all_leaves_the_threads_where_the_os_puts_them(tmp_path):
    with Server(f"sqlite:///{tmp_path / 'm.db'}", extra_args=("--cpus", "all")) as server:
        _call_many(server.port)
        placed = set(_thread_cpus(server.process.pid).values())
        output = "".join(server.lines)
    assert placed == {ALLOWED}
    assert "threads placed by the operating system (--cpus all)" in output


@linux_only
def test_a_list_fixes_the_threads_there_including_later_ones(tmp_path):
    chosen = max(ALLOWED)
    with Server(f"sqlite:///{tmp_path / 'm.db'}", extra_args=("--cpus", str(chosen))) as server:
        before = _thread_cpus(server.process.pid)
        _call_many(server.port)
        after = _thread_cpus(server.process.pid)
        output = "".join(server.lines)
    assert len(after) > len(before)  # worker threads started after the placement
    assert set(after.values()) == {frozenset({chosen})}
    assert f"threads on CPU {chosen} (--cpus)" in output


@linux_only
def test_a_cpu_it_may_not_use_is_one_line_and_exit_2(tmp_path):
    outside = max(ALLOWED) + 64
    db = tmp_path / "m.db"
    done = subprocess.run(
        [sys.executable, "-m", "mlineage.cli", "serve", "--db", f"sqlite:///{db}", "--create", "--cpus", str(outside)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: --cpus: CPU {outside} is not available to this process (available: {describe(ALLOWED)})"
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert not db.exists()  # refused before anything was created


FOLLOWER = r"""
import json, logging, os, sys, threading, time
from pathlib import Path
from mlineage.api import cpu_placement

logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
start, target = int(sys.argv[1]), int(sys.argv[2])
began = time.monotonic()
real_self = Path("/proc/self/stat").read_text()
head, _, rest = real_self.rpartition(")")
fields = rest.split()
fields[36] = str(start)  # the CPU it "last ran on": where auto starts
self_stat = head + ") " + " ".join(fields)

def read(path):
    if path == "self/stat":
        return self_stat
    # Other processes keep the start CPU busy and leave the target idle (ticks since boot, rising).
    ticks = int((time.monotonic() - began) * 100) + 1000
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    for cpu in sorted(os.sched_getaffinity(0) | {start, target}):
        busy = ticks if cpu == start else 0
        lines.append(f"cpu{cpu} {busy} 0 0 {ticks - busy} 0 0 0 0 0 0")
    return "\n".join(lines) + "\n"

placement = cpu_placement.Placement(cpu_placement.CpuChoice("auto"), read=read)
print(placement.start(), flush=True)
later = threading.Thread(target=time.sleep, args=(30,), daemon=True)
later.start()  # a thread started after the placement moves along too
deadline = time.monotonic() + 4 * cpu_placement.FOLLOW_INTERVAL_S + 5
while placement.moves == 0 and time.monotonic() < deadline:
    time.sleep(0.1)
tasks = {int(t.name): sorted(os.sched_getaffinity(int(t.name))) for t in Path("/proc/self/task").iterdir()}
print(json.dumps({"moves": placement.moves, "seconds": time.monotonic() - began, "tasks": tasks}), flush=True)
"""


@several_cpus
def test_auto_moves_every_thread_to_a_cpu_others_leave_idle():
    # The load is given (a /proc/stat in which other processes keep the start CPU busy), the moves are
    # real (every thread's affinity), at the shipped interval; in a process of its own.
    start, target = sorted(ALLOWED)[:2]
    done = subprocess.run([sys.executable, "-c", FOLLOWER, str(start), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"threads on CPU {start}, following the load")
    assert f"server threads moved from CPU {start} to CPU {target} (idler)" in lines
    result = json.loads(lines[-1])
    assert result["moves"] == 1
    assert len(result["tasks"]) >= 3  # main, the follower, the later thread
    assert all(cpus == [target] for cpus in result["tasks"].values()), result["tasks"]
    assert result["seconds"] >= cpu_placement.FOLLOW_INTERVAL_S  # one interval of load seen before moving
