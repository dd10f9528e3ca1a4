"""The package's import graph: no import cycle, and no layer importing one above it.

Read from the source with ``ast`` (every import, those inside functions too; ``if TYPE_CHECKING``
blocks excepted), so the check costs no imports and sees lazy imports that a run might not reach.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest
from paths import REPO_ROOT

PACKAGE = REPO_ROOT / "mlineage"

# Lowest first. A module may import its own layer and those below it, never one above.
LAYERS: list[set[str]] = [
    {"mlineage.errors", "mlineage.proto"},
    {"mlineage.schema"},
    {"mlineage.migrations"},
    {"mlineage.metadata"},  # the store, the access tier, the lineage engine beside it
    {"mlineage.lineage"},  # user-facing lineage queries, views and questions, above the store
    {"mlineage.integrations"},
    {"mlineage.reports"},  # run comparison: frames and renderings over the store and lineage
    {"mlineage.client", "mlineage.connection"},
    {"mlineage.auth"},  # identities, tokens, roles and their adapters, below the APIs that install them
    {"mlineage.api", "mlineage.ui"},  # the web UI's files are mounted by the REST app
    {"mlineage.cli"},
]
# What any module may take from the package's own __init__ (the public façade, which imports
# from everything): facts, never the façade's functions.
FACADE_NAMES = {"__version__", "errors", "metadata_store_pb2", "metadata_store_service_pb2"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "_pb2" in path.name or "__pycache__" in path.parts:
            continue
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The mlineage modules ``path`` imports (``from pkg import mod`` names the module, not ``pkg``)."""
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            continue
        nodes.append(node)
        if top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name.startswith("mlineage")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlineage"):
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            out |= {name for name in names if name in MODULES}
            if node.module == "mlineage":
                out |= {f"mlineage:{alias.name}" for alias in node.names if f"mlineage.{alias.name}" not in MODULES}
            elif any(name not in MODULES for name in names):
                out.add(node.module)
    return out


def _layer(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in layer):
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def _resolve(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def test_no_import_cycle_at_import_time() -> None:
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        for imported in _imports(path, top_level_only=True):
            if imported.startswith("mlineage:"):
                continue
            target = _resolve(imported)
            if target in MODULES and target != module:
                graph.add_edge(module, target)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles}"


def test_no_layer_imports_one_above_it() -> None:
    upward = []
    for module, path in sorted(MODULES.items()):
        if module == "mlineage":
            continue  # the façade: mlineage.connect, run, step
        own = _layer(module)
        for imported in sorted(_imports(path, top_level_only=False)):
            if imported.startswith("mlineage:"):
                if imported.split(":", 1)[1] not in FACADE_NAMES:
                    upward.append(f"{module} -> the façade's {imported.split(':', 1)[1]}")
                continue
            target = _resolve(imported)
            if target == "mlineage" or target not in MODULES:
                continue
            if _layer(target) > own:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("from mlineage.cli import main\n", "mlineage.metadata.fake -> mlineage.cli"),
        ("def f():\n    from mlineage.lineage.query import lineage\n", "mlineage.metadata.fake -> mlineage.lineage.query"),
        ("from mlineage import connect\n", "the façade's connect"),
    ],
)
def test_the_layer_check_sees_an_upward_import(source: str, problem: str, tmp_path, monkeypatch) -> None:
    fake = tmp_path / "fake.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "mlineage.metadata.fake", fake)
    with pytest.raises(AssertionError, match=problem):
        test_no_layer_imports_one_above_it()


def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch) -> None:
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("import mlineage.metadata.fake_b\n")
    second.write_text("from mlineage.metadata import fake_a\n")
    monkeypatch.setitem(MODULES, "mlineage.metadata.fake_a", first)
    monkeypatch.setitem(MODULES, "mlineage.metadata.fake_b", second)
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycle_at_import_time()
