"""Pipelines for purge tests: TFX-like runs (Examples -> Trainer -> Model -> Pusher -> PushedModel, an Evaluator).

``write_runs(store, prefix, pushed_states)`` writes one run per entry of ``pushed_states``
through the store's public writes and answers the ids by name (``"<prefix>0/examples"``, …).
A run whose entry is None has no Pusher; otherwise its PushedModel has that state.
"""

from __future__ import annotations

from mlineage.proto import metadata_store_pb2 as pb

# The typical retention rule: keep what any live pushed model came from.
LIVE_PUSHED = "type = 'PushedModel' AND state = LIVE"
ARTIFACT_TYPES = ("Examples", "Model", "PushedModel", "ModelEvaluation")
EXECUTION_TYPES = ("Trainer", "Pusher", "Evaluator")


def _types(store) -> dict[str, int]:
    ids = {name: store.put_artifact_type(pb.ArtifactType(name=name)) for name in ARTIFACT_TYPES}
    ids.update({name: store.put_execution_type(pb.ExecutionType(name=name)) for name in EXECUTION_TYPES})
    ids["Run"] = store.put_context_type(pb.ContextType(name="Run"))
    return ids


def _artifact(types: dict[str, int], type_name: str, name: str, state=pb.Artifact.LIVE) -> pb.Artifact:
    return pb.Artifact(type_id=types[type_name], name=name, uri=f"/store/{name}", state=state)


def _step(store, types, type_name: str, name: str, inputs: list[int], outputs: list[pb.Artifact], run) -> dict:
    pairs = [(a, pb.Event(type=pb.Event.INPUT)) for a in store.get_artifacts_by_id(inputs)]
    pairs += [(a, pb.Event(type=pb.Event.OUTPUT)) for a in outputs]
    execution = pb.Execution(type_id=types[type_name], name=name, last_known_state=pb.Execution.COMPLETE)
    execution_id, artifact_ids, _ = store.put_execution(execution, pairs, [run])
    return {"execution": execution_id, "outputs": list(artifact_ids[len(inputs):])}


def write_runs(store, prefix: str, pushed_states: list[int | None]) -> dict[str, int]:
    """One run per entry; ids by ``<prefix><i>/<what>`` (examples, model, evaluation, pushed, trainer,
    evaluator, pusher, run)."""
    types = {name: type_id for name, type_id in (
        [(t.name, t.id) for t in store.get_artifact_types()]
        + [(t.name, t.id) for t in store.get_execution_types()]
        + [(t.name, t.id) for t in store.get_context_types()]
    )}
    if "PushedModel" not in types:
        types = _types(store)
    ids: dict[str, int] = {}
    for index, pushed_state in enumerate(pushed_states):
        run_name = f"{prefix}{index}"
        [run_id] = store.put_contexts([pb.Context(type_id=types["Run"], name=run_name)])
        [run] = store.get_contexts_by_id([run_id])
        ids[f"{run_name}/run"] = run_id
        [examples] = store.put_artifacts([_artifact(types, "Examples", f"{run_name}-examples")])
        ids[f"{run_name}/examples"] = examples
        store.put_attributions_and_associations([pb.Attribution(artifact_id=examples, context_id=run_id)], [])
        trainer = _step(store, types, "Trainer", f"{run_name}-trainer", [examples],
                        [_artifact(types, "Model", f"{run_name}-model")], run)
        ids[f"{run_name}/trainer"], [ids[f"{run_name}/model"]] = trainer["execution"], trainer["outputs"]
        evaluator = _step(store, types, "Evaluator", f"{run_name}-evaluator", [ids[f"{run_name}/model"]],
                          [_artifact(types, "ModelEvaluation", f"{run_name}-evaluation")], run)
        ids[f"{run_name}/evaluator"], [ids[f"{run_name}/evaluation"]] = evaluator["execution"], evaluator["outputs"]
        if pushed_state is not None:
            pusher = _step(store, types, "Pusher", f"{run_name}-pusher", [ids[f"{run_name}/model"]],
                           [_artifact(types, "PushedModel", f"{run_name}-pushed", pushed_state)], run)
            ids[f"{run_name}/pusher"], [ids[f"{run_name}/pushed"]] = pusher["execution"], pusher["outputs"]
    return ids


def artifact_names(store) -> set[str]:
    return {a.name for a in store.get_artifacts()}


def execution_names(store) -> set[str]:
    return {e.name for e in store.get_executions()}
