"""What `mlineage doctor` finds in a database: its schema revision, the indexes it lacks, its settings.

Each check returns findings: ``ok`` (as it should be), ``warn`` (works, but
costs something: say what to change) and ``fix`` (wrong: say how to fix it).
The index check compares the database with ``mlineage.schema`` (the head
schema every index of which a benchmark or a test put there), on the
database's own dialect; the statement it suggests for a missing index is
compiled from that definition, never from anything the caller typed. Settings
are read, never changed. The thresholds are the operational advice of
docs/deploy.md, written once here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Index, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex

from mlineage.metadata import executor
from mlineage.migrations import runner
from mlineage.schema import metadata

OK, WARN, FIX = "ok", "warn", "fix"
#: A table this share dead rows (PostgreSQL) or a file this share free pages (SQLite) wants a vacuum.
DEAD_ROW_SHARE = 0.2
#: Tables with at least this many rows are expected to have statistics (ANALYZE).
ANALYZED_FROM_ROWS = 1000
#: An open transaction left idle longer than this holds locks and a snapshot (PostgreSQL, milliseconds).
IDLE_IN_TRANSACTION_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warn | fix
    topic: str  # schema | index | setting | table
    message: str
    remedy: str | None = None


def examine(engine: Engine) -> list[Finding]:
    """Every finding about the database behind ``engine``; the index and table checks need the schema at head."""
    findings = [schema_finding(engine)]
    if findings[0].level != OK:
        return findings
    findings += index_findings(engine)
    checks: dict[str, Callable[[Engine], list[Finding]]] = {
        "postgresql": _postgresql_findings, "sqlite": _sqlite_findings, "mysql": _mysql_findings,
    }  # fmt: skip
    check = checks.get(engine.dialect.name)
    if check is not None:
        findings += check(engine)
    return findings


def schema_finding(engine: Engine) -> Finding:
    status = runner.schema_status(engine)
    state = runner.SchemaState
    if status.state is state.CURRENT:
        return Finding(OK, "schema", f"at revision {status.current} (this mlineage's head)")
    if status.state is state.EMPTY:
        return Finding(FIX, "schema", "no mlineage tables yet", "create them: mlineage db upgrade --db URL")
    if status.state is state.BEHIND:
        return Finding(FIX, "schema", f"at revision {status.current}, older than this mlineage ({status.head})",
                       "run the migration (the Job in deploy/kustomize/migrate): mlineage db upgrade --db URL")
    if status.state is state.AHEAD:
        return Finding(FIX, "schema", f"at revision {status.current}, newer than this mlineage ({status.head}): "
                       "servers of this version serve it read-only", "upgrade mlineage to the database's version")
    return Finding(FIX, "schema", "the tables are not an mlineage schema (an MLMD database?)",
                   "copy its records into a new database: mlineage import-mlmd SOURCE_URL --db URL")


def _expected_indexes(dialect: str) -> list[Index]:
    found = []
    for table in metadata.sorted_tables:
        for index in table.indexes:
            condition = getattr(index, "_ddl_if", None)
            only = None if condition is None else condition.dialect  # a name or a tuple of names
            if only is None or dialect == only or (isinstance(only, tuple) and dialect in only):
                found.append(index)
    return sorted(found, key=lambda index: str(index.name))


def index_findings(engine: Engine) -> list[Finding]:
    """A ``fix`` per index of the head schema the database lacks, with its CREATE INDEX; else one ``ok``."""
    inspector = inspect(engine)
    present: dict[str, set[str]] = {}
    for table in metadata.sorted_tables:
        names = {index["name"] for index in inspector.get_indexes(table.name)}
        names |= {constraint["name"] for constraint in inspector.get_unique_constraints(table.name)}
        present[table.name] = {name for name in names if name}
    expected = _expected_indexes(engine.dialect.name)
    missing = [index for index in expected if index.name not in present[index.table.name]]  # type: ignore[union-attr]
    if not missing:
        return [Finding(OK, "index", f"all {len(expected)} indexes of the schema are present")]
    return [
        Finding(FIX, "index", f"{index.name} on {index.table.name} ({', '.join(c.name for c in index.columns)}) "  # type: ignore[union-attr]
                "is missing", f"{str(CreateIndex(index).compile(dialect=engine.dialect)).strip()};")
        for index in missing
    ]


def _rows(engine: Engine, key: str, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return executor.fetch(connection, ("diagnostics", key), lambda _: text(sql), {})


def _postgresql_findings(engine: Engine) -> list[Finding]:
    findings: list[Finding] = []
    settings = dict(_rows(engine, "pg_settings", (
        "SELECT name, setting FROM pg_settings WHERE name IN ('server_version_num', 'max_connections', "
        "'autovacuum', 'track_counts', 'idle_in_transaction_session_timeout', 'default_transaction_isolation', "
        "'synchronous_commit', 'fsync')"
    )))  # fmt: skip
    version = int(settings.get("server_version_num", "0"))
    findings.append(Finding(OK, "setting", f"PostgreSQL {version // 10000}.{version % 10000}") if version >= 130000
                    else Finding(WARN, "setting", f"PostgreSQL {version // 10000} is older than the tested 13",
                                 "upgrade the server to PostgreSQL 13 or newer"))
    for name in ("fsync", "synchronous_commit"):
        if settings.get(name) == "off":
            findings.append(Finding(FIX, "setting", f"{name} is off: an acknowledged write can be lost in a crash",
                                    f"ALTER SYSTEM SET {name} = on; SELECT pg_reload_conf();"))
    for name in ("autovacuum", "track_counts"):
        if settings.get(name) == "off":
            findings.append(Finding(FIX, "setting", f"{name} is off: tables bloat and plans go stale",
                                    f"ALTER SYSTEM SET {name} = on; SELECT pg_reload_conf();"))
    if settings.get("default_transaction_isolation") not in (None, "read committed"):
        findings.append(Finding(WARN, "setting", f"default_transaction_isolation is "
                                f"{settings['default_transaction_isolation']}: mlineage's writes are made for "
                                "read committed and will retry more under stricter levels",
                                "ALTER DATABASE … SET default_transaction_isolation = 'read committed';"))
    idle = int(settings.get("idle_in_transaction_session_timeout", "0"))
    if idle == 0 or idle > IDLE_IN_TRANSACTION_MS:
        findings.append(Finding(WARN, "setting", "idle_in_transaction_session_timeout is "
                                f"{'off' if idle == 0 else f'{idle} ms'}: a client that hangs inside a "
                                "transaction holds its locks and snapshot until it is killed",
                                "ALTER DATABASE … SET idle_in_transaction_session_timeout = '10min';"))
    (used,) = _rows(engine, "pg_connections", "SELECT count(*) FROM pg_stat_activity")[0]
    limit = int(settings.get("max_connections", "0"))
    level = WARN if limit and used > 0.8 * limit else OK
    findings.append(Finding(level, "setting", f"{used} of max_connections {limit} connections in use",
                            "size the replicas' pools (or put PgBouncer in front) below max_connections"
                            if level == WARN else None))
    findings += _postgresql_table_findings(engine)
    return findings


def _postgresql_table_findings(engine: Engine) -> list[Finding]:
    ours = set(metadata.tables)
    rows = _rows(engine, "pg_tables", (
        "SELECT relname, n_live_tup, n_dead_tup, "
        "(last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) FROM pg_stat_user_tables "
        "WHERE schemaname = current_schema()"
    ))  # fmt: skip
    findings = []
    for name, live, dead, analyzed in sorted(rows):
        if name not in ours:
            continue
        if live + dead > ANALYZED_FROM_ROWS and dead > DEAD_ROW_SHARE * (live + dead):
            findings.append(Finding(WARN, "table", f"{name}: {dead} dead rows of {live + dead}",
                                    f"VACUUM (ANALYZE) {name};  (and check that autovacuum keeps up)"))
        elif live > ANALYZED_FROM_ROWS and not analyzed:
            findings.append(Finding(WARN, "table", f"{name}: {live} rows and no statistics yet",
                                    f"ANALYZE {name};"))
    if not findings:
        findings.append(Finding(OK, "table", "no table is bloated or without statistics"))
    return findings


def _sqlite_findings(engine: Engine) -> list[Finding]:
    findings = []
    pragmas: dict[str, Any] = {}
    for name in ("journal_mode", "page_count", "freelist_count", "page_size"):
        pragmas[name] = _rows(engine, f"pragma_{name}", f"PRAGMA {name}")[0][0]
    if str(pragmas["journal_mode"]).lower() == "wal":
        findings.append(Finding(OK, "setting", "journal_mode is WAL (readers do not wait for the writer)"))
    else:
        # The file keeps the mode, and a Store (mlineage serve) turns WAL on when it opens its own database.
        findings.append(Finding(OK, "setting", f"journal_mode is {pragmas['journal_mode']} (mlineage serve puts "
                                "the file in WAL mode when it opens it)"))
    pages, free = int(pragmas["page_count"]), int(pragmas["freelist_count"])
    size_mib = pages * int(pragmas["page_size"]) / 2**20
    if pages and free > DEAD_ROW_SHARE * pages:
        findings.append(Finding(WARN, "table", f"{free} of {pages} pages are free ({size_mib:.1f} MiB file)",
                                "VACUUM; (with the server stopped) to give the space back"))
    else:
        findings.append(Finding(OK, "table", f"{size_mib:.1f} MiB file, {free} free pages"))
    findings.append(Finding(OK, "setting", "SQLite serves one server process; for several replicas copy it to "
                            "PostgreSQL (mlineage copy --from THIS_URL --to postgresql://…)"))
    return findings


#: MySQL/MariaDB: a table's live rows are counted up to this many (a bounded scan) to judge its statistics.
COUNTED_ROWS_CAP = 100_000
#: The oldest servers mlineage is tested on: JSON_TABLE (ids as one parameter) needs them.
MYSQL_OLDEST, MARIADB_OLDEST = (8, 0), (10, 6)


def _mysql_findings(engine: Engine) -> list[Finding]:
    """MySQL/MariaDB: the server's version and settings, then every table of ours (engine, collation, statistics)."""
    return _mysql_setting_findings(engine) + _mysql_table_findings(engine) + _mysql_statistics_findings(engine)


