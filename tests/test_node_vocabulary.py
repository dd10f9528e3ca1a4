"""One vocabulary for node kinds above the store: NodeKind, never a kind spelled as a string of one's own.

Read from the source with ``ast``: in REST, the request logic, lineage, the CLI and the client, no
comparison with a kind's name (``kind == "artifact"``), no node key or dict key made of one
(``("artifact", 3)``, ``{"execution": …}``), and no "art"/"exe" outside the journal's on-disk tags.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from paths import REPO_ROOT

PACKAGE = REPO_ROOT / "mlineage"
CHECKED = ["api/rest", "api/requests.py", "lineage", "cli", "client"]
KIND_NAMES = {"artifact", "execution", "context", "art", "exe", "ctx"}  # plurals are field names too


def _is_kind_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in KIND_NAMES


def _is_tag(node: ast.AST) -> bool:
    """``TAG: ClassVar[str] = "art"``: a journal record's on-disk name (not a node kind: KIND is)."""
    return isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "TAG"


def spelled_kinds(source: str) -> list[str]:
    """Where ``source`` spells a node kind as a string: comparisons, node keys, dict keys."""
    found: list[str] = []
    tree = ast.parse(source)
    tags = {id(node.value) for node in ast.walk(tree) if _is_tag(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for operand in operands:
                members = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
                if any(_is_kind_name(member) for member in members):
                    found.append(f"line {node.lineno}: a comparison with a kind's name")
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2 and _is_kind_name(node.elts[0]):
            found.append(f"line {node.lineno}: a node key made of a kind's name")
        elif isinstance(node, ast.Dict):
            if any(key is not None and _is_kind_name(key) for key in node.keys):
                found.append(f"line {node.lineno}: a dict keyed by a kind's name")
        elif isinstance(node, ast.Constant) and node.value in {"art", "exe"} and id(node) not in tags:
            found.append(f"line {node.lineno}: {node.value!r} outside a journal record's TAG")
    return found


def _modules() -> list[Path]:
    paths: list[Path] = []
    for part in CHECKED:
        where = PACKAGE / part
        paths += [where] if where.is_file() else sorted(where.rglob("*.py"))
    return [path for path in paths if "_pb2" not in path.name]


def test_no_layer_above_the_store_spells_a_node_kind_as_a_string():
    modules = _modules()
    assert len(modules) >= 20
    wrong = {
        str(path.relative_to(REPO_ROOT)): found
        for path in modules
        if (found := spelled_kinds(path.read_text(encoding="utf-8")))
    }
    assert not wrong


@pytest.mark.parametrize(
    "source",
    [
        'shape = "ellipse" if node[0] == "artifact" else "box"',
        'if kind_name not in ("artifact", "execution", "context"):\n    pass',
        'hops = {("artifact", i): h for i, h in walk.items()}',
        'RPCS = {("execution", None): "GetExecutions"}',
        'test = filter_test({"artifact": query})',
        'record = ["exe", key]',
    ],
)
def test_the_check_finds_a_kind_spelled_as_a_string(source):
    assert spelled_kinds(source)


def test_the_check_lets_node_kinds_proto_fields_and_journal_tags_be():
    source = (
        "class ArtifactRecord:\n    TAG: ClassVar[str] = 'art'\n    KIND: ClassVar[NodeKind] = ARTIFACT\n"
        "key = node_of(ARTIFACT, 3)\nok = kind is EXECUTION\nfield = request.HasField('execution')\n"
        "nodes = getattr(graph, kind.plural)\n"
    )
    assert spelled_kinds(source) == []
