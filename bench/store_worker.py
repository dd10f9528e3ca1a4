"""Run the store workload once against one backend and print one JSON line of results.

``store_bench.py`` starts this in a subprocess per backend: MLMD under the ml-metadata
venv's interpreter, mlineage under the current one, each on a fresh SQLite file (or, for the
``*-mysql`` backends, a fresh MySQL/MariaDB database given by ``--db``). On any
failure the JSON line carries ``error`` (and the traceback goes to stderr), so the driver
can report it instead of crashing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from importlib import metadata as importlib_metadata
from typing import Any

from store_workload import run_workload


def _version(distribution: str) -> str | None:
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def open_mlmd(db_path: str) -> tuple[Any, Any, Any]:
    """An in-process ml_metadata store on a new SQLite file, as MLMD's docs set it up."""
    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = db_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return ml_metadata.MetadataStore(config), metadata_store_pb2, ml_metadata.ListOptions


def open_mlineage(db_path: str) -> tuple[Any, Any, Any]:
    """An in-process mlineage store on a new SQLite file."""
    import mlineage
    from mlineage.proto import metadata_store_pb2

    return mlineage.connect(f"sqlite:///{db_path}"), metadata_store_pb2, mlineage.ListOptions


def open_mlmd_mysql(url: str) -> tuple[Any, Any, Any]:
    """An in-process ml_metadata store on a MySQL/MariaDB database (``mysql://user[:password]@host:port/db``)."""
    from urllib.parse import unquote, urlsplit

    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2

    parts = urlsplit(url)  # the scheme (mysql://, mysql+pymysql://) does not matter here
    config = metadata_store_pb2.ConnectionConfig()
    config.mysql.host = parts.hostname or "127.0.0.1"
    config.mysql.port = parts.port or 3306
    config.mysql.database = parts.path.lstrip("/")
    config.mysql.user = unquote(parts.username or "root")
    if parts.password:
        config.mysql.password = unquote(parts.password)
    return ml_metadata.MetadataStore(config), metadata_store_pb2, ml_metadata.ListOptions


def open_mlineage_url(url: str) -> tuple[Any, Any, Any]:
    """An in-process mlineage store on a database URL (a new MySQL/MariaDB database for the bench)."""
    import mlineage
    from mlineage.proto import metadata_store_pb2

    return mlineage.connect(url), metadata_store_pb2, mlineage.ListOptions


def open_mlmd_grpc(target: str) -> tuple[Any, Any, Any]:
    """The real ml_metadata client over gRPC to a running server (``host:port``), e.g. ``mlineage serve``."""
    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2

    host, _, port = target.rpartition(":")
    config = metadata_store_pb2.MetadataStoreClientConfig(host=host, port=int(port))
    return ml_metadata.MetadataStore(config), metadata_store_pb2, ml_metadata.ListOptions


FLOOR_CALLS = 1000


def rpc_floor(target: str, calls: int = FLOOR_CALLS) -> float:
    """Seconds for ``calls`` no-op unary calls (``grpc.health.v1.Health/Check``) to the same server.

    What one round trip costs with grpc's Python client and the server's gRPC machinery but no
    store work: the floor under a phase of one small call each (``get_by_id``).
    """
    import grpc

    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")  # bytes in, bytes out
        for _ in range(50):
            check(b"")
        start = time.perf_counter()
        for _ in range(calls):
            check(b"")
        return time.perf_counter() - start


OPENERS = {
    "mlmd": (open_mlmd, "ml-metadata"),
    "mlineage": (open_mlineage, "mlineage"),
    "mlmd-grpc": (open_mlmd_grpc, "ml-metadata"),
    "mlmd-mysql": (open_mlmd_mysql, "ml-metadata"),
    "mlineage-mysql": (open_mlineage_url, "mlineage"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=sorted(OPENERS), required=True)
    parser.add_argument("--artifacts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--target", help="host:port of the gRPC server (backend mlmd-grpc)")
    parser.add_argument("--db", help="database URL of the *-mysql backends (a new, empty database)")
    args = parser.parse_args(argv)

    opener, distribution = OPENERS[args.backend]
    result: dict[str, Any] = {
        "backend": args.backend,
        "artifacts": args.artifacts,
        "repeat": args.repeat,
        "env": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            distribution: _version(distribution),
            "protobuf": _version("protobuf"),
        },
    }
    stage = "connect"
    store = None
    with tempfile.TemporaryDirectory(prefix=f"store_bench_{args.backend}_") as tmp:
        try:
            start = time.perf_counter()
            where = args.target if args.backend == "mlmd-grpc" else os.path.join(tmp, "store.db")
            if args.backend.endswith("-mysql"):
                where = args.db
            store, pb2, list_options_cls = opener(where)
            result["connect_seconds"] = time.perf_counter() - start
            stage = "workload"
            result["phases"] = run_workload(store, pb2, list_options_cls, args.artifacts, args.repeat)
            if args.backend == "mlmd-grpc":
                stage = "rpc floor"
                result["rpc_floor"] = {"seconds": rpc_floor(args.target), "calls": FLOOR_CALLS}
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a reported result
            traceback.print_exc(file=sys.stderr)
            result["error"] = f"{stage}: {type(exc).__name__}: {exc}"
        finally:
            close = getattr(store, "close", None)
            if callable(close):
                close()
    print(json.dumps(result), flush=True)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
