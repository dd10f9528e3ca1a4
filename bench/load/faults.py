"""The fault suite: faults injected into `mlineage serve` while a mixed load runs, and what each one cost.

    .venv/bin/python bench/load/faults.py                       # every fault, the bench's sizes
    .venv/bin/python bench/load/faults.py --fault pool,disk      # some of them
    .venv/bin/python bench/load/faults.py --quick                # the sizes tests/load/test_faults.py uses

Loopback only, bounded in time and count. Each fault gets a fresh database and fresh servers, and a
load of writers and readers runs through it:

* writers of two kinds, so that "acknowledged" is each client's own promise: the real ml-metadata
  client (bench/load/faults_mlmd_writer.py, retrying UNAVAILABLE and the like as a KFP launcher
  does; acknowledged = ``put_artifacts`` answered OK, or ALREADY_EXISTS to a retry) and mlineage's
  step client (bench/load/faults_step_writer.py; acknowledged = ``step.output`` returned, i.e. the
  record is in its journal);
* readers over REST (artifact lists) and gRPC (``GetArtifactsByID``; the ml-metadata writers also read
  back what they wrote);
* a probe per replica that reads one artifact through its REST API every 50 ms.

The faults: ``kill`` (one of 2 replicas on one PostgreSQL database SIGKILLed, started again at the
same ports), ``postgres`` (the database server stopped and started again: a PRIVATE cluster on a port
of its own, never the shared test server), ``pool`` (``--pool-size 2``, a 1 s pool timeout, and many
concurrent REST and gRPC calls that wait on a table lock another session holds), ``disk`` (SQLite whose
``fsync``/``fdatasync`` sleep: an LD_PRELOAD shim built with the C compiler in a temporary directory,
switched on and off by a flag file while the server runs) and ``disconnect`` (clients that reset
their socket in the middle of a large REST list, and gRPC calls cancelled in flight).

After each fault: the step clients' journals are flushed, and every acknowledged write is looked up
by its unique tag (present exactly once each, the goal); every HTTP status and gRPC code is counted
(5xx other than 503 — and INTERNAL, UNKNOWN, DATA_LOSS over gRPC — the goal is none); and the recovery
time is measured: from the moment the fault is cleared (the replica started again, the database
back, the lock released, the disk fast again, the disconnecting clients gone) until every replica
answers a database read by itself.

Results: the table on stdout and ``bench/results/load_faults.json`` (one entry per fault, replaced
by a later run of that fault). Exit status 0 when every fault met its goals, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# The replicas are the tests' restartable server process (tests/support/client_server.py).
sys.path.insert(0, str(ROOT / "tests" / "support"))
from client_server import Server, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "load_faults.json"
MLMD_WRITER = HERE / "faults_mlmd_writer.py"
STEP_WRITER = HERE / "faults_step_writer.py"
FAULTS = ("kill", "postgres", "pool", "disk", "disconnect")
STARTUP_TIMEOUT_S = 60.0
PROBE_INTERVAL_S = 0.05
#: gRPC codes that are the counterparts of an HTTP 5xx other than 503 (UNAVAILABLE).
GRPC_5XX = ("INTERNAL", "UNKNOWN", "DATA_LOSS")
_STARTED = time.monotonic()
VERBOSE = False


def log(message: str) -> None:
    """A progress line on stderr (with --verbose), seconds since the suite started."""
    if VERBOSE:
        print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sizes:
    """How big and how long each fault's load is."""

    mlmd_writers: int = 4
    step_writers: int = 4
    readers: int = 4
    warm_s: float = 4.0  # load before the fault (once every writer has written)
    fault_s: float = 5.0  # how long the fault lasts
    after_s: float = 4.0  # load after the fault is cleared
    flood: int = 48  # concurrent calls that pile up on the pool (half REST, half gRPC)
    disconnects: int = 200  # REST clients that hang up mid-body, and as many cancelled gRPC calls
    fsync_delay_ms: int = 40
    pool_timeout_s: float = 1.0
    recovery_limit_s: float = 30.0


QUICK = Sizes(mlmd_writers=2, step_writers=2, readers=2, warm_s=1.0, fault_s=2.5, after_s=1.5, flood=40,
              disconnects=40)


