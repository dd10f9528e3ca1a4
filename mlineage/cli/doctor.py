"""``mlineage doctor [--db URL]``: check a database's schema, indexes and settings, and say what to fix.

Read-only: it opens an existing database (it never creates one), runs the
checks of ``metadata/diagnostics`` and prints one line per finding, with the
remedy under each one that needs it. Exit 0 when nothing needs fixing (warnings
are printed, not failed), 1 when something does, 2 when the database cannot be
checked at all (missing, unreachable): what a deployment's pre-flight step or
a monitoring job can act on.
"""

from __future__ import annotations

import argparse

from mlineage.cli.stores import DB_HELP, database_url, open_database

_LABELS = {"ok": "ok  ", "warn": "WARN", "fix": "FIX "}


def add_parser(commands) -> None:
    """Register ``doctor`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "doctor",
        help="check a database's schema, indexes and settings and print what to fix",
        description="Checks the schema revision, that every index of the schema exists, and the database's "
                    "settings (PostgreSQL: durability, autovacuum, idle transactions, connections, bloat; "
                    "MySQL/MariaDB: version, sql_mode, innodb_flush_log_at_trx_commit, sync_binlog, buffer pool, "
                    "wait_timeout, connections, InnoDB tables with a binary collation, stale statistics; "
                    "SQLite: WAL, free pages), and prints what to fix. Exit 0: nothing to fix; 1: something "
                    "to fix; 2: the database cannot be checked.",
    )
    parser.add_argument("--db", help=DB_HELP)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mlineage.connection import redact
    from mlineage.metadata import diagnostics

    url, _ = database_url(args)
    with open_database(url, command="doctor") as database:
        findings = diagnostics.examine(database.engine)
    print(f"mlineage doctor: {redact(url)}")
    for finding in findings:
        print(f"  {_LABELS[finding.level]}  {finding.topic:<8} {finding.message}")
        if finding.remedy and finding.level != "ok":
            print(f"              -> {finding.remedy}")
    fixes = sum(finding.level == "fix" for finding in findings)
    warnings = sum(finding.level == "warn" for finding in findings)
    print(f"{fixes} to fix, {warnings} warning{'s' if warnings != 1 else ''}")
    return 1 if fixes else 0
