"""A database named by URL, before there is a Store on it: open and check it, read and upgrade its schema.

What the command line needs of a database (``mlineage db``, opening one to serve
or to read) without holding an engine itself: the engine stays in here and is
handed to the Store that takes the database over (``Database.store``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from mlineage.metadata.engine import check_connection, make_engine, sqlite_file
from mlineage.migrations import runner


class Database:
    """An open, answering database (``create``: a SQLite file is made when missing).

    Raises NotFoundError for a SQLite path that does not exist (without ``create``), and
    the store's errors (UNAVAILABLE, …) for a database that does not answer.
    """

    def __init__(self, url: str, *, create: bool = False) -> None:
        self._engine = make_engine(url, create=create)
        try:
            check_connection(self._engine)
        except Exception:
            self._engine.dispose()
            raise
        self._taken = False

    @staticmethod
    def sqlite_path(url: str) -> Path | None:
        """The file a ``sqlite:///`` URL names (None for another database or an in-memory one)."""
        return sqlite_file(url)

    @property
    def engine(self) -> Engine:
        """The engine, for the access tier's whole-database work (``store_copy``: copy, export, restore).

        Only metadata/ modules take it; the command line hands the Database over instead.
        """
        return self._engine

    def schema_status(self) -> runner.SchemaStatus:
        """Where the database's schema is against this mlineage's head (empty, behind, current, ahead, foreign)."""
        return runner.schema_status(self._engine)

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (Alembic; creates the tables of an empty database)."""
        runner.upgrade(self._engine, revision)

    def store(self, **options: Any) -> Any:
        """The Store on this database (it takes the database over: close the Store, not this)."""
        from mlineage.metadata.store import Store

        try:
            opened = Store(self._engine, **options)
        except Exception:
            self.close()
            raise
        self._taken = True
        return opened

    def close(self) -> None:
        if not self._taken:
            self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
