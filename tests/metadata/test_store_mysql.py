"""What MySQL/MariaDB needs beyond the shared store suite: its URL forms, the collation and storage the
migrations give a database, values larger than MySQL's TEXT, and its errors in the API's words."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest
from mysql_databases import mysql_database, reset_mysql
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

import mlineage
from mlineage import metadata_store_pb2 as pb
from mlineage.errors import AbortedError, AlreadyExistsError, InvalidArgumentError, UnavailableError
from mlineage.metadata import db_errors
from mlineage.metadata.engine import make_engine, normalize_url
from mlineage.metadata.store import Store
from mlineage.schema.column_types import MARIADB_COLLATION


@pytest.fixture
def mysql_url(request) -> str:
    # A backend-specific test: it runs where store_url is MySQL's (the shared fixture's reset database).
    return request.getfixturevalue("mysql_store_url")


@pytest.fixture
def mysql_store(mysql_url) -> Iterator[Store]:
    reset_mysql(mysql_url)
    store = mlineage.connect(mysql_url)
    yield store
    store.close()


@pytest.mark.parametrize("scheme", ["mysql://", "mariadb://", "mysql+pymysql://"])
def test_mysql_and_mariadb_urls_open_through_pymysql(scheme):
    url = normalize_url(f"{scheme}user:secret@db.example:3306/mlineage")
    assert url == "mysql+pymysql://user:secret@db.example:3306/mlineage"
    assert make_engine(url).dialect.driver == "pymysql"


def test_a_new_database_gets_innodb_utf8mb4_tables_with_a_binary_no_pad_collation(tmp_path):
    url = mysql_database("mlineage_latin1")
    admin = create_engine(url)
    with admin.begin() as connection:  # a database whose defaults are not the ones the store needs
        connection.execute(text("ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci"))
    Store(url).close()
    with admin.connect() as connection:
        tables = connection.execute(
            text("SELECT table_name, engine, table_collation FROM information_schema.tables "
                 "WHERE table_schema = DATABASE()")
        ).all()
        columns = connection.execute(
            text("SELECT DISTINCT collation_name FROM information_schema.columns "
                 "WHERE table_schema = DATABASE() AND collation_name IS NOT NULL")
        ).scalars().all()
    admin.dispose()
    assert len(tables) > 20
    assert {(engine, collation) for _, engine, collation in tables} == {("InnoDB", MARIADB_COLLATION)}
    assert columns == [MARIADB_COLLATION]


def test_names_differing_only_in_case_or_trailing_spaces_are_different_names(mysql_store):
    type_id = mysql_store.put_context_type(pb.ContextType(name="Run"))
    names = ["run", "Run", "RUN", "run "]
    ids = mysql_store.put_contexts([pb.Context(type_id=type_id, name=name) for name in names])
    assert len(set(ids)) == 4
    for name, context_id in zip(names, ids, strict=True):
        assert mysql_store.get_context_by_type_and_name("Run", name).id == context_id
    assert mysql_store.get_context_by_type_and_name("Run", "rUn") is None
    with pytest.raises(AlreadyExistsError, match="same type has this name"):
        mysql_store.put_contexts([pb.Context(type_id=type_id, name="run ")])


def test_values_larger_than_mysql_text_round_trip(mysql_store):
    type_id = mysql_store.put_artifact_type(pb.ArtifactType(name="Big"))
    artifact = pb.Artifact(type_id=type_id, uri="/u/" + "é" * 60_000)  # 120 kB of utf8mb4: more than TEXT holds
    artifact.custom_properties["blob"].string_value = "x" * 1_000_000
    artifact.custom_properties["inf"].double_value = math.inf
    artifact.custom_properties["nan"].double_value = math.nan
    artifact.custom_properties["emoji"].string_value = "🧪 lineage"
    [artifact_id] = mysql_store.put_artifacts([artifact])
    [read] = mysql_store.get_artifacts_by_id([artifact_id])
    assert read.uri == artifact.uri
    assert read.custom_properties["blob"].string_value == "x" * 1_000_000
    assert read.custom_properties["inf"].double_value == math.inf
    assert math.isnan(read.custom_properties["nan"].double_value)
    assert read.custom_properties["emoji"].string_value == "🧪 lineage"
    assert [a.id for a in mysql_store.get_artifacts_by_uri(artifact.uri)] == [artifact_id]


def test_a_duplicate_key_is_already_exists_without_the_key_name(mysql_store):
    type_id = mysql_store.put_artifact_type(pb.ArtifactType(name="Examples"))
    mysql_store.put_artifacts([pb.Artifact(type_id=type_id, name="a", external_id="ext")])
    with pytest.raises(AlreadyExistsError) as caught:
        mysql_store.put_artifacts([pb.Artifact(type_id=type_id, name="b", external_id="ext")])
    assert "external_id" in str(caught.value) and "uq_" not in str(caught.value)
    assert [a.name for a in mysql_store.get_artifacts()] == ["a"]  # nothing changed


def _driver_error(url: str, statement: str) -> OperationalError:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    except OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{statement} did not fail")


def test_a_real_deadlock_and_a_lock_wait_timeout_are_aborted_retry(mysql_url, mysql_store):
    type_id = mysql_store.put_artifact_type(pb.ArtifactType(name="Locked"))
    first, second = mysql_store.put_artifacts([pb.Artifact(type_id=type_id), pb.Artifact(type_id=type_id)])
    engine = create_engine(mysql_url)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def lock(one: int, other: int) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(text("SET innodb_lock_wait_timeout = 10"))
                connection.execute(text("SELECT id FROM artifacts WHERE id = :id FOR UPDATE"), {"id": one})
                barrier.wait()
                connection.execute(text("SELECT id FROM artifacts WHERE id = :id FOR UPDATE"), {"id": other})
        except OperationalError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lock, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) == 1  # InnoDB chose one victim
    deadlock = db_errors.operational_error(errors[0])
    assert isinstance(deadlock, AbortedError) and "Deadlock" in str(deadlock)

    with engine.connect() as holder:
        holder.execute(text("SELECT id FROM artifacts WHERE id = :id FOR UPDATE"), {"id": first})
        with engine.connect() as waiter:
            waiter.execute(text("SET innodb_lock_wait_timeout = 1"))
            with pytest.raises(OperationalError) as caught:
                waiter.execute(text("SELECT id FROM artifacts WHERE id = :id FOR UPDATE"), {"id": first})
        holder.rollback()
    engine.dispose()
    timeout = db_errors.operational_error(caught.value)
    assert isinstance(timeout, AbortedError) and "Lock wait timeout" in str(timeout)


def test_a_foreign_key_that_points_nowhere_is_invalid_argument(mysql_url):
    engine = create_engine(mysql_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO attributions (context_id, artifact_id) VALUES (999999, 999999)"))
    except Exception as exc:  # noqa: BLE001 - the driver's IntegrityError, mapped below
        mapped = db_errors.write_error(exc)
    else:
        raise AssertionError("the insert was taken")
    finally:
        engine.dispose()
    assert isinstance(mapped, InvalidArgumentError) and "does not exist" in str(mapped)


def test_a_server_that_went_away_is_unavailable(mysql_url):
    error = _driver_error(mysql_url, "KILL CONNECTION CONNECTION_ID()")
    assert isinstance(db_errors.operational_error(error), UnavailableError)


def test_reads_by_id_keep_to_the_callers_namespace(mysql_store):
    from mlineage.metadata import namespace_scope

    with namespace_scope.scoped("team-a"):
        type_id = mysql_store.put_artifact_type(pb.ArtifactType(name="Scoped"))
        [mine] = mysql_store.put_artifacts([pb.Artifact(type_id=type_id, uri="/a")])
        assert [a.uri for a in mysql_store.get_artifacts_by_id([mine])] == ["/a"]
    with namespace_scope.scoped("team-b"):
        assert mysql_store.get_artifacts_by_id([mine]) == []
