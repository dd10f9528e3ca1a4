"""The ml-metadata side of the import tests, run under the ml-metadata environment (protobuf 4.25).

    python mlmd_import_source.py dump --sqlite PATH [--upgrade]   # MLMD in-process on a copy of PATH
    python mlmd_import_source.py dump --postgresql HOST:PORT:DB:USER
    python mlmd_import_source.py dump --mysql HOST:PORT:DB:USER     # MySQL or MariaDB
    python mlmd_import_source.py dump --grpc HOST:PORT             # the same questions to a server
    python mlmd_import_source.py build --sqlite PATH [--nodes N]   # a source holding every kind of record
    python mlmd_import_source.py build --postgresql HOST:PORT:DB:USER [--nodes N]
    python mlmd_import_source.py build --mysql HOST:PORT:DB:USER [--nodes N]

``dump`` prints one JSON object: every type, node, event, attribution, association
and parent context as the client answers them (proto fields by name, ids kept),
so a test compares MLMD's answers on the source with mlineage's after the import,
record by record and field by field. ``--upgrade`` copies the file first and lets
MLMD migrate the copy to its schema (how MLMD itself reads a v6-v9 database).
``build`` writes a source with the real client: every property value type, type
versions, descriptions, external ids and base types, every node state, events
with and without paths, nested contexts; ``--nodes N`` adds N bulk artifacts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from google.protobuf import any_pb2, json_format, struct_pb2
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd
from ml_metadata.proto import metadata_store_service_pb2 as service


def _config(args: argparse.Namespace) -> Any:
    if args.grpc:
        host, port = args.grpc.rsplit(":", 1)
        client = mlmd.MetadataStoreClientConfig(host=host, port=int(port))
        return client
    config = mlmd.ConnectionConfig()
    if args.sqlite:
        path = args.sqlite
        if args.upgrade:
            copy = Path(tempfile.mkdtemp()) / "source.db"
            shutil.copy(path, copy)
            path = str(copy)
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = 3
    elif args.mysql:
        host, port, database, user = args.mysql.split(":")
        config.mysql.host = host
        config.mysql.port = int(port)
        config.mysql.database = database
        config.mysql.user = user
    else:
        host, port, dbname, user = args.postgresql.split(":")
        config.postgresql.host = host
        config.postgresql.port = port
        config.postgresql.dbname = dbname
        config.postgresql.user = user
    return config


def _open(args: argparse.Namespace) -> metadata_store.MetadataStore:
    if args.grpc:
        return metadata_store.MetadataStore(_config(args))
    return metadata_store.MetadataStore(_config(args), enable_upgrade_migration=bool(args.upgrade))


def _fields(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _events(events: Any) -> list[dict[str, Any]]:
    return [_fields(e) for e in sorted(events, key=lambda e: (e.artifact_id, e.execution_id, e.type))]


def _by_id(nodes: Any) -> list[dict[str, Any]]:
    return [_fields(n) for n in sorted(nodes, key=lambda n: n.id)]


def dump(store: metadata_store.MetadataStore) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["artifact_types"] = [_fields(t) for t in sorted(store.get_artifact_types(), key=lambda t: t.id)]
    out["execution_types"] = [_fields(t) for t in sorted(store.get_execution_types(), key=lambda t: t.id)]
    out["context_types"] = [_fields(t) for t in sorted(store.get_context_types(), key=lambda t: t.id)]
    artifacts = sorted(store.get_artifacts(), key=lambda n: n.id)
    executions = sorted(store.get_executions(), key=lambda n: n.id)
    contexts = sorted(store.get_contexts(), key=lambda n: n.id)
    out["artifacts"] = [_fields(n) for n in artifacts]
    out["executions"] = [_fields(n) for n in executions]
    out["contexts"] = [_fields(n) for n in contexts]
    execution_ids = [n.id for n in executions]
    events = store.get_events_by_execution_ids(execution_ids) if execution_ids else []
    # Events come in no order MLMD promises (PostgreSQL's is not SQLite's): sorted by their key here.
    out["events"] = _events(events)
    out["events_by_artifact"] = {str(a.id): _events(store.get_events_by_artifact_ids([a.id])) for a in artifacts[:200]}
    out["attributions"] = {str(c.id): sorted(a.id for a in store.get_artifacts_by_context(c.id)) for c in contexts}
    out["associations"] = {str(c.id): sorted(e.id for e in store.get_executions_by_context(c.id)) for c in contexts}
    out["parents"] = {str(c.id): sorted(p.id for p in store.get_parent_contexts_by_context(c.id)) for c in contexts}
    out["children"] = {str(c.id): sorted(p.id for p in store.get_children_contexts_by_context(c.id)) for c in contexts}
    # A get by ids answers in no particular order (MLMD on PostgreSQL: not in id order): sorted here.
    out["by_id"] = {
        "artifacts": _by_id(store.get_artifacts_by_id([n.id for n in artifacts[:50]])),
        "executions": _by_id(store.get_executions_by_id(execution_ids[:50])),
        "contexts": _by_id(store.get_contexts_by_id([n.id for n in contexts[:50]])),
    }
    if artifacts:
        request = mlmd.LineageSubgraphQueryOptions(max_num_hops=4)
        request.starting_artifacts.filter_query = f"id = {artifacts[0].id}"
        graph = store.get_lineage_subgraph(request)
        out["lineage_subgraph"] = {
            "artifacts": sorted(a.id for a in graph.artifacts),
            "executions": sorted(e.id for e in graph.executions),
            "contexts": sorted(c.id for c in graph.contexts),
            "events": sorted((e.artifact_id, e.execution_id, e.type) for e in graph.events),
        }
    _ = service  # the service messages are imported so the client registers them before any call
    return out


def build(store: metadata_store.MetadataStore, bulk: int) -> None:
    """Every kind of record MLMD holds, written with the real client."""
    data_t = mlmd.ArtifactType(name="Data", version="v2", description="a dataset", external_id="type:data")
    data_t.base_type = mlmd.ArtifactType.DATASET
    for name, kind in {"n": mlmd.INT, "x": mlmd.DOUBLE, "s": mlmd.STRING, "st": mlmd.STRUCT,
                       "p": mlmd.PROTO, "b": mlmd.BOOLEAN}.items():  # fmt: skip
        data_t.properties[name] = kind
    data_tid = store.put_artifact_type(data_t)
    plain_tid = store.put_artifact_type(mlmd.ArtifactType(name="Plain"))
    train_t = mlmd.ExecutionType(name="Train", description="training", external_id="type:train")
    train_t.base_type = mlmd.ExecutionType.TRAIN
    train_t.properties["lr"] = mlmd.DOUBLE
    train_t.input_type.dict.properties["examples"].simple.name = "Data"
    train_t.output_type.none.SetInParent()
    train_tid = store.put_execution_type(train_t)
    exp_t = mlmd.ContextType(name="experiment", version="1", external_id="type:experiment")
    exp_t.properties["owner"] = mlmd.STRING
    exp_tid = store.put_context_type(exp_t)

    packed = any_pb2.Any()
    packed.Pack(struct_pb2.Value(string_value="packed"))
    artifacts = []
    for i, state in enumerate(mlmd.Artifact.State.values()):
        a = mlmd.Artifact(type_id=data_tid, uri=f"/data/{i}", name=f"data-{i}", state=state)
        if i % 2 == 0:
            a.external_id = f"artifact:{i}"
        a.properties["n"].int_value = -(2**31) + i
        a.properties["x"].double_value = 0.1 * i
        a.properties["s"].string_value = f"text {i} ünïcode"
        a.properties["st"].struct_value.update({"k": i, "nested": {"l": [1, "two", None, True]}})
        a.properties["p"].proto_value.CopyFrom(packed)
        a.properties["b"].bool_value = i % 2 == 0
        a.custom_properties["c_int"].int_value = 2**31 - 1 - i
        a.custom_properties["c_bool"].bool_value = False
        a.custom_properties["c_struct"].struct_value.update({"empty": {}})
        artifacts.append(a)
    artifacts.append(mlmd.Artifact(type_id=plain_tid))  # no uri, name, state or properties
    artifact_ids = store.put_artifacts(artifacts)
    executions = []
    for i, state in enumerate(mlmd.Execution.State.values()):
        e = mlmd.Execution(type_id=train_tid, name=f"train-{i}", last_known_state=state)
        e.properties["lr"].double_value = 1e-3 * (i + 1)
        if i == 3:
            e.external_id = "execution:3"
        e.custom_properties["note"].string_value = "mlmd-struct:not a struct"
        # Beyond latin1, 4-byte UTF-8, and bytes 0x81/0x8D that MySQL's latin1 maps specially (Á, ō).
        e.custom_properties["label"].string_value = f"步骤 {i} ✓ 🙂 Áō"
        executions.append(e)
    executions.append(mlmd.Execution(type_id=train_tid))
    execution_ids = store.put_executions(executions)
    contexts = []
    for i in range(4):
        c = mlmd.Context(type_id=exp_tid, name=f"exp-{i}")
        c.properties["owner"].string_value = f"team-{i % 2}"
        if i == 0:
            c.external_id = "context:0"
            c.custom_properties["tags"].struct_value.update({"tags": ["a", "b"]})
        contexts.append(c)
    context_ids = store.put_contexts(contexts)
    events = []
    for i, event_type in enumerate(mlmd.Event.Type.values()[1:]):  # UNKNOWN is refused
        ev = mlmd.Event(artifact_id=artifact_ids[i % len(artifact_ids)],
                        execution_id=execution_ids[i % len(execution_ids)], type=event_type)  # fmt: skip
        if i % 3 == 0:
            ev.path.steps.add().key = "examples"
            ev.path.steps.add().index = i
            ev.path.steps.add().key = "last"
        elif i % 3 == 1:
            ev.path.steps.add().index = 0
        events.append(ev)
    store.put_events(events)
    store.put_attributions_and_associations(
        [mlmd.Attribution(artifact_id=a, context_id=context_ids[i % 2]) for i, a in enumerate(artifact_ids)],
        [mlmd.Association(execution_id=e, context_id=context_ids[i % 3]) for i, e in enumerate(execution_ids)],
    )
    store.put_parent_contexts([
        mlmd.ParentContext(child_id=context_ids[1], parent_id=context_ids[0]),
        mlmd.ParentContext(child_id=context_ids[2], parent_id=context_ids[0]),
        mlmd.ParentContext(child_id=context_ids[3], parent_id=context_ids[2]),
    ])  # fmt: skip
    done = 0
    while done < bulk:
        batch = []
        for i in range(done, min(bulk, done + 5000)):
            a = mlmd.Artifact(type_id=plain_tid, uri=f"/bulk/{i}", state=mlmd.Artifact.LIVE)
            a.custom_properties["i"].int_value = i
            a.custom_properties["tag"].string_value = f"bulk-{i % 97}"
            batch.append(a)
        store.put_artifacts(batch)
        done += len(batch)


def _seed_system_types_late(path: str) -> None:
    """Drop the system types (and base types) MLMD seeded first and give the user types ids 1-4; MLMD,
    opening the file again, seeds them anew after the user types; then a type with a base type, and a
    node of it."""
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("DELETE FROM Type WHERE name LIKE 'mlmd.%'")
    connection.execute("DELETE FROM ParentType")
    # The user types take the first ids, as they had in a database older than the system types.
    connection.execute("UPDATE Type SET id = id - 9")
    for table in ("TypeProperty", "Artifact", "Execution", "Context"):
        connection.execute(f"UPDATE {table} SET type_id = type_id - 9")
    connection.commit()
    connection.close()
    config = mlmd.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = 3
    store = metadata_store.MetadataStore(config)
    late = mlmd.ArtifactType(name="Late")
    late.base_type = mlmd.ArtifactType.MODEL
    store.put_artifacts([mlmd.Artifact(type_id=store.put_artifact_type(late), uri="/late")])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["dump", "build"])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite")
    where.add_argument("--postgresql")
    where.add_argument("--mysql")
    where.add_argument("--grpc")
    parser.add_argument("--upgrade", action="store_true")
    parser.add_argument("--nodes", type=int, default=0)
    parser.add_argument("--late-system-types", action="store_true",
                        help="build: a SQLite source whose user types predate MLMD's system types (as in a "
                             "database MLMD made before it seeded them), which then take the next ids")
    args = parser.parse_args()
    store = _open(args)
    if args.action == "build":
        build(store, args.nodes)
        if args.late_system_types:
            del store
            _seed_system_types_late(args.sqlite)
        print(json.dumps({"built": True}))
    else:
        json.dump(dump(store), sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
