"""What `import mlineage` and `connect` load: nothing heavy that opening a store does not need (not timed).

Each check runs in a fresh interpreter and reads its sys.modules. bench/startup_bench.py
measures the time, side by side with MLMD.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlineage

HEAVY = ["pandas", "networkx", "fastapi", "starlette", "uvicorn", "grpc", "alembic", "lark", "matplotlib"]


def _loaded_after(code: str, cwd: Path) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_mlineage_loads_no_heavy_package(tmp_path):
    assert _loaded_after("import mlineage", tmp_path) == []


def test_connecting_to_a_current_sqlite_database_loads_no_heavy_package(tmp_path):
    url = f"sqlite:///{tmp_path / 'current.db'}"
    mlineage.connect(url).close()  # created at the current schema (this may migrate)
    assert _loaded_after(f"import mlineage\nmlineage.connect({url!r})", tmp_path) == []


def test_a_new_database_is_still_created_and_migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    loaded = _loaded_after(f"import mlineage\nmlineage.connect({url!r}).put_artifact_type", tmp_path)
    assert loaded == ["alembic"]  # creating the schema is a migration
    from mlineage.metadata.engine import make_engine
    from mlineage.migrations import runner

    engine = make_engine(url, create=False)
    assert (
        runner.current_revision(engine)
        == runner.head_revision()
        == runner.script_directory().get_current_head()
    )
    engine.dispose()
