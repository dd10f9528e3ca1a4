"""How fast `mlineage copy` moves a store from SQLite to PostgreSQL (rows/s), beside a hand-written COPY loader.

The source is a generated lineage store (bench/gen_store.py: ~10k or ~1M nodes,
with their properties, events and links), copied to a temporary file first so
the cached store is left as it is. Timed:

* **copy**: ``mlineage.metadata.database_copy.copy_database`` into a new
  PostgreSQL database (the schema made first, not timed), every table, in
  batches of ``--batch-size``, sequences set, counts checked;
* **anchor**: the same rows of every table read with the ``sqlite3`` module and
  written with psycopg's ``COPY … FROM STDIN`` into another new database at
  head, one transaction: the floor a loader with no checks and no batches gets.

Printed: rows, seconds, rows/s of the copy and the ratio copy / anchor. Results
go to bench/results/copy_bench.json.

    .venv/bin/python bench/copy_bench.py --nodes 10000 --postgres postgresql://postgres@127.0.0.1:55432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

import gen_store  # noqa: E402

from mlineage.metadata import store_copy  # noqa: E402
from mlineage.metadata.database_copy import copy_database  # noqa: E402
from mlineage.metadata.databases import Database  # noqa: E402
from mlineage.metadata.engine import normalize_url  # noqa: E402


def new_postgres_database(server_url: str, prefix: str) -> str:
    from sqlalchemy import create_engine, text

    base, _, _ = normalize_url(server_url).rpartition("/")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    base, _, name = url.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def anchor_load(sqlite_path: Path, url: str) -> tuple[int, float]:
    """Every table's rows by sqlite3 and psycopg COPY into a new database at head: (rows, seconds)."""
    import psycopg

    with Database(url) as database:
        database.upgrade()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    rows = 0
    source = sqlite3.connect(sqlite_path)
    with psycopg.connect(dsn) as target:
        with target.cursor() as cursor:
            cursor.execute("DELETE FROM types")  # the new schema's seeds: the source brings its own
            for table in store_copy.TABLES:
                names = [c.name for c in table.columns]
                booleans = [i for i, c in enumerate(table.columns) if c.type.python_type is bool]
                quoted = ", ".join(f'"{name}"' for name in names)
                with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                    for row in source.execute(f'SELECT {quoted} FROM "{table.name}"'):
                        if booleans:
                            row = list(row)
                            for i in booleans:
                                row[i] = None if row[i] is None else bool(row[i])
                        copy.write_row(row)
                        rows += 1
        target.commit()
    source.close()
    return rows, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000, help="store size, as bench/gen_store.py (default 10000)")
    parser.add_argument("--postgres", default=os.environ.get("MLINEAGE_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL (default $MLINEAGE_TEST_POSTGRES_URL)")
    parser.add_argument("--batch-size", type=int, default=store_copy.DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    if not args.postgres:
        parser.error("give --postgres URL (or set MLINEAGE_TEST_POSTGRES_URL)")
    meta = gen_store.generate(args.nodes)
    cached = Path(meta["stores"]["sqlite"].removeprefix("sqlite:///"))
    with tempfile.TemporaryDirectory(prefix="copy_bench_") as scratch:
        source_path = Path(scratch) / "source.db"
        shutil.copy(cached, source_path)
        with Database(f"sqlite:///{source_path}") as source:
            source.upgrade()  # a store cached by an older mlineage: copy needs the head schema
        target_url = new_postgres_database(args.postgres, "mlineage_copy_bench")
        anchor_url = new_postgres_database(args.postgres, "mlineage_copy_anchor")
        try:
            with Database(target_url) as target:
                target.upgrade()
            with Database(f"sqlite:///{source_path}") as source, Database(target_url) as target:
                summary = copy_database(source, target, batch_size=args.batch_size)
            anchor_rows, anchor_s = anchor_load(source_path, anchor_url)
        finally:
            drop_postgres_database(target_url)
            drop_postgres_database(anchor_url)
    if anchor_rows != summary.written:
        raise RuntimeError(f"the anchor loaded {anchor_rows} rows, the copy {summary.written}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = summary.seconds / anchor_s
    print(f"store: {meta['nodes']} nodes, {summary.written} rows in {len(store_copy.TABLES)} tables")
    print(f"mlineage copy sqlite -> postgresql: {summary.seconds:.2f}s, {summary.rows_per_second:,.0f} rows/s "
          f"(batches of {args.batch_size}), peak memory of this process {peak_mb:.0f} MB")
    print(f"anchor (sqlite3 -> psycopg COPY, one transaction): {anchor_s:.2f}s, {anchor_rows / anchor_s:,.0f} rows/s")
    print(f"ratio copy / anchor: {ratio:.2f}")
    result = {
        "nodes": meta["nodes"], "rows": summary.written, "copy_s": round(summary.seconds, 3),
        "rows_per_s": round(summary.rows_per_second), "anchor_s": round(anchor_s, 3), "ratio": round(ratio, 3),
        "batch_size": args.batch_size, "peak_rss_mb": round(peak_mb),
    }
    gen_store.RESULTS.mkdir(exist_ok=True)
    (gen_store.RESULTS / "copy_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
