"""Bad input gets the right error class and changes nothing; schema revisions guard the database."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, select, text

import mlineage
from mlineage import cli
from mlineage import metadata_store_pb2 as pb
from mlineage.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    MlineageError,
    NotFoundError,
)
from mlineage.metadata.options import ListOptions
from mlineage.metadata.store import Store
from mlineage.migrations import runner

MLMD_FIXTURES = Path("/work/shared/fixtures/mlmd")


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    metadata = MetaData()
    metadata.reflect(bind=store.engine)
    rows = {}
    with store.engine.connect() as connection:
        for name, table in sorted(metadata.tables.items()):
            rows[name] = [tuple(row) for row in connection.execute(select(table).order_by(*table.c))]
    return rows


def assert_refused_without_change(store: Store, error: type[MlineageError], call: Callable[[], object]) -> None:
    before = snapshot(store)
    with pytest.raises(error):
        call()
    assert snapshot(store) == before


@pytest.fixture
def seeded(store) -> Store:
    """A store with one of everything, so a rolled-back write has rows it could have touched."""
    artifact_type = pb.ArtifactType(name="Examples")
    artifact_type.properties["span"] = pb.INT
    a = store.put_artifact_type(artifact_type)
    e = store.put_execution_type(pb.ExecutionType(name="Trainer"))
    c = store.put_context_type(pb.ContextType(name="Pipeline"))
    examples = pb.Artifact(type_id=a, uri="/data/1", name="examples-1")
    examples.properties["span"].int_value = 1
    store.put_execution(
        pb.Execution(type_id=e, name="train-1", last_known_state=pb.Execution.COMPLETE),
        [(examples, pb.Event(type=pb.Event.INPUT))],
        [pb.Context(type_id=c, name="daily")],
    )
    return store


def type_ids(store: Store) -> tuple[int, int, int]:
    return (
        store.get_artifact_type("Examples").id,
        store.get_execution_type("Trainer").id,
        store.get_context_type("Pipeline").id,
    )


# --- bad writes roll back everything ---------------------------------------------------------------


def test_unknown_type_id_after_valid_artifacts_changes_nothing(seeded):
    a, _, _ = type_ids(seeded)
    batch = [pb.Artifact(type_id=a, uri="/ok"), pb.Artifact(type_id=999, uri="/bad")]
    assert_refused_without_change(seeded, NotFoundError, lambda: seeded.put_artifacts(batch))


def test_property_of_the_wrong_type_after_a_valid_update_changes_nothing(seeded):
    a, _, _ = type_ids(seeded)
    [existing] = seeded.get_artifacts()
    existing.uri = "/changed"
    bad = pb.Artifact(type_id=a, uri="/bad")
    bad.properties["span"].string_value = "one"
    assert_refused_without_change(seeded, InvalidArgumentError, lambda: seeded.put_artifacts([existing, bad]))


def test_duplicate_name_late_in_a_batch_changes_nothing(seeded):
    a, _, _ = type_ids(seeded)
    [existing] = seeded.get_artifacts()
    existing.custom_properties["note"].string_value = "updated first"
    batch = [
        pb.Artifact(type_id=a, uri="/new-1", name="fresh"),
        existing,
        pb.Artifact(type_id=a, uri="/new-2", name="examples-1"),
    ]
    assert_refused_without_change(seeded, AlreadyExistsError, lambda: seeded.put_artifacts(batch))


def test_duplicate_name_twice_in_one_batch_changes_nothing(seeded):
    _, e, _ = type_ids(seeded)
    batch = [pb.Execution(type_id=e, name="twice"), pb.Execution(type_id=e, name="twice")]
    assert_refused_without_change(seeded, AlreadyExistsError, lambda: seeded.put_executions(batch))


def test_duplicate_context_name_after_a_valid_rename_changes_nothing(seeded):
    _, _, c = type_ids(seeded)
    [daily] = seeded.get_contexts()
    daily.name = "renamed"
    batch = [daily, pb.Context(type_id=c, name="weekly"), pb.Context(type_id=c, name="weekly")]
    assert_refused_without_change(seeded, AlreadyExistsError, lambda: seeded.put_contexts(batch))


def test_duplicate_event_of_a_stored_one_in_put_execution_changes_nothing(seeded):
    a, _, c = type_ids(seeded)
    [execution] = seeded.get_executions()
    [examples] = seeded.get_artifacts()
    execution.last_known_state = pb.Execution.FAILED

    def call():
        seeded.put_execution(
            execution,
            [
                (pb.Artifact(type_id=a, uri="/new-output"), pb.Event(type=pb.Event.OUTPUT)),
                (examples, pb.Event(type=pb.Event.INPUT)),  # already recorded by the seed
            ],
            [pb.Context(type_id=c, name="new-context")],
        )

    assert_refused_without_change(seeded, AlreadyExistsError, call)


def test_duplicate_event_within_one_put_execution_changes_nothing(seeded):
    _, e, c = type_ids(seeded)
    [examples] = seeded.get_artifacts()

    def call():
        seeded.put_execution(
            pb.Execution(type_id=e, name="train-2"),
            [(examples, pb.Event(type=pb.Event.INPUT)), (examples, pb.Event(type=pb.Event.INPUT))],
            [pb.Context(type_id=c, name="new-context")],
        )

    assert_refused_without_change(seeded, AlreadyExistsError, call)


def test_type_evolution_failure_late_in_put_types_changes_nothing(seeded):
    bad = pb.ArtifactType(name="Examples")
    bad.properties["span"] = pb.STRING

    def call():
        seeded.put_types(
            artifact_types=[pb.ArtifactType(name="Brand new"), bad],
            context_types=[pb.ContextType(name="Also new")],
            can_add_fields=True,
        )

    assert_refused_without_change(seeded, AlreadyExistsError, call)


def test_masked_unknown_property_after_valid_updates_changes_nothing(seeded):
    [examples] = seeded.get_artifacts()
    examples.uri = "/changed"
    examples.properties["nope"].int_value = 1
    assert_refused_without_change(
        seeded,
        InvalidArgumentError,
        lambda: seeded.put_artifacts([examples], field_mask_paths=["uri", "properties.nope"]),
    )


# --- bad reads are refused ------------------------------------------------------------------------


def test_malformed_filter_query_is_invalid_argument_and_changes_nothing(seeded):
    for query in ("uri = ", "no_such_field = 1", "uri = 'x' AND", "properties.span.int_value >"):
        assert_refused_without_change(
            seeded, InvalidArgumentError, lambda q=query: seeded.get_artifacts(ListOptions(filter_query=q))
        )


def test_page_token_of_another_listing_is_invalid_argument_and_changes_nothing(seeded):
    a, e, _ = type_ids(seeded)
    seeded.put_artifacts([pb.Artifact(type_id=a, uri=f"/more/{i}") for i in range(3)])
    seeded.put_executions([pb.Execution(type_id=e) for _ in range(3)])
    _, token = seeded.list_nodes("artifact", pb.ListOperationOptions(max_result_size=1))
    assert token
    other_listings = [
        lambda: seeded.list_nodes("execution", pb.ListOperationOptions(max_result_size=1, next_page_token=token)),
        lambda: seeded.list_nodes(
            "artifact", pb.ListOperationOptions(max_result_size=1, next_page_token=token), type_name="Examples"
        ),
        lambda: seeded.list_nodes(
            "artifact",
            pb.ListOperationOptions(
                max_result_size=1,
                next_page_token=token,
                order_by_field=pb.ListOperationOptions.OrderByField(
                    field=pb.ListOperationOptions.OrderByField.CREATE_TIME
                ),
            ),
        ),
        lambda: seeded.list_nodes(
            "artifact", pb.ListOperationOptions(max_result_size=1, next_page_token=token, filter_query="uri = 'x'")
        ),
    ]
    for call in other_listings:
        assert_refused_without_change(seeded, InvalidArgumentError, call)


# --- schema revisions -----------------------------------------------------------------------------


def set_revision(url: str, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


@pytest.fixture
def ahead_url(store_url) -> Iterator[str]:
    """The store's database stamped with a revision from a newer mlineage; restored afterwards."""
    with Store(store_url) as store:
        type_id = store.put_artifact_type(pb.ArtifactType(name="Old"))
        store.put_artifacts([pb.Artifact(type_id=type_id, uri="/written-before")])
    set_revision(store_url, "ffff_future")
    yield store_url
    set_revision(store_url, runner.head_revision())


