"""What a step's properties mean when they meet stored ones: inputs that disagree, values of the wrong type.

On SQLite and PostgreSQL in-process (the error comes from the call), and
through `mlineage serve` (the record is refused when sent: a dead letter and a
warning, never a custom property in its place).
"""

from __future__ import annotations

import json
import logging

import client_support
import pytest
from client_support import connect, execution, props, unique

import mlineage
from mlineage import errors
from mlineage.client import journal
from mlineage.proto import metadata_store_pb2 as pb

server, target = client_support.server, client_support.target  # fixtures


def _remote(url: str) -> bool:
    return url.startswith("grpc://")


def test_an_input_that_disagrees_with_the_artifact_stored_at_its_uri_is_a_new_version_there(target):
    pipeline, uri = unique("span"), f"gs://b/{unique('examples')}"
    with mlineage.run(pipeline, url=target) as run:
        with run.step("ExampleGen") as gen:
            produced = gen.output("Examples", uri, span=2, split="train")
        run.flush()
        with run.step("Trainer") as trainer:
            same = trainer.input("Examples", uri, span=2)  # agrees: the stored one
            newer = trainer.input("Examples", uri, span=3)  # says otherwise: a new version at that URI
        run.flush()
        with run.step("Evaluator") as evaluator:
            latest = evaluator.input("Examples", uri)  # no properties: the newest at the URI
            spelled = evaluator.input("Examples", uri, span=3.0)  # 3.0 and 3 agree
    store = connect(target)
    assert same.id == produced.id
    assert newer.id != produced.id and latest.id == newer.id and spelled.id == newer.id
    stored = {a.id: a for a in store.get_artifacts_by_uri(uri)}
    assert set(stored) == {produced.id, newer.id}
    assert props(stored[produced.id])["span"] == 2 and props(stored[produced.id])["split"] == "train"
    assert props(stored[newer.id])["span"] == 3 and "split" not in props(stored[newer.id])
    inputs = {e.artifact_id for e in store.get_events_by_execution_ids([execution(store, trainer.external_id).id])
              if e.type == pb.Event.INPUT}
    assert inputs == {produced.id, newer.id}


@pytest.fixture
def typed(target):
    """An artifact type and an execution type with declared properties, made through the store."""
    store = connect(target)
    names = unique("Typed"), unique("TypedStep")
    store.put_artifact_type(pb.ArtifactType(name=names[0], properties={"span": pb.INT, "weight": pb.DOUBLE}))
    store.put_execution_type(pb.ExecutionType(name=names[1], properties={"epochs": pb.INT}))
    return names


def test_a_value_of_the_wrong_type_for_a_declared_property_is_refused_not_moved_to_custom_properties(
        target, typed, caplog):
    artifact_type, execution_type = typed
    pipeline = unique("wrong-type")
    uri_ok, uri_bad = f"gs://b/{unique('ok')}", f"gs://b/{unique('bad')}"
    caplog.set_level(logging.WARNING, logger="mlineage.journal")
    with mlineage.run(pipeline, url=target) as run:
        with run.step("Gen", type=execution_type) as step:
            step.output(artifact_type, uri_ok, span=3, weight=2)  # an int fills a DOUBLE
            if _remote(target):
                step.output(artifact_type, uri_bad, span="three")  # refused when sent
                step.set_properties(epochs="ten")
            else:
                with pytest.raises(errors.InvalidArgumentError) as refused:
                    step.output(artifact_type, uri_bad, span="three")
                assert str(refused.value).startswith(
                    f"property 'span' of artifact type {artifact_type!r} is declared INT; got 'three' (a str)")
                with pytest.raises(errors.InvalidArgumentError, match="'epochs' of execution type"):
                    step.set_properties(epochs="ten")
            step.set_properties(epochs=10)
    store = connect(target)
    [stored] = store.get_artifacts_by_uri(uri_ok)
    assert stored.properties["span"].int_value == 3 and stored.properties["weight"].double_value == 2.0
    assert store.get_artifacts_by_uri(uri_bad) == []  # neither stored nor stored elsewhere
    gen = execution(store, step.external_id)
    assert gen.properties["epochs"].int_value == 10 and "epochs" not in gen.custom_properties
    assert gen.last_known_state == pb.Execution.COMPLETE
    if _remote(target):
        dead = [json.loads(line) for path in journal.journal_dir().glob("*.dead") for line in open(path)]
        reasons = sorted(d["error"] for d in dead)
        assert len(reasons) == 2, reasons
        assert any(f"property 'span' of artifact type {artifact_type!r} is declared INT" in r for r in reasons)
        assert any("property 'epochs' of execution type" in r for r in reasons)
        assert sum("refused a record for good" in r.getMessage() for r in caplog.records) == 2
