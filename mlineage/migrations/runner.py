"""Schema version checks and upgrades, driven through Alembic on an engine mlineage owns."""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

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
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
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


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if len(versions) > 1:  # Alembic says what is wrong with a version table of several heads
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()
    return versions[0] if versions else None


def schema_status(engine: Engine) -> SchemaStatus:
    head = head_revision()
    current = current_revision(engine)
    if current is None:
        tables = set(inspect(engine).get_table_names())
        state = SchemaState.FOREIGN if tables - {"alembic_version"} else SchemaState.EMPTY
    elif current == head:
        state = SchemaState.CURRENT
    else:
        known = {rev.revision for rev in script_directory().walk_revisions()}
        state = SchemaState.BEHIND if current in known else SchemaState.AHEAD
    return SchemaStatus(state=state, current=current, head=head)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (where the backend allows)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    if after != before:
        log.info("database %s upgraded from revision %s to %s",
                 engine.url.render_as_string(hide_password=True), before or "<empty>", after)


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down_revision, message) from the oldest to the newest."""
    revisions = list(script_directory().walk_revisions())
    revisions.reverse()
    return [(rev.revision, rev.down_revision, rev.doc or "") for rev in revisions]  # type: ignore[misc]
