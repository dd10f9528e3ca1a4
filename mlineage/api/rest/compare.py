"""GET /api/v1/compare: a run comparison (``mlineage.reports``) as JSON, HTML or Markdown.

A thin adapter: the query names the runs (``runs`` repeated, or ``pipeline`` with
``last``, ``sweep`` or ``filter``), the metric and its mode; ``reports`` does the
rest. Every bad choice (an unknown run, a metric no run has, two selectors) is
INVALID_ARGUMENT, answered 400 in the API's error shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest.io import JSON, Documentation, respond_json
from mlineage.api.rest.params import MAX_QUERY_TEXT
from mlineage.metadata.store import Store

MAX_NAME_TEXT = 1024
_FORMATS = {"json": JSON, "html": "text/html; charset=utf-8", "markdown": "text/markdown; charset=utf-8"}

_NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMAS: dict[str, Any] = {
    "Comparison": {
        "type": "object",
        "description": "a run comparison: each run's params and final metrics, the best run, what differs",
        "properties": {
            "runs": {"type": "array", "items": {"$ref": "#/components/schemas/ComparedRun"}},
            "metric": _NULLABLE_STRING,
            "mode": {"type": ["string", "null"], "enum": ["max", "min", None]},
            "best": {**_NULLABLE_STRING, "description": "the best run's name (null without a metric, or when "
                                                         "no run has a number for it)"},
            "ties": {"type": "array", "items": {"type": "string"}},
            "differs": {
                "type": "object",
                "properties": {"params": {"type": "array", "items": {"type": "string"}},
                               "metrics": {"type": "array", "items": {"type": "string"}}},
                "required": ["params", "metrics"],
            },
            "metric_modes": {"type": "object", "additionalProperties": {"type": "string", "enum": ["max", "min"]}},
            "sweep": _NULLABLE_STRING,
            "steps": {"type": "array", "items": {"type": "object"}},
            "artifacts": {"type": "array", "items": {"type": "object"}},
            "gpus": {"type": "array", "items": {"type": "object"}},
            "lineage_difference": {"type": "object", "description": "upstream artifacts one run read and the "
                                                                    "other did not (two runs or more)"},
        },
        "required": ["runs", "best", "differs"],
    },
    "ComparedRun": {
        "type": "object",
        "properties": {
            "run": {"type": "string"},
            "id": {"type": "integer", "description": "the run context's id"},
            "type": {"type": "string"},
            "state": {"type": "string"},
            "params": {"type": "object", "description": "<step>.<param> → value"},
            "metrics": {"type": "object", "description": "metric → final value (null for NaN)"},
        },
        "required": ["run", "id", "params", "metrics"],
    },
}

Name = Annotated[str | None, Query(max_length=MAX_NAME_TEXT)]


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")

    def answer(runs: list[str], pipeline: str | None, last: int | None, sweep: str | None, filter_query: str | None,
               metric: str | None, mode: str, diff: bool, format_name: str) -> str | dict:
        from mlineage.reports import compare, render, report_data

        comparison = compare(store, runs or None, pipeline=pipeline, last=last, sweep=sweep,
                             filter_query=filter_query)
        if format_name == "json":
            if metric is not None:
                comparison.require_metric(metric)
            return report_data(comparison, metric=metric, mode=mode, diff=diff)
        return render(comparison, format_name, metric=metric, mode=mode, diff=diff)

    async def compare_runs(
        runs: Annotated[list[str] | None, Query(max_length=200, description="run context names or ids "
                                                                           "(repeat the parameter)")] = None,
        pipeline: Annotated[str | None, Query(max_length=MAX_NAME_TEXT,
                                              description="the runs of this pipeline (or MLflow experiment)")] = None,
        last: Annotated[int | None, Query(ge=1, le=1000, description="only the newest N runs")] = None,
        sweep: Annotated[str | None, Query(max_length=MAX_NAME_TEXT,
                                           description="the trials (child contexts) of this context")] = None,
        filter: Annotated[str | None, Query(max_length=MAX_QUERY_TEXT,  # noqa: A002 - the query's name
                                            description="MLMD filter query over run contexts")] = None,
        metric: Annotated[str | None, Query(max_length=MAX_NAME_TEXT,
                                            description="choose the best run by this metric")] = None,
        mode: Annotated[Literal["max", "min"], Query(description="the best value is the highest or lowest")] = "max",
        diff: Annotated[bool, Query(description="only the params and metrics that differ")] = False,
        format: Annotated[Literal["json", "html", "markdown"], Query(description="the answer's format")] = "json",  # noqa: A002
    ):
        for given in runs or []:
            if len(given) > MAX_NAME_TEXT:
                from mlineage.errors import InvalidArgumentError

                raise InvalidArgumentError(f"a run name is at most {MAX_NAME_TEXT} characters")
        result = await run_in_threadpool(answer, list(runs or []), pipeline, last, sweep, filter, metric, mode,
                                         diff, format)
        if format == "json":
            return respond_json(result)
        return Response(result, media_type=_FORMATS[format])

    compare_runs.__doc__ = (
        "Compare runs (`mlineage compare`): name them with `runs` (repeated), or `pipeline` (with `last`), "
        "`sweep` or `filter`. `metric` and `mode` pick the best run. JSON by default; `format=html` is one "
        "self-contained page with plots, `format=markdown` a pull-request comment. 400 INVALID_ARGUMENT for an "
        "unknown run, a metric no run has, or two selectors at once."
    )
    routes.add_api_route(
        "/compare", compare_runs, methods=["GET"], tags=["runs"], summary="Compare runs",
        responses={200: {"description": "OK", "content": {
            JSON: {"schema": docs.schema("Comparison")},
            "text/html": {"schema": {"type": "string"}},
            "text/markdown": {"schema": {"type": "string"}},
        }}},
    )
    return routes