@dataclass
class FaultResult:
    """What one fault cost: the table's row and the JSON entry."""

    fault: str
    acknowledged: int = 0
    found: int = 0  # acknowledged writes found at least once
    duplicates: int = 0  # acknowledged writes found more than once
    server_errors: int = 0  # HTTP 5xx other than 503, and gRPC INTERNAL/UNKNOWN/DATA_LOSS
    recovery_s: float | None = None  # None: not within the limit
    http_statuses: dict[str, int] = field(default_factory=dict)
    grpc_codes: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.acknowledged > 0 and self.found == self.acknowledged and self.duplicates == 0
                and self.server_errors == 0 and self.recovery_s is not None
                and not self.notes.get("server_tracebacks"))


# --- processes: replicas, a private PostgreSQL, the fsync shim ---------------------------------------


class Replica(Server):
    """One ``mlineage serve`` on fixed loopback gRPC and HTTP ports, which the suite can SIGKILL
    (``kill()``) and start again there (``start()`` retries a port a killed process left behind)."""

    def __init__(self, db_url: str, *, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        super().__init__(db_url, extra_args=extra_args, http_port=free_port(), env=env, create=False)

    @property
    def grpc_port(self) -> int:
        return self.port

    @property
    def output(self) -> list[str]:
        """The server's log lines so far (stdout and stderr)."""
        return self.lines

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.grpc_target}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def pool_checked_out(self) -> float:
        """The primary pool's connections in use now, from the replica's /metrics."""
        body = httpx.get(f"{self.http_url}/metrics", timeout=10).text
        found = re.search(r'^mlineage_db_pool_checked_out\{engine="primary"\} (\S+)$', body, re.M)
        if found is None:
            raise RuntimeError("/metrics has no mlineage_db_pool_checked_out for the primary engine")
        return float(found.group(1))


def _each(function: Callable[[Any], Any], items: list[Any]) -> None:
    """``function`` on every item at once (starting or stopping servers takes seconds each)."""
    failures: list[BaseException] = []

    def one(item: Any) -> None:
        try:
            function(item)
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def start_replicas(db_url: str, count: int, **options: Any) -> list[Replica]:
    """``count`` replicas on one database; the first upgrades it (once), the others start after it."""
    first = Replica(db_url, extra_args=("--upgrade", *options.pop("extra_args", ())), **options).start()
    others = [Replica(db_url, extra_args=tuple(first.extra_args[1:]), **options) for _ in range(count - 1)]
    _each(Replica.start, others)
    return [first, *others]


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL binaries (the newest installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                   key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])
    return found[-1] if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the suite's own (scripts/start_postgres.sh on a free port): it may be restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under a 0700 temporary directory of root's: the postgres user must reach it.
        self.data = Path(tempfile.gettempdir()) / f"mlineage-faults-pg-{self.port}"
        self.url = ""
        self._run = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    def start(self) -> PrivatePostgres:
        env = {**os.environ, "MLINEAGE_PG_PORT": str(self.port), "MLINEAGE_PG_DATA": str(self.data)}
        done = subprocess.run(["bash", str(ROOT / "scripts" / "start_postgres.sh")], env=env, capture_output=True,
                              text=True, timeout=300)
        if done.returncode:
            shutil.rmtree(self.data, ignore_errors=True)
            raise RuntimeError(f"scripts/start_postgres.sh failed: {done.stderr[-2000:]}")
        self.url = done.stdout.strip().rpartition("=")[2]
        return self

    def _pg_ctl(self, *args: str) -> None:
        binary = postgres_bin()
        if binary is None:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql")
        subprocess.run([*self._run, str(binary / "pg_ctl"), "-D", str(self.data), *args], check=True,
                       capture_output=True, timeout=60)

    def stop_server(self) -> None:
        """Stop it (fast: connections are cut, as in a restart of the database's pod)."""
        self._pg_ctl("stop", "-m", "fast", "-w")

    def start_server(self) -> None:
        """Start it again with the options scripts/start_postgres.sh gave it."""
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")
        self._pg_ctl("start", "-w", "-l", str(self.data / "server.log"), "-o", options)

    def new_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with self.admin() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url.rpartition("/")[0] + "/" + name

    @contextlib.contextmanager
    def admin(self, database: str = "postgres") -> Iterator[Any]:
        """An AUTOCOMMIT connection to one of the cluster's databases."""
        engine = create_engine(self.url.rpartition("/")[0] + "/" + database, isolation_level="AUTOCOMMIT",
                               pool_size=1)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()

    def connections(self, database_url: str) -> dict[str, int]:
        """The connections to a database by state (pg_stat_activity), this query's own not counted."""
        name = database_url.rpartition("/")[2]
        with self.admin() as connection:
            rows = connection.execute(text(
                "SELECT coalesce(state, '?'), count(*) FROM pg_stat_activity WHERE datname = :name "
                "AND pid <> pg_backend_pid() GROUP BY 1"), {"name": name}).all()
        return {state: count for state, count in rows}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pg_ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(self.data, ignore_errors=True)


SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
/* fsync and fdatasync sleep first while the file named by $MLINEAGE_SLOW_FSYNC_FLAG exists. */
static void slow(void) {
    const char *flag = getenv("MLINEAGE_SLOW_FSYNC_FLAG");
    const char *us = getenv("MLINEAGE_SLOW_FSYNC_US");
    if (flag && access(flag, F_OK) == 0) usleep(us ? (useconds_t)atoi(us) : 40000);
}
int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow();
    return real(fd);
}
int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow();
    return real(fd);
}
"""


def build_fsync_shim(directory: Path) -> Path:
    """Compile the slow-fsync LD_PRELOAD library into ``directory``; RuntimeError without a C compiler."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("the slow-disk fault needs a C compiler (gcc) to build its LD_PRELOAD shim")
    source = directory / "slow_fsync.c"
    source.write_text(SHIM_SOURCE)
    library = directory / "slow_fsync.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"], check=True,
                   capture_output=True, timeout=60)
    return library


def mlmd_python() -> str | None:
    """The ml-metadata environment's python: $MLINEAGE_MLMD_PYTHON or .venvs/mlmd."""
    chosen = os.environ.get("MLINEAGE_MLMD_PYTHON") or str(ROOT / ".venvs" / "mlmd" / "bin" / "python")
    return chosen if Path(chosen).exists() else None


# --- the load ---------------------------------------------------------------------------------------


@dataclass
class Writer:
    """One writer process and what it reported."""

    kind: str  # "mlmd" or "step"
    process: subprocess.Popen
    journal: Path | None
    url: str
    acked: list[str] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (monotonic time of the ack, seconds)
    codes: dict[str, int] = field(default_factory=dict)
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=30))  # its last lines


