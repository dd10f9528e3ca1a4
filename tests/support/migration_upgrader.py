"""One of several processes upgrading one database at once (the migration proof's concurrency test).

    python migration_upgrader.py URL GO_FILE

Connects, waits until GO_FILE exists (so every process starts its upgrade at the
same moment), runs ``mlineage db upgrade --db URL`` in-process, and prints one
JSON line: the revision it found after, whether this process changed the schema
(mlineage.migrations logs an upgrade only when it changed something), and when
it finished.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from mlineage.cli import main as cli_main
from mlineage.metadata.engine import make_engine
from mlineage.migrations import runner


class _Upgrades(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main() -> int:
    url, go = sys.argv[1], Path(sys.argv[2])
    upgrades = _Upgrades()
    log = logging.getLogger("mlineage.migrations")
    log.addHandler(upgrades)
    log.setLevel(logging.INFO)
    engine = make_engine(url)
    with engine.connect():  # connected before the start signal: only the upgrades race
        pass
    # Alembic and the revision files load before the signal too (a fifth of a second), not inside the race.
    from alembic import command  # noqa: F401
    from alembic.runtime.migration import MigrationContext  # noqa: F401

    runner.script_directory().get_current_head()
    while not go.exists():
        time.sleep(0.005)
    code = cli_main(["db", "upgrade", "--db", url])
    finished = time.time()
    after = runner.current_revision(engine)
    engine.dispose()
    upgraded = any("upgraded" in message for message in upgrades.messages)
    print(json.dumps({"code": code, "after": after, "upgraded": upgraded, "finished": finished}))
    return code


if __name__ == "__main__":
    sys.exit(main())
