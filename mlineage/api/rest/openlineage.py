"""OpenLineage over HTTP: POST /api/v1/lineage (as Marquez has it) and run events out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from mlineage.api.rest.io import Documentation, read_json, respond, respond_json
from mlineage.api.rest.params import (
    DEFAULT_PAGE_SIZE,
    FilterParam,
    NodeId,
    OrderByParam,
    PageSizeParam,
    PageTokenParam,
    list_options,
)
from mlineage.integrations import openlineage as ol
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_service_pb2 as svc

SCHEMAS = ol.SCHEMAS


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")

    async def ingest(request: Request):
        event = await read_json(request)
        return respond(await run_in_threadpool(ol.record_event, store, event), status=201)

    ingest.__doc__ = (
        "Record an OpenLineage event (spec 2-0-x): the job becomes a context, the run an execution whose state "
        "follows START/RUNNING/COMPLETE/FAIL/ABORT (never backwards), datasets artifacts keyed by namespace and "
        "name with INPUT/OUTPUT events, facets struct-valued custom properties (`facet.<name>`). The raw event "
        "is kept. Point an OpenLineage HTTP transport at this server's root URL."
    )
    routes.add_api_route(
        "/lineage", ingest, methods=["POST"], tags=["openlineage"], summary="Record an OpenLineage event",
        **docs.documented(
            body="OpenLineageEvent", response=svc.PutExecutionResponse, status=201,
            description="Recorded: the ids of the execution, artifacts and job context",
        ),
    )

    async def of_execution(id: NodeId):
        events = await run_in_threadpool(ol.execution_events, store, id)
        return respond_json({"events": events})

    of_execution.__doc__ = (
        "The execution as OpenLineage run events: START, then COMPLETE, FAIL or ABORT once it finished, with "
        "its input and output artifacts as datasets."
    )
    routes.add_api_route(
        "/executions/{id}/openlineage", of_execution, methods=["GET"], tags=["openlineage"],
        summary="Export an execution as OpenLineage events", **docs.documented(response="OpenLineageRunEvents"),
    )

    async def export(
        filter: FilterParam = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
        order_by: OrderByParam = "id",
    ):
        options = list_options(filter, page_size, page_token, order_by)
        events, token = await run_in_threadpool(ol.export_events, store, options)
        return respond_json({"events": events, "next_page_token": token})

    export.__doc__ = (
        "OpenLineage run events of one page of executions (`filter` is an execution filter, e.g. "
        "`last_known_state = COMPLETE`); page with `next_page_token`."
    )
    routes.add_api_route(
        "/openlineage/events", export, methods=["GET"], tags=["openlineage"],
        summary="Export executions as OpenLineage events", **docs.documented(response="OpenLineageRunEvents"),
    )

    async def raw(
        run_id: Annotated[str | None, Query(max_length=64, description="only the events of this run")] = None,
        page_size: PageSizeParam = DEFAULT_PAGE_SIZE,
        page_token: PageTokenParam = None,
    ):
        events, token = await run_in_threadpool(
            lambda: ol.raw_events(store, run_id=run_id, page_size=page_size, page_token=page_token)
        )
        return respond_json({"events": events, "next_page_token": token})

    raw.__doc__ = "The OpenLineage events received by POST /api/v1/lineage, as they were sent, oldest first."
    routes.add_api_route(
        "/openlineage/received", raw, methods=["GET"], tags=["openlineage"],
        summary="List the OpenLineage events received", **docs.documented(response="OpenLineageReceivedEvents"),
    )
    return routes
