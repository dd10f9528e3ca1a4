"""Runs inside the optional TFX environment (protobuf 4.25, pandas 1.5, numpy 1.26, TensorFlow 2.16).

Makes real TFDV outputs on small data (statistics, an inferred schema, anomalies of a skewed
split), records the steps with mlineage's logging API in a SQLite store, and prints what the
store holds as one JSON line for tests/test_tfx_environment.py to check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import google.protobuf
import numpy
import pandas as pd
import tensorflow_data_validation as tfdv

import mlineage
from mlineage import metadata_store_pb2 as pb


def main(workdir: str) -> None:
    root = Path(workdir)
    train = pd.DataFrame(
        {"fare": [3.5, 7.25, 12.0, 4.0, 9.5, 6.0], "trips": [1, 2, 3, 1, 2, 4], "company": list("ababca")}
    )
    serving = pd.DataFrame({"fare": [5.0, -1.0], "trips": [1, 2], "company": ["z", "a"]})

    train_stats = tfdv.generate_statistics_from_dataframe(train)
    stats_path = root / "train_stats.pbtxt"
    tfdv.write_stats_text(train_stats, str(stats_path))
    schema = tfdv.infer_schema(train_stats)
    schema_path = root / "schema.pbtxt"
    tfdv.write_schema_text(schema, str(schema_path))
    serving_stats = tfdv.generate_statistics_from_dataframe(serving)
    anomalies = tfdv.validate_statistics(serving_stats, schema)
    anomalies_path = root / "anomalies.pbtxt"
    tfdv.write_anomalies_text(anomalies, str(anomalies_path))

    url = f"sqlite:///{root / 'mlineage.db'}"
    with mlineage.run("taxi", run_id="tfx-env-1", url=url) as run:
        with run.step("StatisticsGen") as step:
            step.input("Examples", uri=str(root / "train.csv"), span=1)
            step.output(
                "ExampleStatistics",
                uri=str(stats_path),
                num_examples=int(train_stats.datasets[0].num_examples),
            )
        with run.step("SchemaGen") as step:
            step.input("ExampleStatistics", uri=str(stats_path))
            step.output("Schema", uri=str(schema_path), num_features=len(schema.feature))
        with run.step("ExampleValidator") as step:
            step.input("Schema", uri=str(schema_path))
            step.output(
                "ExampleAnomalies",
                uri=str(anomalies_path),
                num_anomalies=len(anomalies.anomaly_info),
            )

    store = mlineage.connect(url)
    artifacts = {a.type: a for a in store.get_artifacts()}
    schema_artifact = artifacts["Schema"]
    query = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {schema_artifact.id}"),
        max_num_hops=4,
        direction=pb.LineageSubgraphQueryOptions.UPSTREAM,
    )
    upstream = store.get_lineage_subgraph(query)
    print(
        json.dumps(
            {
                "protobuf": google.protobuf.__version__,
                "pandas": pd.__version__,
                "numpy": numpy.__version__,
                "tfdv": tfdv.__version__,
                "num_examples": int(train_stats.datasets[0].num_examples),
                "features": sorted(f.name for f in schema.feature),
                "anomalies": sorted(anomalies.anomaly_info),
                "artifact_types": sorted(artifacts),
                "stats_num_examples": artifacts["ExampleStatistics"].custom_properties["num_examples"].int_value
                if "num_examples" in artifacts["ExampleStatistics"].custom_properties
                else artifacts["ExampleStatistics"].properties["num_examples"].int_value,
                "upstream_types": sorted({a.type for a in upstream.artifacts}),
                "executions": sorted(e.type for e in store.get_executions()),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
