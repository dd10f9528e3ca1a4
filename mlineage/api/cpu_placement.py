"""Where ``mlineage serve`` runs its threads: by default all on one CPU, which follows the load.

The server's threads (gRPC's poller and workers, the HTTP loop) take turns on one
interpreter lock, so they never run Python on two CPUs at once. Spread over several
CPUs, every hand-over between them (the poller passing a call to a worker, the
worker waiting for the request's bytes, a thread waiting for the lock) wakes a
sleeping CPU, which costs more than the work handed over: on a 2-CPU machine
a gRPC call that only replays an answer took 0.53-0.67 ms with the threads spread
and 0.38-0.43 ms with them on one CPU, and 16 clients got 1,052 calls/s spread
against 1,630 on one CPU on SQLite, 636 against 800 on PostgreSQL
(``bench/rpc_floor.py --cpus``, ``bench/concurrency_bench.py --serve-cpus``).

``--cpus`` decides:

- ``auto`` (the default): one CPU, first the one the server started on. Every
  ``FOLLOW_INTERVAL_S`` the server compares what *other* processes used of each
  CPU it may run on, and moves all its threads to another one when that one was
  idler by more than ``FOLLOW_MARGIN`` of a CPU (a busy neighbour, another
  replica on the same host).
- ``all``: the operating system places the threads (any CPU the process may use).
- a list (``3``, ``0,2``, ``4-7``): those CPUs, fixed.

On a platform without thread affinity (not Linux) ``auto`` leaves placement to the
operating system and a list is refused.

Kept on one CPU (``auto`` or a list), the server also reads and writes its
callers' sockets on gRPC's polling thread (``poller_io``): gRPC's EventEngine
otherwise does that I/O on threads of its own, one more hand-over per message
that buys nothing when every thread shares one CPU. A lineage query of
ml-metadata's client (six calls) took 0.2-0.8 ms less of the server's CPU
(``bench/poller_io_bench.py``). ``GRPC_EXPERIMENTS`` set by the operator is left alone.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("mlineage.serve")

AUTO = "auto"
ALL = "all"
#: Seconds between two looks at the CPUs' load (``auto``).
FOLLOW_INTERVAL_S = 2.0
#: How much idler (a fraction of one CPU, over one interval) another CPU must be for ``auto`` to move there.
FOLLOW_MARGIN = 0.25

_PROC = Path("/proc")


@dataclass(frozen=True)
class CpuChoice:
    """What ``--cpus`` asked for: ``auto``, ``all``, or a fixed set of CPUs (``cpus``)."""

    mode: str
    cpus: frozenset[int] = frozenset()


def available() -> frozenset[int] | None:
    """The CPUs this process may run on; None where the platform cannot place threads."""
    if not hasattr(os, "sched_getaffinity") or not hasattr(os, "sched_setaffinity"):
        return None
    return frozenset(os.sched_getaffinity(0))


#: gRPC's switch (an experiment, known since grpcio 1.62) that hands a server's sockets to EventEngine threads.
_EXPERIMENTS = "GRPC_EXPERIMENTS"
_LISTENER_OFF = "-event_engine_listener"


def poller_io(
    spec: str,
    environ: MutableMapping[str, str] | None = None,
    loaded: Mapping[str, object] | None = None,
    placed: bool | None = None,
) -> bool:
    """Before gRPC is imported: when ``--cpus`` keeps the threads on one CPU (not ``all``, and a platform
    with thread affinity: ``placed``), let the thread that polls gRPC's completion queue read and write
    the server's sockets itself (the listener without EventEngine's threads).

    Leaves ``GRPC_EXPERIMENTS`` alone when the operator set it, and does nothing once gRPC is loaded
    (it reads the variable when it is imported). True when it set the variable."""
    environ = os.environ if environ is None else environ
    loaded = sys.modules if loaded is None else loaded
    placed = available() is not None if placed is None else placed
    if not placed or spec.strip().lower() == ALL or environ.get(_EXPERIMENTS) or "grpc" in loaded:
        return False
    environ[_EXPERIMENTS] = _LISTENER_OFF
    return True


def describe(cpus: frozenset[int] | set[int]) -> str:
    """CPU numbers as a list with ranges: {0, 1, 2, 5} -> "0-2,5"."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in runs)


def parse(spec: str, allowed: frozenset[int] | None = None) -> CpuChoice:
    """``--cpus``'s value as a CpuChoice; ValueError says what is wrong, in the option's words.

    ``allowed``: the CPUs this process may use (``available()``): a listed CPU outside them is refused."""
    text = spec.strip().lower()
    if text in (AUTO, ALL):
        return CpuChoice(text)
    cpus: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise ValueError(
                f"--cpus takes auto, all or CPU numbers such as 0,2 or 4-7; got {spec!r}"
            ) from None
        if low < 0 or high < low:
            raise ValueError(f"--cpus: {part.strip()!r} is not a CPU number or an ascending range")
        cpus.update(range(low, high + 1))
    if allowed is None:
        raise ValueError("--cpus with CPU numbers needs thread affinity, which this platform does not have; "
                         "use --cpus all")
    outside = cpus - allowed
    if outside:
        raise ValueError(f"--cpus: CPU {describe(outside)} is not available to this process "
                         f"(available: {describe(allowed)})")
    return CpuChoice("list", frozenset(cpus))


