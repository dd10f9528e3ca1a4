"""The MLflow tracking scenario, run by the real ``mlflow`` client against a server; prints its answers as JSON.

    .venvs/mlflow/bin/python tests/support/mlflow_tracking_client.py --tracking-uri http://127.0.0.1:PORT

The same script runs against ``mlineage serve`` and against ``mlflow server``;
tests/api/mlflow/test_tracking_client.py compares the two outputs. Server-made
values (run and experiment ids, creation and update times, random run names) are
normalized here: runs are named by the scenario, ids replaced by those names or by
the order experiments were made in. Every expected error is recorded as the
``error_code`` of the MlflowException the client raised. Not a test module.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

T0 = 1_700_000_000_000  # client-given timestamps, so both servers store the same


def _value(value: float) -> Any:
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


class Scenario:
    def __init__(self, client: MlflowClient) -> None:
        self.client = client
        self.names: dict[str, str] = {}  # run id -> scenario name
        self.experiments: dict[str, str] = {}  # experiment id -> scenario label
        self.out: dict[str, Any] = {}

    # --- normalizing ---------------------------------------------------------------------------

    def run_view(self, run: Any) -> dict[str, Any]:
        info = run.info
        return {
            "name": self.names.get(info.run_id, "?"),
            "run_name": info.run_name,
            "experiment": self.experiments.get(info.experiment_id, info.experiment_id),
            "status": info.status,
            "lifecycle_stage": info.lifecycle_stage,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "user_id": info.user_id,
            "artifact_uri_tail": info.artifact_uri.rsplit("/", 2)[-1] if info.artifact_uri else None,
            "run_id_length": len(info.run_id),
            "params": dict(sorted(run.data.params.items())),
            "metrics": {k: _value(v) for k, v in sorted(run.data.metrics.items())},
            "tags": {k: v for k, v in sorted(run.data.tags.items()) if not k.startswith("mlflow.source")},
        }

    def experiment_view(self, experiment: Any) -> dict[str, Any]:
        return {
            "experiment": self.experiments.get(experiment.experiment_id, "?"),
            "name": experiment.name,
            "lifecycle_stage": experiment.lifecycle_stage,
            "tags": dict(sorted(experiment.tags.items())),
            "artifact_location_scheme": experiment.artifact_location.split(":", 1)[0],
            "times_set": bool(experiment.creation_time and experiment.last_update_time),
        }

    def error(self, label: str, call: Any) -> None:
        try:
            call()
        except MlflowException as exc:
            self.out.setdefault("errors", {})[label] = exc.error_code
        else:
            self.out.setdefault("errors", {})[label] = "no error"

    def names_of(self, runs: Any) -> list[str]:
        return [self.names.get(r.info.run_id, "?") for r in runs]

    # --- the scenario --------------------------------------------------------------------------

    def experiments_part(self) -> str:
        c = self.client
        a = c.create_experiment("exp-a", tags={"team": "vision", "stage": "dev"})
        b = c.create_experiment("exp-b")
        z = c.create_experiment("zeta-notes")
        self.experiments.update({a: "A", b: "B", z: "Z", "0": "Default"})
        c.set_experiment_tag(b, "team", "nlp")
        self.out["get_experiment"] = self.experiment_view(c.get_experiment(a))
        self.out["by_name"] = self.experiment_view(c.get_experiment_by_name("exp-b"))
        self.out["by_name_missing"] = c.get_experiment_by_name("no-such-experiment") is None
        self.out["default"] = self.experiment_view(c.get_experiment("0"))
        search = c.search_experiments
        self.out["search_experiments"] = {
            "all_by_name": [e.name for e in search(order_by=["name ASC"])],
            "like": [e.name for e in search(filter_string="name LIKE 'exp-%'", order_by=["name DESC"])],
            "tag": [e.name for e in search(filter_string="tags.team = 'nlp'")],
            "newest_first": [e.name for e in search()],
        }
        page = search(max_results=2, order_by=["name ASC"])
        pages = [[e.name for e in page]]
        while page.token:
            page = search(max_results=2, order_by=["name ASC"], page_token=page.token)
            pages.append([e.name for e in page])
        self.out["search_experiments"]["pages"] = pages
        c.rename_experiment(z, "zeta-renamed")
        self.out["renamed"] = c.get_experiment(z).name
        c.delete_experiment(z)
        self.out["deleted_experiment"] = {
            "active": [e.name for e in search(order_by=["name ASC"])],
            "deleted": [e.name for e in search(view_type=ViewType.DELETED_ONLY)],
            "stage": c.get_experiment(z).lifecycle_stage,
        }
        c.restore_experiment(z)
        self.out["restored_experiment"] = c.get_experiment(z).lifecycle_stage
        self.error("duplicate_experiment", lambda: c.create_experiment("exp-a"))
        self.error("missing_experiment", lambda: c.get_experiment("987654"))
        self.error("bad_experiment_filter", lambda: search(filter_string="name = "))
        return a

    def runs_part(self, experiment_id: str) -> None:
        c = self.client
        plan = [("r1", "0.01", 0.2), ("r2", "0.01", 0.5), ("r3", "0.1", 0.1), ("r4", "0.01", 0.25), ("r5", "0.1", 0.9)]
        for index, (name, lr, loss) in enumerate(plan):
            run = c.create_run(experiment_id, start_time=T0 + index * 1000, run_name=name, tags={"order": str(index)})
            self.names[run.info.run_id] = name
            if index % 2 == 0:  # one by one
                c.log_param(run.info.run_id, "lr", lr)
                c.log_param(run.info.run_id, "optimizer", "adam")
                c.log_metric(run.info.run_id, "loss", loss + 1.0, timestamp=T0 + 1, step=0)
                c.log_metric(run.info.run_id, "loss", loss, timestamp=T0 + 2, step=1)
                c.set_tag(run.info.run_id, "kind", "single")
            else:  # batched
                c.log_batch(
                    run.info.run_id,
                    metrics=[Metric("loss", loss + 1.0, T0 + 1, 0), Metric("loss", loss, T0 + 2, 1),
                             Metric("acc", 1 - loss, T0 + 2, 1)],
                    params=[Param("lr", lr), Param("optimizer", "sgd")],
                    tags=[RunTag("kind", "batch")],
                )
            c.set_terminated(run.info.run_id, status="FINISHED" if name != "r5" else "FAILED", end_time=T0 + 10_000)
        by_name = {v: k for k, v in self.names.items()}
        r1 = by_name["r1"]
        self.out["get_run"] = self.run_view(c.get_run(r1))
        self.out["get_run_batched"] = self.run_view(c.get_run(by_name["r2"]))
        # which point is "latest": greatest step, then timestamp, then value (a NaN among them)
        c.log_batch(by_name["r4"], metrics=[Metric("tie", 3.0, T0 + 5, 1), Metric("tie", 2.0, T0 + 5, 1),
                                            Metric("tie", 9.0, T0 + 4, 1), Metric("tie", 99.0, T0 + 9, 0),
                                            Metric("nan_tie", float("nan"), T0, 2), Metric("nan_tie", 1.0, T0, 2),
                                            Metric("late_nan", 5.0, T0, 1), Metric("late_nan", float("nan"), T0, 3)])
        latest = c.get_run(by_name["r4"]).data.metrics
        self.out["latest_ties"] = {k: _value(latest[k]) for k in ("tie", "nan_tie", "late_nan")}
        search = c.search_runs
        self.out["search_runs"] = {
            "loss_and_lr": self.names_of(search([experiment_id], "metrics.loss < 0.3 and params.lr = '0.01'")),
            "default_order": self.names_of(search([experiment_id])),
            "loss_desc": self.names_of(search([experiment_id], order_by=["metrics.loss DESC"])),
            "acc_asc": self.names_of(search([experiment_id], order_by=["metrics.acc ASC"])),
            "lr_then_loss": self.names_of(search([experiment_id], order_by=["params.lr DESC", "metrics.loss"])),
            "status": self.names_of(search([experiment_id], "attributes.status = 'FAILED'")),
            "tag_like": self.names_of(search([experiment_id], "tags.kind LIKE 'bat%'")),
            "run_id_in": self.names_of(search([experiment_id], f"attributes.run_id IN ('{by_name['r2']}', "
                                                               f"'{by_name['r4']}')")),
            "run_name_like": self.names_of(search([experiment_id], "attributes.run_name LIKE 'r_'")),
            "start_time": self.names_of(search([experiment_id], f"attributes.start_time >= {T0 + 2000}")),
            "param_null": self.names_of(search([experiment_id], "params.missing IS NULL and metrics.acc > 0.6")),
            "two_experiments": self.names_of(search([experiment_id, "0"], "params.optimizer = 'adam'")),
        }
        page = search([experiment_id], max_results=2, order_by=["attributes.run_name ASC"])
        pages = [self.names_of(page)]
        while page.token:
            page = search([experiment_id], max_results=2, order_by=["attributes.run_name ASC"],
                          page_token=page.token)
            pages.append(self.names_of(page))
        self.out["search_runs"]["pages"] = pages

        # metric history, whole and paged through the client's store (what get_metric_history pages with)
        for step in range(7):
            c.log_metric(r1, "curve", 1.0 / (step + 1), timestamp=T0 + 100 + step, step=step)
        c.log_metric(r1, "curve", float("nan"), timestamp=T0 + 200, step=7)
        history = c.get_metric_history(r1, "curve")
        self.out["history"] = [(m.step, _value(m.value), m.timestamp) for m in history]
        store = c._tracking_client.store
        paged, token = [], None
        while True:
            page = store.get_metric_history(r1, "curve", max_results=3, page_token=token)
            paged.append([m.step for m in page])
            token = page.token
            if not token:
                break
        self.out["history_pages"] = paged
        self.out["history_missing_key"] = [m.value for m in c.get_metric_history(r1, "never-logged")]

        # deleted runs are hidden, and restorable
        r3 = by_name["r3"]
        c.delete_run(r3)
        self.out["deleted_run"] = {
            "active": self.names_of(search([experiment_id])),
            "deleted_only": self.names_of(search([experiment_id], run_view_type=ViewType.DELETED_ONLY)),
            "all": self.names_of(search([experiment_id], run_view_type=ViewType.ALL)),
            "stage": c.get_run(r3).info.lifecycle_stage,
        }
        self.error("log_to_deleted_run", lambda: c.log_param(r3, "late", "1"))
        c.restore_run(r3)
        self.out["restored_run"] = {"active": self.names_of(search([experiment_id])),
                                    "stage": c.get_run(r3).info.lifecycle_stage}

        # tags set, renamed by tag, deleted
        c.set_tag(r1, "note", "first")
        c.set_tag(r1, "note", "changed")
        c.delete_tag(r1, "kind")
        c.update_run(r1, name="r1-renamed")
        self.out["after_tags"] = self.run_view(c.get_run(r1))

        # MLflow's limits and errors
        self.error("param_changed", lambda: c.log_param(r1, "lr", "0.5"))
        self.error("param_same_value", lambda: c.log_param(r1, "lr", "0.01"))
        self.error("batch_param_changed", lambda: c.log_batch(r1, params=[Param("lr", "0.9")]))
        self.error("batch_1001_metrics", lambda: c.log_batch(r1, metrics=[Metric("m", 1.0, T0, i)
                                                                           for i in range(1001)]))
        self.error("batch_1000_metrics", lambda: c.log_batch(r1, metrics=[Metric("m", 1.0, T0, i)
                                                                           for i in range(1000)]))
        self.error("batch_101_params", lambda: c.log_batch(r1, params=[Param(f"p{i}", "v") for i in range(101)]))
        self.error("batch_101_tags", lambda: c.log_batch(r1, tags=[RunTag(f"t{i}", "v") for i in range(101)]))
        self.error("batch_duplicate_params", lambda: c.log_batch(r1, params=[Param("d", "1"), Param("d", "2")]))
        self.error("missing_run", lambda: c.get_run("0" * 32))
        self.error("log_to_missing_run", lambda: c.log_metric("f" * 32, "x", 1.0))
        self.error("delete_missing_tag", lambda: c.delete_tag(r1, "never-set"))
        self.error("bad_run_filter", lambda: search([experiment_id], "metrics.loss < '0.3'"))
        self.error("bad_run_filter_or", lambda: search([experiment_id], "metrics.loss < 0.3 or params.lr = '1'"))
        self.error("bad_entity", lambda: search([experiment_id], "foo.bar = '1'"))
        self.error("bad_order_by", lambda: search([experiment_id], order_by=["attributes.nope DESC"]))
        self.error("bad_param_name", lambda: c.log_param(r1, "../escape", "x"))
        self.error("long_param_value", lambda: c.log_batch(r1, params=[Param("long", "x" * 6001)]))
        self.error("create_run_in_missing_experiment", lambda: c.create_run("987654"))
        self.out["m_points"] = len(c.get_metric_history(r1, "m"))
        self.raw_limits(r1)

    def raw_limits(self, run_id: str) -> None:
        """log-batch's limits as the server enforces them: the client's own REST call, unsplit (log_batch splits)."""
        from mlflow.protos.service_pb2 import LogBatch, LogParam

        store = self.client._tracking_client.store

        def batch(metrics: int = 0, params: int = 0, tags: int = 0) -> None:
            body = {
                "run_id": run_id,
                "metrics": [{"key": "raw", "value": 1.0, "timestamp": T0, "step": i} for i in range(metrics)],
                "params": [{"key": f"raw{i}", "value": "v"} for i in range(params)],
                "tags": [{"key": f"raw{i}", "value": "v"} for i in range(tags)],
            }
            store._call_endpoint(LogBatch, json.dumps(body))

        def batch_body(extra: dict) -> None:
            store._call_endpoint(LogBatch, json.dumps({"run_id": run_id, **extra}))

        self.error("raw_1001_metrics", lambda: batch(metrics=1001))
        self.error("raw_101_params", lambda: batch(params=101))
        self.error("raw_101_tags", lambda: batch(tags=101))
        self.error("raw_1001_entities", lambda: batch(metrics=801, params=100, tags=100))
        self.error("raw_1000_metrics", lambda: batch(metrics=1000))
        self.error("raw_long_param", lambda: store._call_endpoint(
            LogParam, json.dumps({"run_id": run_id, "key": "raw-long", "value": "y" * 7000})))
        self.error("raw_missing_key", lambda: batch_body({"params": [{"value": "v"}]}))

        params = self.client.get_run(run_id).data.params
        self.out["raw_long_param_length"] = len(params.get("raw-long", ""))
        self.out["raw_points"] = len(self.client.get_metric_history(run_id, "raw"))

    def fluent_part(self, experiment_id: str) -> None:
        """The fluent API most scripts use: start_run, log_params/metrics, nested end."""
        with mlflow.start_run(experiment_id=experiment_id, run_name="fluent") as run:
            self.names[run.info.run_id] = "fluent"
            mlflow.log_params({"depth": 3, "lr": "0.01"})
            for step in range(3):
                mlflow.log_metric("loss", 0.5 - step * 0.1, step=step, timestamp=T0 + step)
            mlflow.log_metrics({"f1": 0.7, "recall": 0.6}, step=3, timestamp=T0 + 10)
            mlflow.set_tags({"framework": "none"})
        fluent = self.client.get_run(run.info.run_id)
        view = self.run_view(fluent)
        view["start_time"] = bool(view["start_time"])
        view["end_time"] = bool(view["end_time"])
        view["tags"] = {k: v for k, v in view["tags"].items() if k != "mlflow.user"}
        self.out["fluent"] = view

    def run(self) -> dict[str, Any]:
        experiment_id = self.experiments_part()
        self.runs_part(experiment_id)
        self.fluent_part(experiment_id)
        return self.out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args()
    mlflow.set_tracking_uri(args.tracking_uri)
    out = Scenario(MlflowClient(args.tracking_uri)).run()
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
