"""filter_query: which nodes each MLMD filter selects, on SQLite and PostgreSQL, and the errors it gives."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from paths import REPO_ROOT
from sqlalchemy import Engine, create_engine, insert, or_, select, text
from sqlalchemy.dialects import mysql, postgresql, sqlite

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.filter_query import compile_filter
from mlineage.schema import tables as t

# --------------------------------------------------------------------------- the store
# Types: 1 DataSet, 2 MyModel (artifacts); 3 Trainer, 4 Evaluator (executions); 5 Pipeline, 6 Run (contexts).
# Contexts: pipe-parent(4) -> pipe1(1) -> run1(2), run2(3); run3(5) stands alone.
# pipe1 holds artifacts 1-4 and executions 1-3; run1 holds a1, a3, e1, e3; run2 holds a2, a4, e2.

LIVE, PENDING, DELETED, ABANDONED = 2, 1, 4, 5
RUNNING, COMPLETE, FAILED, CANCELED = 2, 3, 4, 6
DECLARED_OUTPUT, INPUT, OUTPUT, INTERNAL_INPUT = 1, 3, 4, 5

TYPES = [
    (1, t.KIND_ARTIFACT, "DataSet"),
    (2, t.KIND_ARTIFACT, "MyModel"),
    (3, t.KIND_EXECUTION, "Trainer"),
    (4, t.KIND_EXECUTION, "Evaluator"),
    (5, t.KIND_CONTEXT, "Pipeline"),
    (6, t.KIND_CONTEXT, "Run"),
]
ARTIFACTS = [  # id, type_id, name, uri, state, external_id, create_time
    (1, 1, "d1", "/d/1", LIVE, "a-ext", 1000),
    (2, 1, "d2", "/d/2", PENDING, None, 2000),
    (3, 2, "m1", "/m/1", LIVE, None, 3000),
    (4, 2, "m2", "/m/2", DELETED, None, 4000),
    (5, 2, None, None, None, None, 5000),
    (6, 1, "d_x", "/d/under_score", ABANDONED, None, 6000),
]
EXECUTIONS = [  # id, type_id, name, last_known_state, external_id, create_time
    (1, 3, "t1", COMPLETE, "e-ext", 1000),
    (2, 3, "t2", FAILED, None, 2000),
    (3, 4, "ev1", RUNNING, None, 3000),
    (4, 4, None, None, None, 4000),
    (5, 3, "t3", CANCELED, None, 5000),
]
CONTEXTS = [  # id, type_id, name, external_id, create_time
    (1, 5, "pipe1", "p-ext", 1000),
    (2, 6, "run1", None, 2000),
    (3, 6, "run2", None, 3000),
    (4, 5, "pipe-parent", None, 4000),
    (5, 6, "run3", None, 5000),
]
PROPERTIES = {  # kind: [(owner, name, is_custom, value column, value)]
    "artifact": [
        (1, "span", False, "int_value", 1),
        (1, "split", False, "string_value", "train"),
        (1, "cp", True, "string_value", "custom"),
        (1, "flag", True, "bool_value", True),
        (2, "span", False, "int_value", 2),
        (2, "split", False, "string_value", "eval"),
        (2, "flag", True, "bool_value", False),
        (2, "my prop", True, "int_value", 5),
        (3, "acc", False, "double_value", 0.9),
        (3, "cp", True, "string_value", "other"),
        (4, "acc", False, "double_value", 0.3),
        (4, "span", True, "int_value", 1),
        (5, "cp", True, "int_value", 7),
    ],
    "execution": [
        (1, "lr", False, "double_value", 0.1),
        (1, "gpu", True, "string_value", "a100"),
        (2, "lr", False, "double_value", 0.01),
        (2, "gpu", True, "string_value", "h100"),
    ],
    "context": [
        (1, "owner", False, "string_value", "alice"),
        (2, "attempt", False, "int_value", 1),
        (3, "attempt", False, "int_value", 2),
        (5, "note", True, "string_value", "x"),
    ],
}
VALUE_TYPES = {"int_value": 1, "double_value": 2, "string_value": 3, "bool_value": 6}
PARENT_CONTEXTS = [(1, 4), (2, 1), (3, 1)]  # (child, parent)
ATTRIBUTIONS = [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 3), (3, 2), (3, 4)]  # (context, artifact)
ASSOCIATIONS = [(1, 1), (1, 2), (1, 3), (2, 1), (2, 3), (3, 2)]  # (context, execution)
EVENTS = [  # artifact, execution, type, milliseconds
    (1, 1, INPUT, 100),
    (3, 1, OUTPUT, 200),
    (3, 3, INPUT, 300),
    (2, 2, INPUT, 400),
    (4, 2, OUTPUT, 500),
    (4, 3, DECLARED_OUTPUT, 600),
    (2, 3, INTERNAL_INPUT, 700),
]


def _populate(engine: Engine) -> None:
    t.metadata.drop_all(engine)
    t.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t.types), [{"id": i, "kind": k, "name": n, "version": ""} for i, k, n in TYPES])
        conn.execute(
            insert(t.artifacts),
            [
                dict(
                    id=i,
                    type_id=ty,
                    name=n,
                    uri=u,
                    state=s,
                    external_id=x,
                    create_time_since_epoch=c,
                    last_update_time_since_epoch=c + 100,
                )
                for i, ty, n, u, s, x, c in ARTIFACTS
            ],
        )
        conn.execute(
            insert(t.executions),
            [
                dict(
                    id=i,
                    type_id=ty,
                    name=n,
                    last_known_state=s,
                    external_id=x,
                    create_time_since_epoch=c,
                    last_update_time_since_epoch=c + 100,
                )
                for i, ty, n, s, x, c in EXECUTIONS
            ],
        )
        conn.execute(
            insert(t.contexts),
            [
                dict(
                    id=i,
                    type_id=ty,
                    name=n,
                    external_id=x,
                    create_time_since_epoch=c,
                    last_update_time_since_epoch=c + 100,
                )
                for i, ty, n, x, c in CONTEXTS
            ],
        )
        for kind, rows in PROPERTIES.items():
            conn.execute(
                insert(t.PROPERTY_TABLES[kind]),
                [
                    {
                        f"{kind}_id": owner,
                        "name": name,
                        "is_custom": custom,
                        "value_type": VALUE_TYPES[column],
                        "int_value": None,
                        "double_value": None,
                        "string_value": None,
                        "bool_value": None,
                        column: value,
                    }
                    for owner, name, custom, column, value in rows
                ],
            )
        conn.execute(insert(t.parent_contexts), [{"child_id": c, "parent_id": p} for c, p in PARENT_CONTEXTS])
        conn.execute(insert(t.attributions), [{"context_id": c, "artifact_id": a} for c, a in ATTRIBUTIONS])
        conn.execute(insert(t.associations), [{"context_id": c, "execution_id": e} for c, e in ASSOCIATIONS])
        conn.execute(
            insert(t.events),
            [
                {"artifact_id": a, "execution_id": e, "type": ty, "milliseconds_since_epoch": ms}
                for a, e, ty, ms in EVENTS
            ],
        )


def _sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("filter_query") / "store.db"
    engine = create_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _postgres_engine() -> Iterator[Engine]:
    url = os.environ.get("MLINEAGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MLINEAGE_TEST_POSTGRES_URL is not set")
    # A schema of our own, so that other test modules sharing the database are not disturbed.
    schema = f"test_filter_query_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _mysql_engine() -> Iterator[Engine]:
    from mysql_databases import mysql_database

    from mlineage.metadata.engine import make_engine, normalize_url
    from mlineage.schema.column_types import MARIADB_COLLATION

    url = mysql_database("test_filter_query")
    engine = make_engine(normalize_url(url))
    with engine.begin() as conn:  # the defaults the migrations give a database (create_all has no others)
        conn.execute(text(f"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {MARIADB_COLLATION}"))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engines = {"sqlite": lambda: _sqlite_engine(tmp_path_factory), "postgresql": _postgres_engine,
               "mysql": _mysql_engine}[request.param]()
    engine = next(engines)
    _populate(engine)
    yield engine
    engines.close()


def ids(engine: Engine, kind: str, query: str) -> set[int]:
    table = t.NODE_TABLES[kind]
    with engine.connect() as conn:
        return set(conn.scalars(select(table.c.id).where(compile_filter(kind, query))))


ALL_ARTIFACTS = {1, 2, 3, 4, 5, 6}
ALL_EXECUTIONS = {1, 2, 3, 4, 5}
ALL_CONTEXTS = {1, 2, 3, 4, 5}

# --------------------------------------------------------------------------- selections

REFERENCE_EXAMPLES = [
    ("artifact", "properties.acc.double_value > 0.5", {3}),
    ("artifact", "properties.`acc`.double_value > 0.5", {3}),
    ("artifact", "custom_properties.cp.string_value = 'custom'", {1}),
    ("artifact", "uri LIKE '/d/%' AND id IN (2,3)", {2}),
    ("artifact", "state = LIVE", {1, 3}),
    ("artifact", "type = 'MyModel' AND name = 'm1'", {3}),
    ("artifact", "external_id = 'a-ext'", {1}),
    ("artifact", "NOT(create_time_since_epoch < 1)", ALL_ARTIFACTS),
    ("artifact", "contexts_a.name = 'pipe1'", {1, 2, 3, 4}),
    ("artifact", "events_0.type = DECLARED_OUTPUT", {4}),
    ("execution", "last_known_state = COMPLETE", {1}),
    ("execution", "events_0.artifact_id = 1", {1}),
    ("execution", "contexts_x.type = 'Pipeline'", {1, 2, 3}),
    ("context", "parent_contexts_a.name = 'pipe-parent'", {1}),
    ("context", "child_contexts_a.name = 'pipe1'", {4}),
    ("context", "artifacts_a.name = 'm1'", {1, 2}),
    ("context", "executions_a.last_known_state = COMPLETE", {1, 2}),
    # The proto comment writes `properties.span = 1`; MLMD itself needs the value field.
    (
        "artifact",
        "type = 'DataSet' AND (contexts_a.type = 'Run' AND contexts_a.name = 'run1') AND "
        "(properties.span.int_value = 1 OR custom_properties.span.int_value = 1)",
        {1},
    ),
    (
        "artifact",
        "type = 'MyModel' AND (contexts_a.type = 'Run' AND contexts_a.name = 'run2') AND "
        "(properties.span.int_value = 1 OR custom_properties.span.int_value = 1)",
        {4},
    ),
    ("artifact", "contexts_a.name = 'run1' AND contexts_b.name = 'pipe1'", {1, 3}),
    ("execution", "last_known_state NOT IN (FAILED, CANCELED)", {1, 3, 4}),
    ("artifact", "events_0.type IN (INPUT, INTERNAL_INPUT)", {1, 2, 3}),
]

OPERATORS = [
    ("artifact", "id = 3", {3}),
    ("artifact", "id != 3", ALL_ARTIFACTS - {3}),
    ("artifact", "id <> 3", ALL_ARTIFACTS - {3}),
    ("artifact", "id < 3", {1, 2}),
    ("artifact", "id <= 3", {1, 2, 3}),
    ("artifact", "id > 4", {5, 6}),
    ("artifact", "id >= 4", {4, 5, 6}),
    ("artifact", "3 > id", {1, 2}),
    ("artifact", "type_id = 1", {1, 2, 6}),
    ("artifact", "name IN ('d1', 'm1')", {1, 3}),
    ("artifact", "name NOT IN ('d1', 'm1')", {2, 4, 6}),
    ("artifact", "name LIKE 'd%'", {1, 2, 6}),
    ("artifact", "name NOT LIKE 'd%'", {3, 4}),
    ("artifact", "name LIKE 'd_%'", {1, 2, 6}),
    ("artifact", r"name LIKE 'd\_%'", {6}),
    ("artifact", r"uri LIKE '/d/under\_%'", {6}),
    ("artifact", "name IS NULL", {5}),
    ("artifact", "name IS NOT NULL", ALL_ARTIFACTS - {5}),
    ("artifact", "external_id IS NULL", {2, 3, 4, 5, 6}),
    ("artifact", "NOT name = 'd1'", {2, 3, 4, 6}),
    ("artifact", "NOT (name = 'd1' OR id = 5)", {2, 3, 4, 6}),
    ("artifact", "name = 'd1' OR NOT name = 'zz'", ALL_ARTIFACTS - {5}),
    ("artifact", "NOT NOT name = 'd1'", {1}),
    ("artifact", "not name = 'd1' and not name = 'd2' and name like 'd%'", {6}),
    # Keywords are reserved, except as a field name after a dot.
    (
        "artifact",
        "properties.in.int_value IS NULL AND custom_properties.NULL.int_value IS NULL",
        ALL_ARTIFACTS,
    ),
    ("artifact", "`name` = 'd1'", {1}),
    ("artifact", "name in ('d1') and NOT id = 2 Or id = 2", {1, 2}),
    ("artifact", "name in ('d1') and (NOT id = 2 Or id = 2)", {1}),
    ("artifact", "(id = 1 OR id = 2) AND (id = 2 OR id = 3)", {2}),
    ("artifact", 'name = "d1"', {1}),
    ("artifact", r"name = 'd\x31'", {1}),
    ("artifact", r"name = 'd\u0031'", {1}),
    ("artifact", "create_time_since_epoch >= 3000 AND last_update_time_since_epoch < 4200", {3, 4}),
    ("artifact", "type = 'DataSet'", {1, 2, 6}),
    ("artifact", "type != 'DataSet'", {3, 4, 5}),
    ("artifact", "NOT type = 'DataSet'", {3, 4, 5}),
    ("artifact", "type IN ('MyModel')", {3, 4, 5}),
    ("artifact", "type LIKE 'My%'", {3, 4, 5}),
    ("artifact", "type IS NULL", set()),
    ("artifact", "type IS NOT NULL", ALL_ARTIFACTS),
    ("artifact", "uri = '/d/1'", {1}),
    # Enums: names, numbers, quoted names; != and NOT IN also match an unset state, as in MLMD.
    ("artifact", "state = 2", {1, 3}),
    ("artifact", "state = 'LIVE'", {1, 3}),
    ("artifact", "LIVE = state", {1, 3}),
    ("artifact", "state IN (LIVE, 4)", {1, 3, 4}),
    ("artifact", "state != LIVE", {2, 4, 5, 6}),
    ("artifact", "NOT state = LIVE", {2, 4, 6}),
    ("artifact", "state NOT IN (LIVE, PENDING)", {4, 5, 6}),
    ("artifact", "NOT state IN (LIVE, PENDING)", {4, 6}),
    ("artifact", "state > LIVE", {4, 6}),
    ("artifact", "state IS NULL", {5}),
    ("artifact", "state = ABANDONED OR state = REFERENCE", {6}),
    ("execution", "last_known_state != COMPLETE", {2, 3, 4, 5}),
    ("execution", "NOT last_known_state = COMPLETE", {2, 3, 5}),
    ("execution", "NOT last_known_state != COMPLETE", {1}),
    ("execution", "last_known_state IS NULL", {4}),
    ("execution", "last_known_state IN (RUNNING, CANCELED)", {3, 5}),
    ("execution", "type = 'Evaluator'", {3, 4}),
    ("execution", "external_id = 'e-ext'", {1}),
    ("context", "name = 'pipe1'", {1}),
    ("context", "type = 'Run' AND create_time_since_epoch > 2000", {3, 5}),
    ("context", "external_id IS NOT NULL", {1}),
]

PROPERTIES_CASES = [
    ("artifact", "properties.span.int_value = 1", {1}),
    ("artifact", "custom_properties.span.int_value = 1", {4}),
    ("artifact", "properties.span.int_value > -1", {1, 2}),
    ("artifact", "properties.span.int_value < 1.5", {1}),
    ("artifact", "properties.acc.double_value > -0.5", {3, 4}),
    ("artifact", "properties.acc.double_value < 1", {3, 4}),
    ("artifact", "properties.acc.double_value >= 9e-1", {3}),
    ("artifact", "custom_properties.`my prop`.int_value = 5", {2}),
    ("artifact", "properties.split.string_value IN ('train', 'x')", {1}),
    ("artifact", "properties.split.string_value NOT IN ('train')", {2}),
    ("artifact", "properties.split.string_value LIKE 'tr%'", {1}),
    ("artifact", "properties.split.string_value NOT LIKE 'tr%'", {2}),
    ("artifact", "custom_properties.flag.bool_value = TRUE", {1}),
    ("artifact", "custom_properties.flag.bool_value = false", {2}),
    ("artifact", "custom_properties.flag.bool_value != TRUE", {2}),
    ("artifact", "custom_properties.flag.bool_value", {1}),
    ("artifact", "NOT custom_properties.flag.bool_value", {2}),
    # A missing property reads as NULL (LEFT JOIN semantics), so comparisons with it are unknown...
    ("artifact", "properties.span.int_value != 1", {2}),
    ("artifact", "NOT properties.span.int_value = 1", {2}),
    ("artifact", "NOT (properties.span.int_value = 1 AND id > 0)", {2}),
    # ... and IS NULL is true for it, also when the row holds another value column.
    ("artifact", "properties.span.int_value IS NULL", {3, 4, 5, 6}),
    ("artifact", "properties.span.int_value IS NOT NULL", {1, 2}),
    ("artifact", "NOT properties.span.int_value IS NULL", {1, 2}),
    ("artifact", "properties.span.int_value = 1 OR properties.span.int_value IS NULL", {1, 3, 4, 5, 6}),
    ("artifact", "custom_properties.cp.string_value IS NULL", {2, 4, 5, 6}),
    ("artifact", "custom_properties.cp.int_value = 7", {5}),
    ("artifact", "custom_properties.cp.string_value != 'custom'", {3}),
    ("artifact", "NOT custom_properties.cp.string_value != 'custom'", {1}),
    ("artifact", "properties.cp.string_value = 'custom'", set()),
    # NULL literals: comparisons with NULL are never true, nor false.
    ("artifact", "properties.span.int_value = NULL", set()),
    ("artifact", "NOT properties.span.int_value = NULL", set()),
    ("artifact", "name = NULL", set()),
    ("artifact", "NOT name != NULL", set()),
    ("artifact", "id IN (1, NULL)", {1}),
    ("artifact", "id NOT IN (1, NULL)", set()),
    ("artifact", "NOT id NOT IN (1, NULL)", {1}),
    ("artifact", "name LIKE NULL", set()),
    ("execution", "properties.lr.double_value < 0.05", {2}),
    ("execution", "custom_properties.gpu.string_value LIKE '%100'", {1, 2}),
    ("context", "properties.attempt.int_value >= 1 AND type = 'Run'", {2, 3}),
    ("context", "custom_properties.note.string_value = 'x'", {5}),
    ("context", "properties.owner.string_value = 'alice'", {1}),
]

ALIASES = [
    # One alias is one neighbour row; two aliases are two independent ones.
    ("artifact", "contexts_a.name = 'run1' AND contexts_a.name = 'pipe1'", set()),
    ("artifact", "contexts_a.name = 'run1' AND contexts_b.name = 'pipe1'", {1, 3}),
    ("artifact", "contexts_my_run.name = 'run2' AND contexts_0.name = 'pipe1'", {2, 4}),
    ("artifact", "contexts_a.type = 'Run' AND contexts_a.properties.attempt.int_value = 2", {2, 4}),
    ("artifact", "contexts_a.custom_properties.note.string_value = 'x'", set()),
    ("artifact", "contexts_a.properties.attempt.int_value IS NULL", ALL_ARTIFACTS),
    ("artifact", "contexts_a.id = 2", {1, 3}),
    ("artifact", "contexts_a.type_id = 5", {1, 2, 3, 4}),
    ("artifact", "contexts_a.external_id = 'p-ext'", {1, 2, 3, 4}),
    ("artifact", "contexts_a.create_time_since_epoch > 2500", {2, 4}),
    ("artifact", "contexts_a.last_update_time_since_epoch = 2100", {1, 3}),
    # A node without such a neighbour sees NULLs (LEFT OUTER JOIN).
    ("artifact", "contexts_a.name IS NULL", {5, 6}),
    ("artifact", "contexts_a.type IS NULL", {5, 6}),
    ("artifact", "contexts_a.name != 'pipe1'", {1, 2, 3, 4}),
    ("artifact", "NOT contexts_a.name = 'pipe1'", {1, 2, 3, 4}),
    ("artifact", "contexts_a.name = 'run1' OR name = 'm2'", {1, 3, 4}),
    ("artifact", "contexts_a.name = 'run1' OR id = 5", {1, 3, 5}),
    ("artifact", "Contexts_a.name = 'run1' AND contexts_a.name = 'run1'", {1, 3}),
    ("artifact", "events_0.type = INPUT AND events_0.execution_id = 3", {3}),
    ("artifact", "events_0.type = INPUT AND events_1.execution_id = 3", {2, 3}),
    ("artifact", "events_0.milliseconds_since_epoch > 450", {2, 4}),
    ("artifact", "events_0.type IS NULL", {5, 6}),
    ("artifact", "events_0.type != INPUT", {2, 3, 4}),
    ("artifact", "events_0.type NOT IN (INPUT, OUTPUT)", {2, 4}),
    ("artifact", "events_e.type = PENDING_OUTPUT", set()),
    ("execution", "events_0.artifact_id = 3", {1, 3}),
    ("execution", "events_0.type = OUTPUT AND events_0.milliseconds_since_epoch < 300", {1}),
    ("execution", "contexts_a.name = 'run2'", {2}),
    ("execution", "contexts_a.name IS NULL", {4, 5}),
    ("execution", "contexts_a.name = 'run1' AND last_known_state = RUNNING", {3}),
    ("context", "artifacts_a.state = PENDING AND artifacts_a.type = 'MyModel'", set()),
    ("context", "artifacts_a.state = PENDING AND artifacts_b.type = 'MyModel'", {1, 3}),
    ("context", "artifacts_a.uri LIKE '/m/%'", {1, 2, 3}),
    ("context", "artifacts_a.external_id = 'a-ext'", {1, 2}),
    ("context", "artifacts_a.id = 4", {1, 3}),
    ("context", "artifacts_a.create_time_since_epoch = 2000", {1, 3}),
    ("context", "artifacts_a.properties.span.int_value = 2", {1, 3}),
    ("context", "artifacts_a.state != LIVE", {1, 3}),
    ("context", "executions_a.type = 'Evaluator'", {1, 2}),
    ("context", "executions_a.name = 't2'", {1, 3}),
    ("context", "executions_a.external_id = 'e-ext'", {1, 2}),
    ("context", "executions_a.last_known_state IN (FAILED)", {1, 3}),
    ("context", "executions_a.custom_properties.gpu.string_value = 'h100'", {1, 3}),
    ("context", "parent_contexts_a.type = 'Pipeline'", {1, 2, 3}),
    ("context", "parent_contexts_a.id = 1", {2, 3}),
    ("context", "parent_contexts_a.id IS NULL", {4, 5}),
    ("context", "child_contexts_a.type = 'Run'", {1}),
    ("context", "child_contexts_a.id IS NULL", {2, 3, 5}),
    ("context", "child_contexts_a.name = 'run1' AND child_contexts_b.name = 'run2'", {1}),
    (
        "context",
        "name = 'pipe1' AND parent_contexts_p.name = 'pipe-parent' AND child_contexts_c.name = 'run1' "
        "AND artifacts_x.name = 'd1' AND executions_y.name = 't1'",
        {1},
    ),
    ("context", "parent_contexts_a.name = 'pipe1' OR child_contexts_a.name = 'pipe1'", {2, 3, 4}),
]


def _case_id(case: tuple[str, str, set[int]]) -> str:
    return f"{case[0]}: {case[1]}"


@pytest.mark.parametrize(
    ("kind", "query", "expected"), REFERENCE_EXAMPLES, ids=map(_case_id, REFERENCE_EXAMPLES)
)
def test_reference_examples_select_the_documented_nodes(
    engine: Engine, kind: str, query: str, expected: set[int]
) -> None:
    assert ids(engine, kind, query) == expected


@pytest.mark.parametrize(("kind", "query", "expected"), OPERATORS, ids=map(_case_id, OPERATORS))
def test_operators_on_node_attributes(engine: Engine, kind: str, query: str, expected: set[int]) -> None:
    assert ids(engine, kind, query) == expected


@pytest.mark.parametrize(("kind", "query", "expected"), PROPERTIES_CASES, ids=map(_case_id, PROPERTIES_CASES))
def test_properties_follow_left_join_null_semantics(
    engine: Engine, kind: str, query: str, expected: set[int]
) -> None:
    assert ids(engine, kind, query) == expected


@pytest.mark.parametrize(("kind", "query", "expected"), ALIASES, ids=map(_case_id, ALIASES))
def test_each_alias_names_one_neighbour_row(
    engine: Engine, kind: str, query: str, expected: set[int]
) -> None:
    assert ids(engine, kind, query) == expected


def test_blank_query_selects_everything(engine: Engine) -> None:
    assert ids(engine, "artifact", "  ") == ALL_ARTIFACTS


def test_keywords_are_case_insensitive_and_whitespace_is_free(engine: Engine) -> None:
    query = "name\n  LiKe 'd%'\tand\nstate not in (PENDING)   OR id Is NuLl"
    assert ids(engine, "artifact", query) == {1, 6}


def test_a_quote_in_a_string_cannot_escape_its_parameter(engine: Engine) -> None:
    assert ids(engine, "artifact", r"name = 'x\'; DROP TABLE artifacts; --'") == set()
    assert ids(engine, "artifact", "name = 'd1' OR name = \"x'\"") == {1}
    assert ids(engine, "artifact", "id > 0") == ALL_ARTIFACTS


def test_compiled_filters_can_be_reused_and_combined(engine: Engine) -> None:
    query = "contexts_a.name = 'run1' AND properties.span.int_value IS NOT NULL"
    first, second = compile_filter("artifact", query), compile_filter("artifact", query)
    other = compile_filter("artifact", "contexts_a.name = 'run2'")
    with engine.connect() as conn:
        for condition, expected in [(first, {1}), (second, {1}), (or_(first, second, other), {1, 2, 4})]:
            assert set(conn.scalars(select(t.artifacts.c.id).where(condition))) == expected


def test_filter_works_inside_a_query_that_joins_types_and_properties(engine: Engine) -> None:
    # The filter's own subqueries must not be correlated to the caller's FROM list.
    a, types, props = t.artifacts, t.types, t.artifact_properties
    statement = (
        select(a.c.id, types.c.name)
        .join(types, types.c.id == a.c.type_id)
        .outerjoin(props, props.c.artifact_id == a.c.id)
        .where(compile_filter("artifact", "type = 'MyModel' AND properties.acc.double_value > 0.5"))
        .distinct()
    )
    with engine.connect() as conn:
        assert {tuple(row) for row in conn.execute(statement)} == {(3, "MyModel")}


# --------------------------------------------------------------------------- the SQL it builds


def _sql(kind: str, query: str, dialect: object) -> tuple[str, dict]:
    table = t.NODE_TABLES[kind]
    compiled = select(table.c.id).where(compile_filter(kind, query)).compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.dialect(), mysql.dialect()], ids=["sqlite", "postgresql", "mysql"]
)
def test_user_text_reaches_the_database_only_as_parameters(dialect: object) -> None:
    query = (
        "name = 'secret_name' AND uri LIKE '/secret/%' AND custom_properties.`secret prop`.string_value "
        "IN ('secret_value') AND properties.secret_int.int_value = 123456789 AND contexts_secret.name = "
        "'secret_ctx' AND type = 'SecretType' AND id > 987654321 AND properties.f.double_value < 0.123456"
    )
    sql, params = _sql("artifact", query, dialect)
    for user_text in [
        "secret_name",
        "/secret/",
        "secret prop",
        "secret_value",
        "secret_int",
        "123456789",
        "secret_ctx",
        "contexts_secret",
        "SecretType",
        "987654321",
        "0.123456",
    ]:
        assert user_text not in sql
    values = set(params.values())
    assert {"secret_name", "/secret/%", "secret prop", "secret_value", "secret_int", 123456789} <= values
    assert {"secret_ctx", "SecretType", 987654321, 0.123456} <= values


def test_a_query_without_aliases_is_a_plain_indexable_predicate() -> None:
    sql, _ = _sql("artifact", "uri = '/d/1' AND id IN (1, 2)", sqlite.dialect())
    assert "JOIN" not in sql and "SELECT" not in sql.split("WHERE", 1)[1]
    assert "artifacts.uri = ?" in sql and "artifacts.id IN (?, ?)" in sql


def test_a_property_filter_is_an_uncorrelated_lookup_on_the_property_index() -> None:
    sql, _ = _sql("artifact", "properties.acc.double_value > 0.5", sqlite.dialect())
    assert "artifacts.id IN (SELECT artifact_properties.artifact_id" in sql
    assert "artifact_properties.name = ?" in sql and "artifact_properties.is_custom = 0" in sql
    assert "artifact_properties.double_value > ?" in sql
    assert "JOIN" not in sql


def test_aliases_compile_to_left_outer_joins_in_one_subquery() -> None:
    sql, _ = _sql("artifact", "contexts_a.name = 'x' AND contexts_b.name = 'y'", sqlite.dialect())
    assert sql.count("LEFT OUTER JOIN attributions") == 2
    assert sql.count("LEFT OUTER JOIN contexts") == 2
    assert "artifacts.id IN (SELECT" in sql


# --------------------------------------------------------------------------- errors

PREFIX = "Invalid `filter_query`: "

ERRORS = [
    ("artifact", "foo = 1", "unrecognized name foo [at 1:1]"),
    ("artifact", "id = 1 AND\n  foo = 2", "unrecognized name foo [at 2:3]"),
    ("execution", "uri = 'x'", "uri cannot be used when filtering executions [at 1:1]"),
    ("context", "state = LIVE", "state cannot be used when filtering contexts [at 1:1]"),
    ("artifact", "name = 1", "cannot compare a string field with 1 (an integer) [at 1:8]"),
    ("artifact", "id = 'x'", "cannot compare an integer field with 'x' (a string) [at 1:6]"),
    (
        "artifact",
        "properties.x.int_value = TRUE",
        "cannot compare an integer field with TRUE (a boolean) [at 1:26]",
    ),
    (
        "artifact",
        "properties.x.bool_value = 1",
        "cannot compare a boolean field with 1 (an integer) [at 1:27]",
    ),
    ("artifact", "state = 1.5", "cannot compare an enum field with 1.5 (a floating point number) [at 1:9]"),
    ("artifact", "name LIKE 1", "cannot compare a string field with 1 (an integer) [at 1:11]"),
    ("artifact", "id LIKE '1'", "LIKE needs a string field, and id is an integer [at 1:1]"),
    ("artifact", "'d1' LIKE name", "LIKE needs a field on its left [at 1:1]"),
    ("artifact", "1 IN (1)", "IN needs a field on its left [at 1:1]"),
    ("artifact", "custom_properties.f.bool_value < TRUE", "operator < is not defined for booleans [at 1:32]"),
    (
        "artifact",
        "state = LIVING",
        "unknown Artifact.State value LIVING (expected one of UNKNOWN, PENDING, LIVE, "
        "MARKED_FOR_DELETION, DELETED, ABANDONED, REFERENCE) [at 1:9]",
    ),
    ("execution", "last_known_state IN (COMPLETE, DONE)", "unknown Execution.State value DONE"),
    ("artifact", "events_0.type = SENT", "unknown Event.Type value SENT"),
    ("artifact", "state = 'live'", "unknown Artifact.State value live"),
    (
        "artifact",
        "artifacts_a.name = 'x'",
        "artifacts_a cannot be used when filtering artifacts (use contexts_<alias> or events_<alias>) [at 1:1]",
    ),
    (
        "execution",
        "parent_contexts_a.name = 'x'",
        "parent_contexts_a cannot be used when filtering executions",
    ),
    (
        "context",
        "contexts_a.name = 'x'",
        "contexts_a cannot be used when filtering contexts (use artifacts_<alias>",
    ),
    ("context", "events_a.type = INPUT", "events_a cannot be used when filtering contexts"),
    ("artifact", "contexts_a = 1", "contexts_a needs a field, e.g. contexts_a.id [at 1:1]"),
    ("artifact", "contexts_a.uri = 'x'", "unrecognized name contexts_a.uri [at 1:12]"),
    ("execution", "events_0.execution_id = 1", "unrecognized name events_0.execution_id [at 1:10]"),
    ("artifact", "events_0.properties.p.int_value = 1", "unrecognized name events_0.properties [at 1:10]"),
    (
        "artifact",
        "properties.x.blob_value = 1",
        "unknown property value field blob_value (expected int_value, "
        "double_value, string_value or bool_value) [at 1:14]",
    ),
    (
        "artifact",
        "properties.span = 1",
        "properties.span needs a value field (int_value, double_value, string_value or bool_value) [at 1:12]",
    ),
    (
        "artifact",
        "properties = 1",
        "properties needs a property name and a value field, e.g. properties.<name>.int_value [at 1:1]",
    ),
    ("artifact", "properties.x.int_value.y = 1", "int_value has no field y [at 1:24]"),
    ("artifact", "name.first = 'x'", "name has no field first [at 1:6]"),
    ("artifact", "1 = 1", "a comparison needs a field on one side [at 1:1]"),
    ("artifact", "name = external_id", "comparing two fields is not supported [at 1:8]"),
    ("artifact", "name = nothing", "unrecognized name nothing [at 1:8]"),
    ("artifact", "state = name", "comparing two fields is not supported [at 1:9]"),
    ("artifact", "name", "expected a condition (a comparison, IN, LIKE or IS NULL) [at 1:1]"),
    ("artifact", "TRUE", "expected a condition (a comparison, IN, LIKE or IS NULL) [at 1:1]"),
    ("artifact", r"name = 'a\qb'", r"illegal escape sequence \q [at 1:8]"),
    ("artifact", r"name = 'a\x4'", r"illegal escape sequence \x4 [at 1:8]"),
    ("artifact", r"name = 'a\x00b'", "a string cannot contain a NUL character [at 1:8]"),
    (
        "artifact",
        "id = 99999999999999999999",
        "integer literal 99999999999999999999 is out of range [at 1:6]",
    ),
    (
        "artifact",
        "properties.f.double_value = 1e999",
        "floating point literal 1e999 is out of range [at 1:29]",
    ),
    # Syntax errors.
    (
        "artifact",
        "type = 'MyModel' AND name = 'm1' AND",
        "syntax error: unexpected end of expression [at 1:37]",
    ),
    ("artifact", "id = 1 AND", "syntax error: unexpected end of expression [at 1:11]"),
    ("artifact", "id = = 1", 'syntax error: unexpected "=" [at 1:6]'),
    ("artifact", "id = 1 name = 'x'", 'syntax error: unexpected identifier "name" [at 1:8]'),
    ("artifact", "id = 1 AND AND", "syntax error: unexpected keyword AND [at 1:12]"),
    ("artifact", "id = 1 AND or id = 2", "syntax error: unexpected keyword OR [at 1:12]"),
    ("artifact", "null = 1", "a comparison needs a field on one side [at 1:1]"),
    ("artifact", "id IS NULL NULL", "syntax error: unexpected keyword NULL [at 1:12]"),
    ("artifact", "AND", "syntax error: unexpected keyword AND [at 1:1]"),
    ("artifact", "name = 'abc", "syntax error: unterminated string literal [at 1:8]"),
    ("artifact", "properties.`x.int_value = 1", "syntax error: unterminated quoted identifier [at 1:12]"),
    ("artifact", "id # 1", "syntax error: unexpected character '#' [at 1:4]"),
    ("artifact", "(id = 1", "syntax error: unexpected end of expression [at 1:8]"),
    ("artifact", "id IN ()", 'syntax error: unexpected ")" [at 1:8]'),
    ("artifact", "id = 1)", 'syntax error: unexpected ")" [at 1:7]'),
    ("artifact", "id == 1", 'syntax error: unexpected "=" [at 1:5]'),
]


@pytest.mark.parametrize(("kind", "query", "message"), ERRORS, ids=[f"{k}: {q}" for k, q, _ in ERRORS])
def test_invalid_queries_say_what_and_where(kind: str, query: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        compile_filter(kind, query)  # type: ignore[arg-type]
    assert str(raised.value).startswith(PREFIX + message)
    assert raised.value.code == 3  # INVALID_ARGUMENT


def test_errors_are_raised_again_for_a_cached_query() -> None:
    for _ in range(2):
        with pytest.raises(InvalidArgumentError, match="unrecognized name foo"):
            compile_filter("artifact", "foo = 1")


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        compile_filter("type", "id = 1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the prebuilt parser


def _parse_or_error(parser, query: str):
    """What a parser (lark's or ours) makes of ``query``: its tree with every position, or its error and where.

    The shape is compared as plain tuples, so both libraries' classes reduce to the same values.
    """
    from lark.exceptions import UnexpectedInput

    from mlineage.metadata import lalr

    try:
        tree = parser.parse(query)
    except (UnexpectedInput, lalr.ParseError) as error:
        kind = type(error).__name__
        if kind == "UnexpectedToken":
            token = error.token
            return kind, token.type, str(token), token.line, token.column
        return kind, error.line, error.column

    def shape(item):
        if not hasattr(item, "data"):  # a token
            return ("token", item.type, str(item), item.start_pos, item.line, item.column,
                    item.end_line, item.end_column, item.end_pos)
        meta = item.meta
        where = tuple(getattr(meta, name, None) for name in (
            "line", "column", "start_pos", "end_line", "end_column", "end_pos",
            "container_line", "container_column", "container_start_pos",
            "container_end_line", "container_end_column", "container_end_pos"))
        return ("tree", str(item.data), where, tuple(shape(child) for child in item.children))

    return shape(tree)


def test_the_prebuilt_parser_is_current_with_the_grammar() -> None:
    import subprocess
    import sys

    from mlineage.metadata import filter_query, lalr

    script = REPO_ROOT / "scripts" / "gen_filter_parser.py"
    check = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, f"{check.stdout}{check.stderr}: run scripts/gen_filter_parser.py"
    # ... and the parser in use runs the prebuilt tables on our runtime, not one lark built on first use.
    assert isinstance(filter_query._parser(), lalr.Parser)


def test_a_first_filter_query_imports_no_lark() -> None:
    import subprocess
    import sys

    script = ("import sys; from mlineage.metadata.filter_query import compile_filter; "
              "compile_filter('artifact', \"uri LIKE 'x%' AND properties.p.int_value IN (1, 2)\"); "
              "print(sorted(m for m in sys.modules if m == 'lark' or m.startswith('lark.')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_prebuilt_parser_parses_as_one_built_from_the_grammar() -> None:
    from lark import Lark

    from mlineage.metadata import filter_query

    built = Lark(filter_query._GRAMMAR, **filter_query._LARK_OPTIONS)
    corpus = [
        query for cases in (REFERENCE_EXAMPLES, OPERATORS, PROPERTIES_CASES, ALIASES) for _, query, _ in cases
    ]
    corpus += [query for _, query, _ in ERRORS]
    corpus += [
        "NOT " * 30 + "id > 0",
        "(" * 30 + "id > 0" + ")" * 30,
        "id > 0 AND",
        "'x",
        "id = 1 OR OR",
        "a.in.b",
        "(id = 1) AND (uri = 'x' OR NOT (name = 'y'))",
        "\n  id =\n 1 AND\n\tname IN ('a',\n 'b')\n",
        "a.`b c`.d = 1 AND `e` IS NOT NULL",
        "id > 0 )",
        "name = 'multi\nline' AND uri = \"x\"",
        "id IN ()",
        "id = 1 AND @",
        "\n\n  'x",
        "properties.in.int_value = 1e5 OR x.y NOT LIKE 'a%'",
        "",
        "   ",
    ]
    assert len(corpus) > 100
    for query in corpus:
        assert _parse_or_error(filter_query._parser(), query) == _parse_or_error(built, query), query
