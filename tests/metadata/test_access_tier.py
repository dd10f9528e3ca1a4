"""The three tiers: the store holds rules and transactions only, every statement is an access function
run by the executor, and the dialect's tricks are written once; the store's change token and file."""

from __future__ import annotations

import ast
from pathlib import Path

from paths import REPO_ROOT

import mlineage
from mlineage.metadata import dialect
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb

METADATA = REPO_ROOT / "mlineage" / "metadata"
# Where a statement may be handed to a driver: the executor; the session settings made when a
# connection opens (engine.py) and the change token's own connections (database.py).
RUNS_STATEMENTS = {"executor.py", "engine.py", "database.py"}
# Reads a foreign database (an MLMD source for import-mlmd), never mlineage's: its statements are not the
# store's, so history has nothing to rewrite in them.
FOREIGN_READERS = {"mlmd_source.py"}
_RUNNING = {"execute", "executemany", "exec_driver_sql", "cursor"}
_STATEMENTS = {"select", "insert", "update", "delete", "text", "and_", "or_", "bindparam", "func"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _runtime_imports(tree: ast.Module) -> list[str]:
    """Modules imported outside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def _called_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def test_the_store_holds_no_sql_and_imports_no_sqlalchemy():
    tree = _tree(METADATA / "store.py")
    assert not [name for name in _runtime_imports(tree) if name.split(".")[0] == "sqlalchemy"]
    called = _called_names(tree)
    assert not called & _RUNNING, called & _RUNNING
    assert not called & _STATEMENTS, called & _STATEMENTS


def test_only_the_executor_hands_statements_to_a_connection():
    offenders = []
    for path in sorted(METADATA.rglob("*.py")):
        if path.name in RUNS_STATEMENTS | FOREIGN_READERS or "__pycache__" in path.parts:
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _RUNNING:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} .{node.func.attr}(")
    assert offenders == []


def test_the_lineage_engine_writes_no_sql_text():
    # Its statements are SQLAlchemy constructs; only the one-statement PostgreSQL walk is SQL text.
    for name in ("reads.py", "traversal.py", "graph.py", "mlmd.py"):
        source = (METADATA / "lineage_engine" / name).read_text()
        assert "SELECT " not in source and "json_each" not in source, name


def test_the_ids_as_one_parameter_trick_and_the_batch_sizes_are_written_once():
    defined: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "mlineage").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        source = path.read_text()
        if "json_each" in source:
            defined.setdefault("json_each", []).append(path.name)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name in ("ids_match", "ids_param", "chunks"):
                defined.setdefault(node.name, []).append(path.name)
            if isinstance(node, ast.Assign) and METADATA in path.parents:
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in ("CHUNK", "LARGE_CHUNK", "_BATCH", "_BIG_BATCH"):
                        defined.setdefault(target.id, []).append(path.name)
    assert defined == {
        "json_each": ["dialect.py"],
        "ids_match": ["dialect.py"],
        "ids_param": ["dialect.py"],
        "chunks": ["dialect.py"],
    }


def test_ids_as_one_parameter_on_each_dialect():
    assert dialect.ids_param("sqlite", [3, 1, 2]) == "[3,1,2]"
    assert dialect.ids_param("postgresql", (3, 1)) == [3, 1]
    assert list(dialect.chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]


def _put_artifact(store: Store, uri: str) -> int:
    [type_id] = [store.put_artifact_type(pb.ArtifactType(name="Data"))]
    [artifact_id] = store.put_artifacts([pb.Artifact(type_id=type_id, uri=uri)])
    return artifact_id


def test_the_change_token_moves_with_every_commit_from_anywhere_and_only_then(store_url):
    store = mlineage.connect(store_url)
    other = mlineage.connect(store_url)  # another writer (on SQLite: another connection pool)
    token = store.change_token()
    assert token is not None
    # PostgreSQL's token is the server's snapshot: a write to any database of the server (a parallel
    # test run) moves it too, so "nothing moved it" is checked on SQLite only.
    sqlite = store_url.startswith("sqlite")
    try:
        _put_artifact(store, "/a")
        before = token.read()
        store.get_artifacts()  # reads move nothing
        if sqlite:
            assert token.read() == before
        _put_artifact(other, "/b")
        after_other = token.read()
        assert after_other != before
        _put_artifact(store, "/c")  # the store's own commits too
        assert token.read() != after_other
    finally:
        token.close()
        store.close()
        other.close()


def test_an_in_memory_store_has_no_change_token_and_no_file(tmp_path):
    memory = Store("sqlite://")
    try:
        assert memory.change_token() is None
        assert memory.sqlite_path is None
    finally:
        memory.close()
    path = tmp_path / "f.db"
    on_file = Store(f"sqlite:///{path}")
    try:
        assert on_file.sqlite_path == path
    finally:
        on_file.close()


def test_check_database_answers_while_the_database_answers(store):
    store.check_database()  # no error
    assert (store.sqlite_path is None) == (store.engine.dialect.name != "sqlite")