def place_threads(cpus: frozenset[int] | set[int]) -> None:
    """Put every thread of this process on ``cpus``; threads started later inherit it from their starter."""
    for task in _PROC.joinpath("self", "task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except (ProcessLookupError, FileNotFoundError):
            pass  # a thread that ended meanwhile


def cpu_times(stat_text: str) -> dict[int, tuple[int, int]]:
    """Per CPU, (busy, total) clock ticks since boot from /proc/stat's ``cpuN`` lines."""
    times: dict[int, tuple[int, int]] = {}
    for line in stat_text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        fields = [int(value) for value in rest.split()]
        # user nice system idle iowait irq softirq steal (guest time is counted in user already)
        user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        busy = user + nice + system + irq + softirq + steal
        times[int(name[3:])] = (busy, busy + idle + iowait)
    return times


def own_ticks(stat_text: str) -> int:
    """This process's user + system clock ticks, all threads, from /proc/self/stat."""
    # The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    fields = stat_text[stat_text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def last_cpu(stat_text: str) -> int:
    """The CPU the thread of /proc/<id>/stat last ran on (field 39)."""
    return int(stat_text[stat_text.rindex(")") + 2:].split()[36])


def idlest(
    before: Mapping[int, tuple[int, int]],
    after: Mapping[int, tuple[int, int]],
    current: int,
    own: int,
    allowed: frozenset[int],
    margin: float = FOLLOW_MARGIN,
) -> int:
    """The CPU to be on next: ``current``, unless another allowed CPU was idler by more than ``margin``.

    Load is what other processes used of each CPU between the two samples: on ``current`` that is
    its busy time less this process's own ``own`` ticks (all its threads ran there)."""
    others: dict[int, float] = {}
    for cpu in allowed:
        if cpu not in before or cpu not in after:
            continue
        busy = after[cpu][0] - before[cpu][0]
        total = after[cpu][1] - before[cpu][1]
        if total <= 0:
            continue
        if cpu == current:
            busy -= own
        others[cpu] = max(0, busy) / total
    if not others:
        return current
    if current not in others:  # no longer ours to run on: the idlest of those that are
        return min(others, key=lambda cpu: (others[cpu], cpu))
    best = min(others, key=lambda cpu: (others[cpu], cpu != current, cpu))
    return best if others[best] < others[current] - margin else current


class Placement:
    """Applies a CpuChoice to this process; with ``auto`` a daemon thread moves it when another CPU is idler."""

    def __init__(
        self,
        choice: CpuChoice,
        *,
        interval: float = FOLLOW_INTERVAL_S,
        read: Callable[[str], str] | None = None,
    ) -> None:
        self.choice = choice
        self.interval = interval
        self._read = read or (lambda path: _PROC.joinpath(path).read_text())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cpus: frozenset[int] | None = None  # where the threads are now (None: the OS decides)
        self.moves = 0

    def start(self) -> str:
        """Place the threads; a line for the server's start-up output saying where they are."""
        if self.choice.mode == ALL:
            return "threads placed by the operating system (--cpus all)"
        allowed = available()
        if allowed is None:
            return "threads placed by the operating system (this platform has no thread affinity)"
        if self.choice.mode == "list":
            place_threads(self.choice.cpus)
            self.cpus = self.choice.cpus
            return f"threads on CPU {describe(self.cpus)} (--cpus)"
        if len(allowed) < 2:
            return f"threads on CPU {describe(allowed)}, the only one available"
        start = last_cpu(self._read("self/stat"))
        if start not in allowed:
            start = min(allowed)
        try:
            place_threads({start})
        except OSError as exc:  # a cpuset that changed under us: leave placement to the OS
            log.warning("cannot place the server's threads (%s); the operating system places them", exc)
            return "threads placed by the operating system"
        self.cpus = frozenset({start})
        self._thread = threading.Thread(target=self._follow, args=(allowed,), name="mlineage-cpu", daemon=True)
        self._thread.start()
        return f"threads on CPU {start}, following the load (--cpus auto; --cpus all lets the OS place them)"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1.0)

    def _follow(self, allowed: frozenset[int]) -> None:
        before, own_before = cpu_times(self._read("stat")), own_ticks(self._read("self/stat"))
        while not self._stop.wait(self.interval):
            try:
                after, own_after = cpu_times(self._read("stat")), own_ticks(self._read("self/stat"))
                # The CPUs the process was given at start (its own affinity is the one CPU now).
                current = next(iter(self.cpus)) if self.cpus else min(allowed)
                target = idlest(before, after, current, own_after - own_before, allowed)
                if target != current:
                    place_threads({target})
                    self.cpus = frozenset({target})
                    self.moves += 1
                    log.info("server threads moved from CPU %d to CPU %d (idler)", current, target)
                before, own_before = after, own_after
            except OSError as exc:  # /proc unreadable, a CPU taken away: stop following, stay where we are
                log.warning("stopped following the CPUs' load: %s", exc)
                return