class Load:
    """Writers (subprocesses) and readers and probes (threads) against a set of replicas."""

    def __init__(self, replicas: list[Replica], workdir: Path, sizes: Sizes, *, tag: str) -> None:
        self.replicas = replicas
        self.workdir = workdir
        self.sizes = sizes
        self.tag = tag
        self.stop_file = workdir / f"stop-{tag}"
        self.http: Counter[str] = Counter()  # the REST readers' statuses ("refused": no answer at all)
        self.grpc: Counter[str] = Counter()  # the gRPC readers' codes
        self._http_lock = threading.Lock()
        self.writers: list[Writer] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.probe_ok: dict[int, list[float]] = {i: [] for i in range(len(replicas))}
        self.flush_codes: list[int] = []  # `mlineage journal flush` per journal: 0 sent all, 1 records left
        self.log_marks = [len(replica.output) for replica in replicas]  # where this load's server logs begin

    def start(self) -> Load:
        """Start every writer, reader and probe, and return once each writer has written once."""
        python = mlmd_python()
        if python is None:
            raise RuntimeError("no ml-metadata environment (MLINEAGE_MLMD_PYTHON or .venvs/mlmd)")
        for index in range(self.sizes.mlmd_writers):
            replica = self.replicas[index % len(self.replicas)]
            process = subprocess.Popen(
                [python, str(MLMD_WRITER), "--target", replica.grpc_target, "--tag", f"{self.tag}-m{index}",
                 "--stop-file", str(self.stop_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self._follow(Writer("mlmd", process, None, replica.grpc_url))
        for index in range(self.sizes.step_writers):
            replica = self.replicas[index % len(self.replicas)]
            journal = self.workdir / f"journal-{self.tag}-s{index}"
            env = {**os.environ, "MLINEAGE_JOURNAL_DIR": str(journal), "MLINEAGE_JOURNAL_STALL_TIMEOUT": "0.5"}
            process = subprocess.Popen(
                [sys.executable, str(STEP_WRITER), "--url", replica.grpc_url, "--tag", f"{self.tag}-s{index}",
                 "--stop-file", str(self.stop_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=env)
            self._follow(Writer("step", process, journal, replica.grpc_url))
        for index in range(self.sizes.readers):
            self._thread(self._read_lists, self.replicas[index % len(self.replicas)])
            self._thread(self._read_by_id, self.replicas[(index + 1) % len(self.replicas)])
        for index, replica in enumerate(self.replicas):
            self._thread(self._probe, index, replica)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not all(writer.acked for writer in self.writers):
            if time.monotonic() > deadline or any(w.process.poll() is not None for w in self.writers):
                raise RuntimeError(f"the writers did not start writing:\n{self.writer_errors()}")
            time.sleep(0.05)
        log(f"{self.tag}: every writer is writing")
        return self

    def _thread(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _follow(self, writer: Writer) -> None:
        self.writers.append(writer)

        def pump() -> None:
            assert writer.process.stdout is not None
            for line in writer.process.stdout:
                parts = line.split()
                if parts and parts[0] == "ACK":
                    writer.acked.append(parts[1])
                    writer.latencies.append((time.monotonic(), float(parts[2])))
                elif line.startswith("{"):
                    writer.codes = json.loads(line)["codes"]

        def drain() -> None:  # a full stderr pipe would stop the writer (the step client warns in outages)
            assert writer.process.stderr is not None
            for line in writer.process.stderr:
                writer.stderr.append(line)

        self._thread(pump)
        self._thread(drain)

    def count(self, status: str) -> None:
        with self._http_lock:
            self.http[status] += 1

    def _read_lists(self, replica: Replica) -> None:
        with httpx.Client(base_url=replica.http_url, timeout=30.0) as client:
            while not self._stop.is_set():
                self.count(http_status(client, "/api/v1/artifacts", params={"page_size": 50}))
                time.sleep(0.02)

    def _read_by_id(self, replica: Replica) -> None:
        """MLMD's GetArtifactsByID over gRPC (the by-id read path, a raw pooled connection per call)."""
        import grpc

        from mlineage.proto import metadata_store_service_pb2 as service_pb

        with grpc.insecure_channel(replica.grpc_target) as channel:
            get = channel.unary_unary("/ml_metadata.MetadataStoreService/GetArtifactsByID",
                                      request_serializer=service_pb.GetArtifactsByIDRequest.SerializeToString,
                                      response_deserializer=service_pb.GetArtifactsByIDResponse.FromString)
            first = 1
            while not self._stop.is_set():
                try:
                    get(service_pb.GetArtifactsByIDRequest(artifact_ids=range(first, first + 10)), timeout=30.0)
                    code = "OK"
                except grpc.RpcError as exc:
                    code = exc.code().name
                with self._http_lock:
                    self.grpc[code] += 1
                first = first % 1000 + 10  # other ids each time: the server's by-id cache must not answer
                time.sleep(0.02)

    def _probe(self, index: int, replica: Replica) -> None:
        with httpx.Client(base_url=replica.http_url, timeout=2.0) as client:
            while not self._stop.is_set():
                if http_status(client, "/api/v1/artifacts", params={"page_size": 1}) == "200":
                    self.probe_ok[index].append(time.monotonic())
                time.sleep(PROBE_INTERVAL_S)

    def recovered_after(self, since: float, limit_s: float) -> float | None:
        """Seconds from ``since`` until every replica's probe answered OK again (None: not within the limit)."""
        deadline = since + limit_s
        while time.monotonic() < deadline:
            firsts = [next((t for t in self.probe_ok[i] if t >= since), None) for i in self.probe_ok]
            if all(first is not None for first in firsts):
                return round(max(first for first in firsts if first is not None) - since, 3)
            time.sleep(PROBE_INTERVAL_S)
        return None

    def finish(self) -> None:
        """Stop the writers (each finishes the write in hand), then the readers; then flush the journals."""
        self.stop_file.touch()
        for writer in self.writers:
            try:
                writer.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                writer.process.kill()
                writer.process.wait()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=35)
        from mlineage.cli import main as mlineage_cli

        for writer in self.writers:
            if writer.journal is not None and writer.journal.exists():
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    code = mlineage_cli(["journal", "flush", "--dir", str(writer.journal), "--url", writer.url])
                self.flush_codes.append(code)
        log(f"{self.tag}: writers stopped, journals flushed")

    def grpc_codes(self) -> Counter[str]:
        codes: Counter[str] = Counter(self.grpc)
        for writer in self.writers:
            codes.update(writer.codes)
        return codes

    def write_latencies(self, start: float, end: float, kind: str = "mlmd") -> list[float]:
        """Seconds of the writes of ``kind`` that began at or after ``start`` and were acknowledged by ``end``."""
        return [seconds for writer in self.writers if writer.kind == kind
                for finished, seconds in writer.latencies if start <= finished - seconds and finished <= end]

    def writer_errors(self) -> str:
        """Each writer's state, with the end of the stderr of those that exited."""
        out = []
        for writer in self.writers:
            code = writer.process.poll()
            out.append(f"{writer.kind} writer to {writer.url}: {len(writer.acked)} acknowledged, "
                       f"{'running' if code is None else f'exited {code}'}\n")
            if code is not None:
                out.append("".join(writer.stderr))
        return "".join(out)


def http_status(client: httpx.Client, path: str, **options: Any) -> str:
    """The status of one GET as text, or "refused" when no answer came (a replica that is down, not a 5xx)."""
    try:
        return str(client.get(path, **options).status_code)
    except httpx.TransportError:
        return "refused"


@contextlib.contextmanager
def grpc_list_call(target: str) -> Iterator[Any]:
    """MLMD's GetArtifacts on a channel of its own (mlineage's messages: the same wire form as MLMD's)."""
    import grpc

    from mlineage.proto import metadata_store_service_pb2 as service_pb

    channel = grpc.insecure_channel(target)
    try:
        yield channel.unary_unary("/ml_metadata.MetadataStoreService/GetArtifacts",
                                  request_serializer=service_pb.GetArtifactsRequest.SerializeToString,
                                  response_deserializer=service_pb.GetArtifactsResponse.FromString)
    finally:
        channel.close()


def list_request(page_size: int) -> Any:
    from mlineage.proto import metadata_store_pb2 as pb
    from mlineage.proto import metadata_store_service_pb2 as service_pb

    return service_pb.GetArtifactsRequest(options=pb.ListOperationOptions(max_result_size=page_size))


def grpc_code(list_artifacts: Any, page_size: int, *, timeout: float) -> str:
    """The code of one GetArtifacts call, by name ("OK", "UNAVAILABLE", …)."""
    import grpc

    try:
        list_artifacts(list_request(page_size), timeout=timeout)
    except grpc.RpcError as exc:
        return exc.code().name
    return "OK"


def found_by_tag(db_url: str) -> Counter[str]:
    """How many stored artifacts carry each ``fault_tag`` (both writers' types), read from the database."""
    import mlineage

    store = mlineage.connect(db_url)
    try:
        counts: Counter[str] = Counter()
        known = {t.name for t in store.get_artifact_types()}
        for type_name in ("FaultLoadArtifact", "FaultLoadStepOutput"):
            if type_name not in known:  # no write of that kind landed
                continue
            for artifact in store.get_artifacts_by_type(type_name):
                if "fault_tag" in artifact.custom_properties:
                    counts[artifact.custom_properties["fault_tag"].string_value] += 1
        return counts
    finally:
        store.close()


def is_server_error(answer: str) -> bool:
    """An HTTP 5xx other than 503, or its gRPC counterpart."""
    return (answer.isdigit() and int(answer) >= 500 and answer != "503") or answer in GRPC_5XX


def settle(load: Load, db_url: str, result: FaultResult, extra: Counter[str] | None = None) -> FaultResult:
    """Finish the load and fill in the result: acknowledged vs found, statuses and codes (plus ``extra``)."""
    load.finish()
    acked = [name for writer in load.writers for name in writer.acked]
    counts = found_by_tag(db_url)
    result.acknowledged = len(acked)
    result.found = sum(1 for name in acked if counts.get(name, 0) >= 1)
    result.duplicates = sum(1 for name in acked if counts.get(name, 0) > 1)
    answers = Counter(load.http) + load.grpc_codes() + (extra or Counter())
    result.http_statuses = {k: v for k, v in sorted(answers.items()) if k.isdigit() or k == "refused"}
    result.grpc_codes = {k: v for k, v in sorted(answers.items()) if k not in result.http_statuses}
    result.server_errors = sum(n for answer, n in answers.items() if is_server_error(answer))
    result.notes["acknowledged_by_client"] = dict(Counter(w.kind for w in load.writers for _ in w.acked))
    result.notes["journal_flush_exit_codes"] = load.flush_codes
    # An error the servers did not expect is logged with its traceback (and answered INTERNAL/500).
    logged = [line for replica, mark in zip(load.replicas, load.log_marks, strict=True)
             for line in replica.output[mark:]]
    result.notes["server_tracebacks"] = sum(1 for line in logged if line.startswith("Traceback"))
    if result.notes["server_tracebacks"]:
        result.notes["server_log_sample"] = "".join(logged[-30:])
    return result


# --- the faults -------------------------------------------------------------------------------------


@contextlib.contextmanager
def under_load(replicas: list[Replica], workdir: Path, sizes: Sizes, tag: str) -> Iterator[Load]:
    """The load running against ``replicas`` for the block; the replicas stopped afterwards, whatever happened."""
    load = Load(replicas, workdir, sizes, tag=tag)
    try:
        load.start()
        time.sleep(sizes.warm_s)
        yield load
    finally:
        load.stop_file.touch()
        for writer in load.writers:  # a fault that failed midway leaves none behind
            with contextlib.suppress(subprocess.TimeoutExpired):
                writer.process.wait(timeout=30)
            if writer.process.poll() is None:
                writer.process.kill()
                writer.process.wait()


class Rig:
    """The servers the faults run against, started once, all at once.

    One private PostgreSQL cluster with one database (migrated and seeded with 2,000 artifacts for
    the large pages), two replicas on it, a third with ``--pool-size 2`` for the pool fault, and one
    server on a SQLite file whose fsyncs a flag file slows. Each fault's writes carry tags of its own,
    so each is checked on its own.
    """

    def __init__(self, names: list[str], workdir: Path, sizes: Sizes) -> None:
        self.names = names
        self.workdir = workdir
        self.sizes = sizes
        self.pg: PrivatePostgres | None = None
        self.db_url = ""
        self.replicas: list[Replica] = []
        self.pool_replica: Replica | None = None
        self.disk_replica: Replica | None = None
        self.slow_flag = workdir / "slow-disk-on"

    def start(self) -> Rig:
        starting: list[Replica] = []
        if any(name != "disk" for name in self.names):
            self.pg = PrivatePostgres().start()
            log(f"private PostgreSQL on port {self.pg.port}")
            self.db_url = self.pg.new_database("faults")
            _seed(self.db_url)
            if {"kill", "postgres", "disconnect"} & set(self.names):
                self.replicas = [Replica(self.db_url), Replica(self.db_url)]
                starting += self.replicas
            if "pool" in self.names:
                self.pool_replica = Replica(
                    self.db_url, extra_args=("--pool-size", "2", "--workers", str(self.sizes.flood + 8)),
                    env={"MLINEAGE_DB_POOL_TIMEOUT": str(self.sizes.pool_timeout_s)})
                starting.append(self.pool_replica)
        if "disk" in self.names:
            shim = build_fsync_shim(self.workdir)
            self.disk_replica = Replica(
                f"sqlite:///{self.workdir / 'faults_disk.db'}", extra_args=("--create",),
                env={"LD_PRELOAD": str(shim), "MLINEAGE_SLOW_FSYNC_FLAG": str(self.slow_flag),
                     "MLINEAGE_SLOW_FSYNC_US": str(self.sizes.fsync_delay_ms * 1000)})
            starting.append(self.disk_replica)
        _each(Replica.start, starting)
        log(f"{len(starting)} servers up")
        return self

    def servers(self) -> list[Replica]:
        return [*self.replicas, *(r for r in (self.pool_replica, self.disk_replica) if r is not None)]

    def close(self) -> None:
        servers = self.servers()
        _each(Replica.stop, servers)
        if self.pg is not None:
            self.pg.close()


def _seed(db_url: str) -> None:
    """Migrate the database and store 2,000 artifacts: a 1,000-artifact page is ~300 kB, far more than
    a socket's buffers, so a client that hangs up after its first bytes leaves the server mid-body."""
    import mlineage
    from mlineage.proto import metadata_store_pb2 as pb

    seed = mlineage.connect(db_url, upgrade=True)
    try:
        type_id = seed.put_artifact_type(pb.ArtifactType(name="FaultLoadBulk"))
        seed.put_artifacts([pb.Artifact(type_id=type_id, uri=f"bulk://{i}/" + "x" * 200) for i in range(2000)])
    finally:
        seed.close()


def fault_kill(rig: Rig) -> FaultResult:
    """Two replicas on one PostgreSQL database; one is SIGKILLed mid-load and started again."""
    result = FaultResult("kill")
    sizes = rig.sizes
    with under_load(rig.replicas, rig.workdir, sizes, "kill") as load:
        log("kill: SIGKILL replica 0")
        rig.replicas[0].kill()
        time.sleep(sizes.fault_s)
        restarted = time.monotonic()
        rig.replicas[0].start()
        result.notes["restart_to_listening_s"] = round(time.monotonic() - restarted, 2)
        result.recovery_s = load.recovered_after(restarted, sizes.recovery_limit_s)
        time.sleep(sizes.after_s)
        return settle(load, rig.db_url, result)


def fault_postgres(rig: Rig) -> FaultResult:
    """The database server stopped mid-load and started again; clients retry, journals hold."""
    assert rig.pg is not None
    result = FaultResult("postgres")
    sizes = rig.sizes
    with under_load(rig.replicas, rig.workdir, sizes, "pg") as load:
        log("postgres: stopping the database server")
        rig.pg.stop_server()
        time.sleep(sizes.fault_s)
        rig.pg.start_server()
        back = time.monotonic()
        result.recovery_s = load.recovered_after(back, sizes.recovery_limit_s)
        time.sleep(sizes.after_s)
        return settle(load, rig.db_url, result)


def fault_pool(rig: Rig) -> FaultResult:
    """``--pool-size 2``: calls pile up behind a table lock another session holds, past the pool's size."""
    assert rig.pg is not None and rig.pool_replica is not None
    replica = rig.pool_replica
    sizes = rig.sizes
    result = FaultResult("pool")
    flood: Counter[str] = Counter()
    flood_lock = threading.Lock()
    stop_flood = threading.Event()

    def rest_caller() -> None:
        with httpx.Client(base_url=replica.http_url, timeout=30.0) as client:
            while not stop_flood.is_set():
                status = http_status(client, "/api/v1/artifacts", params={"page_size": 10})
                with flood_lock:
                    flood[status] += 1

    def grpc_caller() -> None:
        with grpc_list_call(replica.grpc_target) as list_artifacts:
            while not stop_flood.is_set():
                code = grpc_code(list_artifacts, 10, timeout=30.0)
                with flood_lock:
                    flood[code] += 1

    with under_load([replica], rig.workdir, sizes, "pool") as load:
        callers = [threading.Thread(target=rest_caller if i % 2 else grpc_caller, daemon=True)
                   for i in range(sizes.flood)]
        with rig.pg.admin(rig.db_url.rpartition("/")[2]) as locker:
            locker.execute(text("BEGIN"))
            locker.execute(text("LOCK TABLE artifacts IN ACCESS EXCLUSIVE MODE"))
            log(f"pool: artifacts locked, {sizes.flood} callers")
            for thread in callers:
                thread.start()
            time.sleep(sizes.fault_s)
            result.notes["pool_checked_out_during"] = replica.pool_checked_out()
            locker.execute(text("ROLLBACK"))
        released = time.monotonic()
        stop_flood.set()
        result.recovery_s = load.recovered_after(released, sizes.recovery_limit_s)
        for thread in callers:
            thread.join(timeout=40)
        time.sleep(sizes.after_s)
        settle(load, rig.db_url, result, extra=flood)
        result.notes["flood_answers"] = dict(sorted(flood.items()))
        result.notes["pool_checked_out_after"] = replica.pool_checked_out()
        return result


def fault_disk(rig: Rig) -> FaultResult:
    """SQLite on a slow disk: every fsync/fdatasync of the server sleeps while a flag file exists."""
    assert rig.disk_replica is not None
    replica = rig.disk_replica
    sizes = rig.sizes
    result = FaultResult("disk")
    with under_load([replica], rig.workdir, sizes, "disk") as load:
        slow_from = time.monotonic()
        rig.slow_flag.touch()
        log("disk: fsync slow")
        time.sleep(sizes.fault_s)
        rig.slow_flag.unlink()
        fast_from = time.monotonic()
        result.recovery_s = load.recovered_after(fast_from, sizes.recovery_limit_s)
        time.sleep(sizes.after_s)
        end = time.monotonic()
        settle(load, replica.db_url, result)
        phases = {"before": load.write_latencies(0.0, slow_from), "slow": load.write_latencies(slow_from, fast_from),
                  "after": load.write_latencies(fast_from + 0.2, end)}
        result.notes["mlmd_write_p50_ms"] = {
            name: round(statistics.median(values) * 1000, 1) if values else None for name, values in phases.items()}
        result.notes["fsync_delay_ms"] = sizes.fsync_delay_ms
        return result


def fault_disconnect(rig: Rig) -> FaultResult:
    """Clients hang up in the middle of a large REST list, and gRPC calls are cancelled in flight."""
    assert rig.pg is not None
    replicas = rig.replicas
    sizes = rig.sizes
    result = FaultResult("disconnect")
    with under_load(replicas, rig.workdir, sizes, "hangup") as load:
        hung_up = sum(hang_up_mid_body(replicas[i % 2].http_port) for i in range(sizes.disconnects))
        cancelled = 0
        with grpc_list_call(replicas[0].grpc_target) as first, grpc_list_call(replicas[1].grpc_target) as second:
            request = list_request(1000)
            for index in range(sizes.disconnects):
                future = (first, second)[index % 2].future(request)
                time.sleep(0.002)
                cancelled += int(future.cancel())
        log(f"disconnect: {hung_up} hung up mid-body, {cancelled} gRPC calls cancelled")
        cleared = time.monotonic()
        result.recovery_s = load.recovered_after(cleared, sizes.recovery_limit_s)
        time.sleep(sizes.after_s)
        settle(load, rig.db_url, result)
        # The load is gone: a connection still checked out, or left inside a transaction, would be a leak.
        deadline = time.monotonic() + 5.0
        while True:
            checked_out = [replica.pool_checked_out() for replica in replicas]
            database = rig.pg.connections(rig.db_url)
            busy = sum(n for state, n in database.items() if state != "idle")
            if (busy == 0 and not any(checked_out)) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        result.notes.update(hung_up_mid_body=hung_up, grpc_cancelled=cancelled, pool_checked_out_after=checked_out,
                            database_connections_after=database, leaked_connections=busy + int(sum(checked_out)))
        return result


FAULT_FUNCTIONS: dict[str, Callable[[Rig], FaultResult]] = {
    "kill": fault_kill, "postgres": fault_postgres, "pool": fault_pool, "disk": fault_disk,
    "disconnect": fault_disconnect,
}


def hang_up_mid_body(port: int) -> int:
    """Ask for a large page of artifacts, read its first bytes and reset the connection: 1 if it was mid-body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/artifacts?page_size=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received or len(received) < 2048:
            chunk = sock.recv(1024)
            if not chunk:
                return 0
            received += chunk
        # SO_LINGER 0: close() sends a reset, the server's next write fails (a client that went away).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        return int(received.startswith(b"HTTP/1.1 200"))


# --- running them -----------------------------------------------------------------------------------


def run_faults(names: list[str], sizes: Sizes, workdir: Path) -> list[FaultResult]:
    """Run the named faults in order on one rig, taken down (and its PostgreSQL cluster removed) at the end."""
    rig = Rig(names, workdir, sizes)
    try:
        rig.start()
        results = []
        for name in names:
            results.append(FAULT_FUNCTIONS[name](rig))
            log(f"{name}: done")
        return results
    finally:
        rig.close()


def table(results: list[FaultResult]) -> str:
    """The results as a text table, one row per fault."""
    lines = [f"{'fault':<11} {'acknowledged':>12} {'found':>6} {'duplicates':>10} {'5xx(not 503)':>12} "
             f"{'recovery s':>10}  statuses / codes"]
    for r in results:
        recovery = "never" if r.recovery_s is None else f"{r.recovery_s:.2f}"
        answers = ", ".join(f"{k}:{v}" for k, v in {**r.http_statuses, **r.grpc_codes}.items())
        lines.append(f"{r.fault:<11} {r.acknowledged:>12} {r.found:>6} {r.duplicates:>10} {r.server_errors:>12} "
                     f"{recovery:>10}  {answers}")
    return "\n".join(lines)


def save(results: list[FaultResult], sizes: Sizes, command: str) -> None:
    """Merge the results into bench/results/load_faults.json (a fault's entry replaces its previous one)."""
    entries: dict[str, Any] = {}
    if RESULTS.exists():
        with contextlib.suppress(ValueError):
            entries = json.loads(RESULTS.read_text()).get("faults", {})
    for r in results:
        entries[r.fault] = {**asdict(r), "ok": r.ok, "sizes": asdict(sizes), "command": command,
                            "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"faults": entries}, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    global VERBOSE
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--fault", default=",".join(FAULTS), help=f"comma-separated, of {', '.join(FAULTS)}")
    parser.add_argument("--quick", action="store_true", help="the test suite's smaller sizes")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/load_faults.json")
    parser.add_argument("--verbose", action="store_true", help="progress lines on stderr")
    args = parser.parse_args(argv)
    VERBOSE = args.verbose
    names = [n.strip() for n in args.fault.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        parser.error(f"unknown fault {unknown[0]!r}; the faults are {', '.join(FAULTS)}")
    sizes = QUICK if args.quick else Sizes()
    with tempfile.TemporaryDirectory(prefix="mlineage-faults-") as tmp:
        results = run_faults(names, sizes, Path(tmp))
    print(table(results))
    for r in results:
        print(f"{r.fault}: {json.dumps(r.notes, sort_keys=True)}")
    if not args.no_save:
        save(results, sizes, "python bench/load/faults.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