def _mysql_setting_findings(engine: Engine) -> list[Finding]:
    from mlineage.metadata.engine import MYSQL_SQL_MODE

    [(version, global_mode, session_mode, flush, sync_binlog, log_bin, pool_bytes, per_table, wait_timeout,
      max_connections)] = _rows(engine, "mysql_settings", (
        "SELECT VERSION(), @@GLOBAL.sql_mode, @@SESSION.sql_mode, @@GLOBAL.innodb_flush_log_at_trx_commit, "
        "@@GLOBAL.sync_binlog, @@GLOBAL.log_bin, @@GLOBAL.innodb_buffer_pool_size, "
        "@@GLOBAL.innodb_file_per_table, @@GLOBAL.wait_timeout, @@GLOBAL.max_connections"
    ))  # fmt: skip
    findings: list[Finding] = []
    mariadb = "mariadb" in str(version).lower()
    numbers = tuple(int(part) for part in re.findall(r"\d+", str(version))[:2])
    oldest = MARIADB_OLDEST if mariadb else MYSQL_OLDEST
    product = "MariaDB" if mariadb else "MySQL"
    findings.append(Finding(OK, "setting", f"{product} {str(version).split('-')[0]}") if numbers >= oldest
                    else Finding(FIX, "setting", f"{product} {str(version).split('-')[0]} is older than the "
                                 f"{'.'.join(map(str, oldest))} mlineage needs (JSON_TABLE)",
                                 f"upgrade the server to {product} {'.'.join(map(str, oldest))} or newer"))
    modes = set(str(session_mode).upper().split(","))
    wanted = set(MYSQL_SQL_MODE.split(","))
    if wanted <= modes:
        findings.append(Finding(OK, "setting", f"mlineage's sessions run in strict sql_mode ({MYSQL_SQL_MODE})"))
    else:
        findings.append(Finding(FIX, "setting", f"the session's sql_mode lacks {','.join(sorted(wanted - modes))}: "
                                "a value a column cannot hold would be cut silently, not refused",
                                "let mlineage's init_command through (a proxy must not reset sql_mode), or "
                                f"SET GLOBAL sql_mode = '{MYSQL_SQL_MODE}';"))
    if not {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES"} & set(str(global_mode).upper().split(",")):
        findings.append(Finding(WARN, "setting", "the server's sql_mode is not strict: mlineage sets its own, but "
                                "other clients of this database (an MLMD import source, a BI tool) truncate silently",
                                f"SET GLOBAL sql_mode = '{MYSQL_SQL_MODE}';  (and in the server's option file)"))
    if int(flush) != 1:
        findings.append(Finding(FIX, "setting", f"innodb_flush_log_at_trx_commit is {flush}: an acknowledged "
                                "write can be lost in a crash (the log is flushed about once a second)",
                                "SET GLOBAL innodb_flush_log_at_trx_commit = 1;  (and in the server's option file)"))
    if int(log_bin) and int(sync_binlog) != 1:
        findings.append(Finding(WARN, "setting", f"sync_binlog is {sync_binlog}: a replica or a point-in-time "
                                "restore can miss acknowledged writes after a crash",
                                "SET GLOBAL sync_binlog = 1;"))
    if not int(per_table):
        findings.append(Finding(WARN, "setting", "innodb_file_per_table is off: space of deleted rows and dropped "
                                "tables is never given back to the disk", "SET GLOBAL innodb_file_per_table = ON;"))
    if int(wait_timeout) < 3600:
        findings.append(Finding(WARN, "setting", f"wait_timeout is {wait_timeout} s, shorter than the hour after "
                                "which mlineage replaces a pooled connection: idle ones are closed under it and "
                                "pinged again", "SET GLOBAL wait_timeout = 28800;"))
    data_bytes = _rows(engine, "mysql_data_bytes", (
        "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
        "WHERE table_schema = DATABASE()"
    ))[0][0]  # fmt: skip
    if int(data_bytes) > int(pool_bytes):
        findings.append(Finding(WARN, "setting", f"innodb_buffer_pool_size ({int(pool_bytes) / 2**20:.0f} MiB) is "
                                f"smaller than the tables and indexes ({int(data_bytes) / 2**20:.0f} MiB): reads go "
                                "to disk", "raise innodb_buffer_pool_size to hold the indexes at least "
                                "(about 70% of a database server's memory)"))
    used = int(_rows(engine, "mysql_threads", "SELECT COUNT(*) FROM information_schema.processlist")[0][0])
    level = WARN if used > 0.8 * int(max_connections) else OK
    findings.append(Finding(level, "setting", f"{used} of max_connections {max_connections} connections in use",
                            "size the replicas' pools (--pool-size) below max_connections" if level == WARN else None))
    return findings


def _mysql_statistics_findings(engine: Engine) -> list[Finding]:
    """Tables whose InnoDB statistics (what the optimizer plans with) count far fewer or more rows than they hold.

    The statistics are the persistent ones (mysql.innodb_table_stats, as of the last ANALYZE or
    automatic recalculation); the live rows are counted up to COUNTED_ROWS_CAP, so a large table
    costs one bounded index scan. A table filled since it was created can keep the statistics of
    its empty self, and plans that scan instead of seeking (bench/README: MySQL reads by id).
    """
    ours = sorted(metadata.tables)
    try:
        stats = dict(_rows(engine, "mysql_innodb_stats", (
            "SELECT table_name, n_rows FROM mysql.innodb_table_stats WHERE database_name = DATABASE()"
        )))  # fmt: skip
    except DBAPIError:  # no SELECT on the mysql schema: say what to do without the figures
        return [Finding(OK, "table", "cannot read mysql.innodb_table_stats (no privilege): run ANALYZE TABLE on "
                        "the tables after a bulk load")]
    findings = []
    for name in ours:
        if name not in stats:
            continue
        quoted = engine.dialect.identifier_preparer.quote_identifier(name)
        live = int(_rows(engine, f"mysql_count_{name}",
                         f"SELECT COUNT(*) FROM (SELECT 1 FROM {quoted} LIMIT {COUNTED_ROWS_CAP}) AS counted")[0][0])
        estimated = int(stats[name])
        if live < ANALYZED_FROM_ROWS:
            continue
        if estimated * 2 < live or (live < COUNTED_ROWS_CAP and estimated > 2 * live):
            held = f"{live}" if live < COUNTED_ROWS_CAP else f"at least {live}"
            findings.append(Finding(WARN, "table", f"{name}: its statistics count {estimated} rows, it holds {held}: "
                                    "the optimizer may scan where it should seek", f"ANALYZE TABLE {quoted};"))
    if not findings:
        findings.append(Finding(OK, "table", "every table's statistics match its size"))
    return findings


def _mysql_table_findings(engine: Engine) -> list[Finding]:
    """Every table of ours InnoDB with the binary NO PAD collation the migrations give it."""
    from mlineage.schema.column_types import MARIADB_COLLATION, MYSQL_COLLATION

    ours = set(metadata.tables)
    rows = _rows(engine, "mysql_tables", (
        "SELECT table_name, engine, table_collation FROM information_schema.tables "
        "WHERE table_schema = DATABASE()"
    ))  # fmt: skip
    findings = []
    for name, table_engine, collation in sorted(rows):
        if name not in ours:
            continue
        if str(table_engine).lower() != "innodb":
            findings.append(Finding(FIX, "table", f"{name} is {table_engine}: no transactions or foreign keys",
                                    f"ALTER TABLE {name} ENGINE = InnoDB;"))
        if collation not in (MARIADB_COLLATION, MYSQL_COLLATION):
            findings.append(Finding(FIX, "table", f"{name} compares text with {collation}: names that differ in "
                                    "case or trailing spaces would collide (MLMD's are exact)",
                                    f"ALTER TABLE {name} CONVERT TO CHARACTER SET utf8mb4 COLLATE {MARIADB_COLLATION};"))
    if not findings:
        findings.append(Finding(OK, "table", "every table is InnoDB, utf8mb4 with a binary NO PAD collation"))
    return findings
