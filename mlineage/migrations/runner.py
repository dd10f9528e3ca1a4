"""Schema version checks and upgrades, driven through Alembic on an engine mlineage owns."""

from __future__ import annotations

import contextlib
import enum
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

# Alembic's machinery loads only to migrate (~0.2 s): opening a current database needs none of it.
if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

_HERE = Path(__file__).resolve().parent
log = logging.getLogger("mlineage.migrations")

# Alembic says "Context impl SQLiteImpl" at INFO on every schema check, which a process that logs at INFO
# (a server, a pipeline step) would print on each start. Upgrades are reported by mlineage.migrations
# instead; an application that sets the alembic logger's level itself keeps its setting.
_alembic_log = logging.getLogger("alembic")
if _alembic_log.level == logging.NOTSET:
    _alembic_log.setLevel(logging.WARNING)


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at mlineage's revisions (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("version_locations", str(_HERE / "versions"))
    config.set_main_option("path_separator", "os")
    if engine is not None:
        # The config is a ConfigParser that %-interpolates its values: a URL's percent-escapes
        # (sqlite:///%3Amemory%3A, a password with %40) are doubled so that it reads back as given.
        url = engine.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*(?:None|[\"']([^\"']+)[\"'])\s*$", re.MULTILINE)


def _alembic_head() -> str:
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - an installation without its revision files
        raise RuntimeError(f"no migration revisions found in {_HERE / 'versions'}")
    return head


def head_revision() -> str:
    """The newest revision: read from the revision files' own lines when they form one chain, else by Alembic."""
    revisions: set[str | None] = set()
    parents: set[str | None] = set()
    for path in (_HERE / "versions").glob("*.py"):
        found = {match.group(1): match.group(2) for match in _REVISION_LINE.finditer(path.read_text())}
        if "revision" not in found or "down_revision" not in found:
            return _alembic_head()
        revisions.add(found["revision"])
        parents.add(found["down_revision"])
    heads = revisions - parents
    head = heads.pop() if len(heads) == 1 else None
    return head if head is not None else _alembic_head()


class SchemaState(enum.Enum):
    EMPTY = "empty"  # no mlineage tables at all: safe to create at head
    CURRENT = "current"  # at head
    BEHIND = "behind"  # an older revision of ours: needs `mlineage db upgrade`
    AHEAD = "ahead"  # written by a newer mlineage: refuse writes
    FOREIGN = "foreign"  # tables exist but no version of ours (e.g. an MLMD database)


@dataclass(frozen=True)
class SchemaStatus:
    state: SchemaState
    current: str | None
    head: str


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:  # Alembic says what is wrong with a version table of several heads
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()
    return versions[0] if versions else None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _current_revision(connection)


def schema_status(engine: Engine) -> SchemaStatus:
    head = head_revision()
    with engine.connect() as connection:
        # The revision and the table names from one snapshot: read in two, a schema created by another
        # process in between (a replica starting at the same time) would look like foreign tables.
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        current = _current_revision(connection)
        tables = set(inspect(connection).get_table_names()) if current is None else set()
    if current is None:
        # An empty version table beside tables is ours being created by another process: MySQL's DDL
        # commits as it goes, so its first upgrade shows its tables before it stamps a revision.
        foreign = bool(tables - {"alembic_version"}) and "alembic_version" not in tables
        state = SchemaState.FOREIGN if foreign else SchemaState.EMPTY
    elif current == head:
        state = SchemaState.CURRENT
    else:
        known = {rev.revision for rev in script_directory().walk_revisions()}
        state = SchemaState.BEHIND if current in known else SchemaState.AHEAD
    return SchemaStatus(state=state, current=current, head=head)


# Key of the PostgreSQL advisory lock that one schema change at a time holds on a database: replicas
# that start together (each opening an empty or older database) then queue, and each after the
# first reads the revision the one before it committed and finds nothing to do, instead of
# racing to create the same tables. A fixed number ("mlineage" in ASCII): it names the lock.
_SCHEMA_LOCK_KEY = 0x6D6C696E65616765


#: MySQL/MariaDB: the named lock (GET_LOCK) of the same rule, held by the session, and how long a second
#: process waits for it (seconds) before the upgrade fails.
_MYSQL_SCHEMA_LOCK = "mlineage.schema"
MYSQL_SCHEMA_LOCK_WAIT_S = 600


def _lock_schema(connection: Connection) -> None:
    """Hold the schema lock until the connection's transaction ends (PostgreSQL), or until
    ``_unlock_schema`` (MySQL, whose named locks belong to the session); nothing on SQLite."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
    elif connection.dialect.name == "mysql":
        got = connection.execute(
            text("SELECT GET_LOCK(:name, :wait)"), {"name": _MYSQL_SCHEMA_LOCK, "wait": MYSQL_SCHEMA_LOCK_WAIT_S}
        ).scalar()
        if got != 1:
            raise RuntimeError(f"another process holds the schema lock of this database (waited {MYSQL_SCHEMA_LOCK_WAIT_S} s)")


def _unlock_schema(connection: Connection) -> None:
    if connection.dialect.name == "mysql":
        # A connection that broke has lost its session's locks already; its error is the one to raise.
        with contextlib.suppress(Exception):
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_SCHEMA_LOCK})
            connection.commit()


def _mysql_defaults(connection: Connection) -> None:
    """MySQL/MariaDB: tables the migrations create are InnoDB, utf8mb4, with a binary NO PAD collation.

    Set once here, as the database's defaults, so that every revision (and any added later) gets them
    without repeating table options: names, URIs and keys compare byte for byte, as MLMD's do on
    SQLite (case and trailing spaces count). MySQL DDL commits as it goes: a failed upgrade is
    resumed by running it again (each revision stamps its version when it is done).
    """
    from mlineage.schema.column_types import MARIADB_COLLATION, MYSQL_COLLATION

    version = str(connection.execute(text("SELECT VERSION()")).scalar())
    collation = MARIADB_COLLATION if "mariadb" in version.lower() else MYSQL_COLLATION
    database = connection.execute(text("SELECT DATABASE()")).scalar()
    if not database:
        raise RuntimeError("the MySQL URL names no database (mysql://HOST/DATABASE)")
    quoted = connection.dialect.identifier_preparer.quote_identifier(str(database))
    connection.execute(text(f"ALTER DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE {collation}"))
    connection.execute(text("SET SESSION default_storage_engine = InnoDB"))


@contextlib.contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite: foreign keys off for the migration, as SQLite's ALTER TABLE guide asks of a table rebuild.

    A batch operation (SQLite's way to drop or change a column) copies a table, drops the old
    one and renames the copy. With foreign keys on (mlineage's engines turn them on), dropping a
    referenced table fails, or, where the reference cascades, deletes the rows that point at it.
    The pragma only takes effect outside a transaction: it is set on the driver's connection
    before the migration's transaction begins, and the connection's setting is put back after.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    cursor = connection.connection.cursor()
    try:
        was_on = bool(cursor.execute("PRAGMA foreign_keys").fetchone()[0])
        cursor.execute("PRAGMA foreign_keys=OFF")
        try:
            yield
        finally:
            if was_on:
                connection.connection.cursor().execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    """SQLite: refuse (roll back) a migration that left a row pointing at nothing."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(f"the migration left rows of {', '.join(tables)} that refer to rows that do not exist")


def _migrate(engine: Engine, revision: str, *, downgrade: bool) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config(engine)
    with engine.connect() as connection, _sqlite_foreign_keys_off(connection):
        try:
            with connection.begin():
                _lock_schema(connection)  # before the current revision is read: it is read after the lock
                if connection.dialect.name == "mysql":
                    _mysql_defaults(connection)
                config.attributes["connection"] = connection
                before = MigrationContext.configure(connection).get_current_revision()
                if downgrade:
                    command.downgrade(config, revision)
                else:
                    command.upgrade(config, revision)
                after = MigrationContext.configure(connection).get_current_revision()
                _check_foreign_keys(connection)
        finally:
            _unlock_schema(connection)
    if after != before:
        log.info("database %s %s from revision %s to %s", engine.url.render_as_string(hide_password=True),
                 "downgraded" if downgrade else "upgraded", before or "<empty>", after or "<empty>")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (where the backend allows).

    On PostgreSQL concurrent upgrades of one database are serialized by an advisory lock:
    a second process waits for the first and then finds the schema already at ``revision``.
    """
    _migrate(engine, revision, downgrade=False)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the database to ``revision`` (one transaction where the backend allows; same lock as upgrade)."""
    _migrate(engine, revision, downgrade=True)


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down_revision, message) from the oldest to the newest."""
    revisions = list(script_directory().walk_revisions())
    revisions.reverse()
    return [(rev.revision, rev.down_revision, rev.doc or "") for rev in revisions]  # type: ignore[misc]
