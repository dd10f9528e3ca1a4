"""Read replicas (metadata/replica.py): lists and lineage on a real PostgreSQL streaming standby, with
read-your-writes for the caller that just wrote, and the pool options a PgBouncer can sit in front of.

The module starts its own small primary (initdb) and a streaming standby of it (pg_basebackup -R,
then pg_ctl start) on free loopback ports, with the PostgreSQL binaries scripts/start_postgres.sh
uses. (A base backup of the shared test server would copy its whole cluster, gigabytes after a
benchmark, so the primary here is a fresh one; the replication is the same.)
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from mlineage.errors import InvalidArgumentError
from mlineage.metadata import history
from mlineage.metadata.engine import make_engine
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

REQUIRE = os.environ.get("MLINEAGE_REQUIRE_POSTGRES") == "1"


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()])
    return Path(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A primary and its streaming standby, each a PostgreSQL server of its own."""

    def __init__(self, root: Path, binaries: Path) -> None:
        self.root, self.bin = root, binaries
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        self.primary_port, self.standby_port = _free_port(), _free_port()
        self.primary_dir, self.standby_dir = root / "primary", root / "standby"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.run_as, *argv], check=True, capture_output=True, timeout=120)

    def _start(self, data: Path, port: int) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-o",
                  f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.primary_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self._start(self.primary_dir, self.primary_port)
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "mlineage_replica")
        self._run(str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.standby_dir), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
        self._start(self.standby_dir, self.standby_port)

    def stop(self) -> None:
        for data in (self.standby_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                               capture_output=True, timeout=60)

    def url(self, port: int) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/mlineage_replica"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    binaries = _pg_bin()
    if binaries is None or shutil.which("runuser") is None and os.getuid() == 0:
        if REQUIRE:
            pytest.fail("PostgreSQL's binaries are missing but MLINEAGE_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL's binaries are not installed (scripts/start_postgres.sh installs them)")
    root = Path(tempfile.mkdtemp(prefix="mlineage-replica-"))
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
    started = Cluster(root, binaries)
    try:
        started.start()
        yield started
    finally:
        started.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def store(cluster: Cluster) -> Iterator[Store]:
    opened = Store(cluster.url(cluster.primary_port), read_db=cluster.url(cluster.standby_port))
    deadline = time.monotonic() + 30
    while not opened.replica.replayed_open():  # type: ignore[union-attr]  # the standby has the schema
        assert time.monotonic() < deadline, "the standby did not replay the store's schema"
    yield opened
    opened.close()


def _standby_sql(cluster: Cluster, sql: str) -> None:
    engine = make_engine(cluster.url(cluster.standby_port)).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(sql))
    engine.dispose()


def _wait_until_paused(cluster: Cluster) -> None:
    engine = make_engine(cluster.url(cluster.standby_port)).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            deadline = time.monotonic() + 10
            while connection.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar() != "paused":
                assert time.monotonic() < deadline, "the standby did not pause its replay"
                time.sleep(0.02)
    finally:
        engine.dispose()


def _artifact_type(store: Store) -> int:
    return store.put_artifact_type(pb.ArtifactType(name="Dataset"))


def _names(store: Store) -> set[str]:
    nodes, _ = store.list_nodes("artifact")
    return {node.name for node in nodes}


def test_lists_and_lineage_read_the_standby_and_by_id_gets_the_primary(store: Store, cluster: Cluster) -> None:
    type_id = _artifact_type(store)
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, name="on-both", uri="/d")])
    with history.calling_as("grpc", peer="reader:1"):  # a caller that has not written
        with store.reading(replica=True) as connection:
            port, recovering = connection.execute(text("SELECT inet_server_port(), pg_is_in_recovery()")).one()
        assert (port, recovering) == (cluster.standby_port, True)
        with store.reading() as connection:  # not a routed read: the primary
            assert connection.execute(text("SELECT inet_server_port()")).scalar() == cluster.primary_port
        before = store.replica.replica_reads  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        while "on-both" not in _names(store) and time.monotonic() < deadline:  # the standby replays it
            time.sleep(0.05)
        assert "on-both" in _names(store)
        graph = store.get_lineage_subgraph(
            pb.LineageSubgraphQueryOptions(starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(
                filter_query=f"id = {artifact_id}"), max_num_hops=1))
        assert [a.name for a in graph.artifacts] == ["on-both"]
        assert store.replica.replica_reads >= before + 2  # type: ignore[union-attr]


