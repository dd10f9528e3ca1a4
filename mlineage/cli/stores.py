"""Which database a command means, and opening it the way the command may: read, create, or serve.

Only two things create a database: ``mlineage serve`` with no ``--db`` (the
embedded default, ``./mlineage.db``) and ``mlineage db upgrade``. Every other
command opens what exists and says so in one line when it does not: a SQLite
path that is missing (a typo must not start an empty store), a file that is not
a database, a PostgreSQL server that refuses. Commands that only read also take
the server URLs ``mlineage.connect`` takes (``grpc://``, ``grpcs://``).
"""

from __future__ import annotations

import argparse
import os

from mlineage.connection import redact
from mlineage.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

DEFAULT_DB = "sqlite:///mlineage.db"
SERVER_SCHEMES = ("grpc://", "grpcs://")
DB_HELP = f"database URL: sqlite:///PATH, postgresql://… or mysql://… (default: $MLINEAGE_DB or {DEFAULT_DB})"
READ_URL_HELP = (
    "store URL: sqlite:///PATH, postgresql://…, mysql://…, grpc://HOST:PORT or grpcs://HOST:PORT "
    f"(default: $MLINEAGE_URL, $MLINEAGE_DB or {DEFAULT_DB})"
)


def database_url(args: argparse.Namespace) -> tuple[str, bool]:
    """The database URL a serve/db command names, and whether it is the embedded default (nothing given)."""
    given = getattr(args, "db", None) or os.environ.get("MLINEAGE_DB")
    return (given, False) if given else (DEFAULT_DB, True)


def read_url(args: argparse.Namespace) -> str:
    """The store URL a read command names: --url/--db, then $MLINEAGE_URL, $MLINEAGE_DB, the default."""
    return (
        getattr(args, "url", None)
        or os.environ.get("MLINEAGE_URL")
        or os.environ.get("MLINEAGE_DB")
        or DEFAULT_DB
    )


def _refuse_server_url(url: str, command: str) -> None:
    if url.startswith(SERVER_SCHEMES):
        raise InvalidArgumentError(
            f"`mlineage {command}` works on the database itself, not through a server: "
            "give sqlite:///PATH, postgresql://… or mysql://…"
        )


def open_database(url: str, *, command: str, create: bool = False):
    """A ``Database`` on an existing database (or a new one with ``create``), checked to answer."""
    from mlineage.metadata.databases import Database

    _refuse_server_url(url, command)
    try:
        return Database(url, create=create)
    except NotFoundError:
        raise NotFoundError(_missing(url, command)) from None


def _missing(url: str, command: str) -> str:
    from mlineage.metadata.databases import Database

    path = Database.sqlite_path(url)
    hint = f"create it with `mlineage db upgrade --db {url}`"
    if command in ("serve", "import-mlmd", "copy", "restore"):
        hint += ", or pass --create"
    return f"no database at {path}: {hint}"


def open_for_serving(url: str, *, create: bool, upgrade: bool):
    """The Store that ``mlineage serve`` serves: an existing database, or a new one when ``create``."""
    return open_database(url, command="serve", create=create).store(upgrade=upgrade)


def open_for_reading(url: str, *, command: str):
    """A store to read from: a ``Store`` on an existing mlineage database, or a ``GrpcStore`` on a server.

    An existing database without mlineage's tables (an empty file) is refused, not initialized.
    """
    if url.startswith(SERVER_SCHEMES):
        from mlineage.client.grpc_store import GrpcStore

        store = GrpcStore(url)
        if not store.ping():
            store.close()
            from mlineage.errors import UnavailableError

            raise UnavailableError(f"no mlineage server answers at {url}")
        return store
    from mlineage.migrations import runner

    database = open_database(url, command=command)
    try:
        if database.schema_status().state is runner.SchemaState.EMPTY:
            raise FailedPreconditionError(
                f"{redact(url)} holds no mlineage database yet: create it with `mlineage db upgrade --db URL`"
            )
    except Exception:
        database.close()
        raise
    return database.store()