def test_database_from_a_newer_mlineage_opens_read_only(ahead_url):
    with mlineage.connect(ahead_url) as store:
        assert store.read_only
        assert [a.uri for a in store.get_artifacts()] == ["/written-before"]
        assert store.get_artifact_type("Old").name == "Old"
        before = snapshot(store)
        for write in (
            lambda: store.put_artifact_type(pb.ArtifactType(name="New")),
            lambda: store.put_artifacts([pb.Artifact(type_id=store.get_artifact_type("Old").id, uri="/x")]),
            lambda: store.put_events([]),
        ):
            with pytest.raises(FailedPreconditionError, match="newer"):
                write()
        assert snapshot(store) == before


def test_db_upgrade_refuses_a_database_from_a_newer_mlineage(ahead_url, capsys):
    assert cli.main(["db", "upgrade", "--db", ahead_url]) == 1
    assert "ffff_future" in capsys.readouterr().err


@pytest.fixture
def old_sqlite_url(tmp_path) -> str:
    """A SQLite database at the first revision, holding data written there."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    runner.upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO artifacts (namespace, type_id, uri, create_time_since_epoch, "
                "last_update_time_since_epoch) VALUES ('default', 1, '/kept', 1, 1)"
            )
        )
    engine.dispose()
    return url


def test_database_at_an_older_revision_is_refused_until_upgraded(old_sqlite_url):
    assert runner.head_revision() != "0001"
    with pytest.raises(FailedPreconditionError, match="mlineage db upgrade"):
        mlineage.connect(old_sqlite_url)


def test_db_upgrade_brings_an_older_database_to_head_keeping_its_data(old_sqlite_url, capsys):
    assert cli.main(["db", "current", "--db", old_sqlite_url]) == 1
    assert "behind" in capsys.readouterr().out
    assert cli.main(["db", "upgrade", "--db", old_sqlite_url]) == 0
    assert runner.head_revision() in capsys.readouterr().out
    with mlineage.connect(old_sqlite_url) as store:
        assert [a.uri for a in store.get_artifacts()] == ["/kept"]
    assert cli.main(["db", "current", "--db", old_sqlite_url]) == 0
    assert runner.head_revision() in capsys.readouterr().out


def test_connect_with_upgrade_upgrades_an_older_database(old_sqlite_url):
    with mlineage.connect(old_sqlite_url, upgrade=True) as store:
        assert not store.read_only
        assert [a.uri for a in store.get_artifacts()] == ["/kept"]


def test_an_mlmd_database_is_refused_without_naming_a_missing_command(tmp_path):
    path = tmp_path / "mlmd.db"
    shutil.copy(MLMD_FIXTURES / "mlmd_v10_empty.db", path)
    before = path.read_bytes()
    with pytest.raises(FailedPreconditionError, match="an MLMD database") as refused:
        mlineage.connect(f"sqlite:///{path}")
    message = str(refused.value)
    assert "import its records into an mlineage database" in message
    assert "import-mlmd" not in message and "`mlineage " not in message  # no pointer at a command that does not exist
    assert path.read_bytes() == before


def test_db_upgrade_refuses_an_mlmd_database(tmp_path, capsys):
    path = tmp_path / "mlmd.db"
    shutil.copy(MLMD_FIXTURES / "mlmd_v10_empty.db", path)
    assert cli.main(["db", "upgrade", "--db", f"sqlite:///{path}"]) == 1
    err = capsys.readouterr().err
    assert "an MLMD database" in err and "import-mlmd" not in err  # no pointer at a command that does not exist


def test_db_upgrade_creates_an_empty_database_at_head(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert cli.main(["db", "upgrade", "--db", url]) == 0
    assert runner.head_revision() in capsys.readouterr().out
    with mlineage.connect(url) as store:
        assert not store.read_only
        assert store.put_artifact_type(pb.ArtifactType(name="First")) == 10


def test_db_current_reports_head_of_a_current_database(store_url, capsys):
    assert cli.main(["db", "current", "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert runner.head_revision() in out and "current" in out


def test_db_history_lists_every_revision_from_the_first_to_head(capsys):
    assert cli.main(["db", "history"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    revisions = [revision for revision, _, _ in runner.history()]
    assert len(lines) == len(revisions)
    assert lines[0].startswith(f"<base> -> {revisions[0]}")
    assert lines[-1].split(":")[0].endswith(f"{revisions[-1]} (head)")
