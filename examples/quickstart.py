"""Record a tiny pipeline run in ./mlineage.db (or $MLINEAGE_DB) and read its lineage back."""

import os

import mlineage
from mlineage import metadata_store_pb2 as pb

store = mlineage.connect(os.environ.get("MLINEAGE_DB", "sqlite:///mlineage.db"))

examples_type = pb.ArtifactType(name="Examples")
examples_type.properties["span"] = pb.INT
examples_type_id = store.put_artifact_type(examples_type)
model_type = pb.ArtifactType(name="Model", base_type=pb.ArtifactType.MODEL)
model_type.properties["acc"] = pb.DOUBLE  # as the README declares it
model_type_id = store.put_artifact_type(model_type)
trainer_type_id = store.put_execution_type(pb.ExecutionType(name="Trainer"))
run_type_id = store.put_context_type(pb.ContextType(name="PipelineRun"))

examples = pb.Artifact(type_id=examples_type_id, uri="gs://bucket/taxi/examples/3", state=pb.Artifact.LIVE)
examples.properties["span"].int_value = 3
model = pb.Artifact(type_id=model_type_id, uri="gs://bucket/taxi/models/7", state=pb.Artifact.LIVE)
trainer = pb.Execution(type_id=trainer_type_id, last_known_state=pb.Execution.COMPLETE)
trainer.custom_properties["learning_rate"].double_value = 0.01

execution_id, (examples_id, model_id), (run_id,) = store.put_execution(
    trainer,
    [(examples, pb.Event(type=pb.Event.INPUT)), (model, pb.Event(type=pb.Event.OUTPUT))],
    [pb.Context(type_id=run_type_id, name="taxi-run-1")],
    reuse_context_if_already_exist=True,
)

inputs = [e.artifact_id for e in store.get_events_by_execution_ids([execution_id]) if e.type == pb.Event.INPUT]
print(f"model {model_id} was trained by execution {execution_id} from artifacts {inputs}")
print("artifacts of the run:", [a.uri for a in store.get_artifacts_by_context(run_id)])
spans = store.get_artifacts(list_options=mlineage.ListOptions(filter_query="properties.span.int_value = 3"))
print("span 3 examples:", [a.uri for a in spans])