def test_a_store_opened_ahead_of_the_standby_reads_the_primary_until_it_catches_up(
    store: Store, cluster: Cluster
) -> None:
    # A standby behind what the primary had when a server opened (e.g. a migration it has not
    # replayed) answers no one, not even a caller that never wrote: its reads run on the primary.
    type_id = _artifact_type(store)
    _standby_sql(cluster, "SELECT pg_wal_replay_pause()")
    _wait_until_paused(cluster)
    opened = None
    try:
        store.put_artifacts([pb.Artifact(type_id=type_id, name="before-open", uri="/b")])
        opened = Store(cluster.url(cluster.primary_port), read_db=cluster.url(cluster.standby_port))
        with history.calling_as("grpc", peer="reader:3"):  # never wrote through `opened`
            assert "before-open" in _names(opened)
            assert (opened.replica.primary_reads, opened.replica.replica_reads) == (1, 0)  # type: ignore[union-attr]
            with history.calling_as("grpc", peer="reader:4"):
                assert "before-open" not in _names(store)  # the lagging standby, for a store opened before
    finally:
        _standby_sql(cluster, "SELECT pg_wal_replay_resume()")
    with history.calling_as("grpc", peer="reader:3"):
        deadline = time.monotonic() + 30
        while not opened.replica.replayed_open():  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the standby did not catch up"
        assert "before-open" in _names(opened)
        assert opened.replica.replica_reads == 1  # type: ignore[union-attr]  # caught up: the standby again
    opened.close()


def test_the_writer_reads_its_write_while_the_standby_lags(store: Store, cluster: Cluster) -> None:
    type_id = _artifact_type(store)
    _standby_sql(cluster, "SELECT pg_wal_replay_pause()")
    _wait_until_paused(cluster)
    try:
        with history.calling_as("grpc", peer="writer:1"):
            store.put_artifacts([pb.Artifact(type_id=type_id, name="just-written", uri="/w")])
            primary_before = store.replica.primary_reads  # type: ignore[union-attr]
            assert "just-written" in _names(store)  # the standby lags: its wait times out, the primary answers
            assert store.replica.primary_reads == primary_before + 1  # type: ignore[union-attr]
        with history.calling_as("grpc", peer="other:2"):  # not the writer: reads the lagging standby
            assert "just-written" not in _names(store)
    finally:
        _standby_sql(cluster, "SELECT pg_wal_replay_resume()")
    with history.calling_as("grpc", peer="writer:1"):
        replica_before = store.replica.replica_reads  # type: ignore[union-attr]
        assert "just-written" in _names(store)  # now the standby replays past the write: it answers
        assert store.replica.replica_reads == replica_before + 1  # type: ignore[union-attr]


def test_a_standby_that_does_not_answer_leaves_reads_on_the_primary(cluster: Cluster) -> None:
    down = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/mlineage_replica"
    with Store(cluster.url(cluster.primary_port), read_db=down) as opened:
        type_id = _artifact_type(opened)
        opened.put_artifacts([pb.Artifact(type_id=type_id, name="primary-only", uri="/p")])
        assert "primary-only" in _names(opened)
        with history.calling_as("grpc", peer="reader:3"):
            assert "primary-only" in _names(opened)
        assert opened.replica.primary_reads == 2  # type: ignore[union-attr]


def test_a_replica_must_be_postgresql_and_its_primary_too(cluster: Cluster, tmp_path: Path) -> None:
    with Store(cluster.url(cluster.primary_port)) as opened, pytest.raises(InvalidArgumentError, match="PostgreSQL"):
        opened.use_read_replica(f"sqlite:///{tmp_path / 'r.db'}")
    with Store(f"sqlite:///{tmp_path / 'p.db'}") as local, pytest.raises(InvalidArgumentError, match="PostgreSQL"):
        local.use_read_replica(cluster.url(cluster.standby_port))


def _prepared_after_repeats(cluster: Cluster) -> int:
    """How many statements the server holds prepared after one statement ran 8 times on one connection."""
    engine = make_engine(cluster.url(cluster.primary_port))
    try:
        with engine.connect() as connection:
            for value in range(8):  # more than psycopg's default prepare_threshold (5)
                connection.execute(text("SELECT 1 + :x"), {"x": value})
            return connection.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
    finally:
        engine.dispose()


def test_pool_for_pgbouncer_transaction_mode(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLINEAGE_DB_PGBOUNCER", raising=False)
    assert _prepared_after_repeats(cluster) >= 1  # psycopg's default: prepared on the server session
    monkeypatch.setenv("MLINEAGE_DB_PGBOUNCER", "1")
    assert _prepared_after_repeats(cluster) == 0  # nothing that a PgBouncer transaction could lose
    monkeypatch.setenv("MLINEAGE_DB_POOL_SIZE", "0")
    engine = make_engine(cluster.url(cluster.primary_port))
    try:
        assert isinstance(engine.pool, NullPool)  # no pool of our own: the pooler in front keeps them
        with Store(engine) as opened:
            type_id = _artifact_type(opened)
            assert opened.get_artifact_types_by_id([type_id])[0].name == "Dataset"
    finally:
        engine.dispose()
    for bad in ("-1", "ten"):
        monkeypatch.setenv("MLINEAGE_DB_POOL_SIZE", bad)
        with pytest.raises(InvalidArgumentError, match="MLINEAGE_DB_POOL_SIZE"):
            make_engine(cluster.url(cluster.primary_port))
