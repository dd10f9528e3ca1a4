"""/api/v1/executions/{id}/metrics: the metric series an execution logged, summarized and by page of points."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest.io import JSON, Documentation, respond_json
from mlineage.api.rest.params import MAX_QUERY_TEXT, NodeId
from mlineage.errors import InvalidArgumentError
from mlineage.metadata import metric_reads
from mlineage.metadata.metrics import MAX_NAME_LENGTH
from mlineage.metadata.store import Store

DEFAULT_PAGE_SIZE = 1000

_NUMBER = {"type": ["number", "string"], "description": "a number; NaN and infinities as the strings \"NaN\", "
                                                        "\"Infinity\", \"-Infinity\""}

SCHEMAS = {
    "MetricSummaryList": {
        "type": "object",
        "properties": {
            "execution_id": {"type": "string", "pattern": "^[0-9]+$"},
            "metrics": {"type": "array", "items": {"$ref": "#/components/schemas/MetricSummary"}},
        },
        "required": ["execution_id", "metrics"],
        "additionalProperties": False,
    },
    "MetricSummary": {
        "type": "object",
        "description": "one metric: its number of points and its last point (by seq)",
        "properties": {
            "name": {"type": "string"},
            "points": {"type": "integer", "minimum": 1},
            "last_step": {"type": "integer"},
            "last_value": _NUMBER,
            "last_timestamp_ms": {"type": "integer"},
            "min_value": {**_NUMBER, "type": ["number", "string", "null"]},
            "max_value": {**_NUMBER, "type": ["number", "string", "null"]},
        },
        "required": ["name", "points", "last_step", "last_value", "last_timestamp_ms", "min_value", "max_value"],
        "additionalProperties": False,
    },
    "MetricPoints": {
        "type": "object",
        "properties": {
            "execution_id": {"type": "string", "pattern": "^[0-9]+$"},
            "name": {"type": "string"},
            "points": {"type": "array", "items": {"$ref": "#/components/schemas/MetricPoint"}},
            "next_page_token": {"type": "string", "description": "the next page's token (empty on the last page)"},
        },
        "required": ["execution_id", "name", "points", "next_page_token"],
        "additionalProperties": False,
    },
    "MetricPoint": {
        "type": "object",
        "properties": {
            "seq": {"type": "integer", "description": "the point's sequence number (its order)"},
            "step": {"type": "integer"},
            "value": _NUMBER,
            "timestamp_ms": {"type": "integer", "description": "milliseconds since the epoch"},
        },
        "required": ["seq", "step", "value", "timestamp_ms"],
        "additionalProperties": False,
    },
}

MetricName = Annotated[
    str, Path(min_length=1, max_length=MAX_NAME_LENGTH, description="metric name (may contain `/`)")
]
PointsPageSize = Annotated[
    int, Query(ge=1, le=metric_reads.MAX_PAGE_SIZE, description=f"points per page, 1–{metric_reads.MAX_PAGE_SIZE}")
]
PointsPageToken = Annotated[
    str | None, Query(max_length=MAX_QUERY_TEXT, description="next_page_token of the previous page")
]


def _number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _after(token: str | None) -> int | None:
    if not token:
        return None
    if not token.lstrip("-").isdigit() or len(token) > 20:
        raise InvalidArgumentError(f"invalid page_token {token!r}: pass next_page_token from the previous page")
    return int(token)


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")

    def summaries(execution_id: int) -> dict:
        found = metric_reads.metric_summaries(store, execution_id)
        return {
            "execution_id": str(execution_id),
            "metrics": [
                {
                    "name": s.name,
                    "points": s.points,
                    "last_step": s.last_step,
                    "last_value": _number(s.last_value),
                    "last_timestamp_ms": s.last_timestamp_ms,
                    "min_value": _number(s.min_value),
                    "max_value": _number(s.max_value),
                }
                for s in found
            ],
        }

    async def list_metrics(execution_id: NodeId):
        return respond_json(await run_in_threadpool(summaries, execution_id))

    list_metrics.__doc__ = (
        "The metrics an execution logged (`step.log_metric`), by name: number of points, the last point's "
        "step, value and time, and the smallest and largest value. NOT_FOUND for an unknown execution."
    )
    routes.add_api_route(
        "/executions/{execution_id}/metrics", list_metrics, methods=["GET"], tags=["executions"],
        summary="List an execution's metrics", responses=_ok("MetricSummaryList", docs),
    )

    def page(execution_id: int, name: str, page_size: int, token: str | None) -> dict:
        series, after = metric_reads.metric_page(
            store, execution_id, name, page_size=page_size, after_seq=_after(token)
        )
        return {
            "execution_id": str(execution_id),
            "name": name,
            "points": [
                {"seq": seq, "step": step, "value": _number(value), "timestamp_ms": stamp}
                for seq, step, value, stamp in zip(series.seq, series.step, series.value, series.timestamp_ms,
                                                   strict=True)
            ],
            "next_page_token": "" if after is None else str(after),
        }

    async def metric_points(
        execution_id: NodeId,
        name: MetricName,
        page_size: PointsPageSize = DEFAULT_PAGE_SIZE,
        page_token: PointsPageToken = None,
    ):
        return respond_json(await run_in_threadpool(page, execution_id, name, page_size, page_token))

    metric_points.__doc__ = (
        "The points of one metric in the order they were logged (by seq), a page at a time "
        f"(`page_size`, default {DEFAULT_PAGE_SIZE}; pass `next_page_token` back as `page_token`). "
        "NOT_FOUND for an unknown execution or a name it never logged."
    )
    routes.add_api_route(
        "/executions/{execution_id}/metrics/{name:path}", metric_points, methods=["GET"], tags=["executions"],
        summary="Get one metric's points", responses=_ok("MetricPoints", docs),
    )
    return routes


def _ok(schema: str, docs: Documentation) -> dict:
    return {200: {"description": "OK", "content": {JSON: {"schema": docs.schema(schema)}}}}
