"""/api/v1/events, attributions, associations and parent_contexts: the edges between nodes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from mlineage.api import requests
from mlineage.api.rest.history import ReadStore
from mlineage.api.rest.io import Documentation, read_message, respond
from mlineage.api.rest.params import MAX_ID
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import ARTIFACT, EXECUTION
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

IdsParam = Annotated[list[Annotated[int, Query(ge=0, le=MAX_ID)]] | None, Query(max_length=1000)]


def router(store: Store, docs: Documentation) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")

    async def create_event(request: Request):
        event = await read_message(request, pb.Event)
        await run_in_threadpool(store.put_events, [event])
        return respond(event, status=201)

    create_event.__doc__ = (
        "Record that an execution read (INPUT) or wrote (OUTPUT) an artifact. Events are immutable; "
        "a second event with the same artifact, execution and type is ALREADY_EXISTS."
    )
    routes.add_api_route(
        "/events", create_event, methods=["POST"], tags=["events"], summary="Create an event",
        **docs.documented(body=pb.Event, response=pb.Event, status=201, description="Created"),
    )

    async def put_events(request: Request):
        body = await read_message(request, svc.PutEventsRequest)
        await run_in_threadpool(store.put_events, body.events)
        return respond(svc.PutEventsResponse())

    put_events.__doc__ = "Record many events in one transaction (MLMD's PutEvents)."
    routes.add_api_route(
        "/events:batchPut", put_events, methods=["POST"], tags=["events"], summary="Create many events",
        **docs.documented(body=svc.PutEventsRequest, response=svc.PutEventsResponse),
    )

    async def list_events(reader: ReadStore, artifact_id: IdsParam = None, execution_id: IdsParam = None):
        if bool(artifact_id) == bool(execution_id):
            raise InvalidArgumentError("give either artifact_id or execution_id (one or more), not both")
        kind, ids = (ARTIFACT, artifact_id) if artifact_id else (EXECUTION, execution_id or [])
        events = await run_in_threadpool(requests.events_of, reader, kind, ids)
        return respond(svc.GetEventsByExecutionIDsResponse(events=events))

    list_events.__doc__ = (
        "The events of the given artifacts, or of the given executions (repeat the parameter); "
        "NOT_FOUND if an id is of no node."
    )
    routes.add_api_route(
        "/events", list_events, methods=["GET"], tags=["events"], summary="List events",
        **docs.documented(response=svc.GetEventsByExecutionIDsResponse),
    )

    async def create_attribution(request: Request):
        attribution = await read_message(request, pb.Attribution)
        await run_in_threadpool(store.put_attributions_and_associations, [attribution], [])
        return respond(attribution, status=201)

    create_attribution.__doc__ = "Put an artifact in a context (nothing happens if it is there already)."
    routes.add_api_route(
        "/attributions", create_attribution, methods=["POST"], tags=["contexts"], summary="Create an attribution",
        **docs.documented(body=pb.Attribution, response=pb.Attribution, status=201, description="Created"),
    )

    async def create_association(request: Request):
        association = await read_message(request, pb.Association)
        await run_in_threadpool(store.put_attributions_and_associations, [], [association])
        return respond(association, status=201)

    create_association.__doc__ = "Put an execution in a context (nothing happens if it is there already)."
    routes.add_api_route(
        "/associations", create_association, methods=["POST"], tags=["contexts"], summary="Create an association",
        **docs.documented(body=pb.Association, response=pb.Association, status=201, description="Created"),
    )

    async def put_attributions_and_associations(request: Request):
        body = await read_message(request, svc.PutAttributionsAndAssociationsRequest)
        await run_in_threadpool(store.put_attributions_and_associations, body.attributions, body.associations)
        return respond(svc.PutAttributionsAndAssociationsResponse())

    put_attributions_and_associations.__doc__ = (
        "Put many artifacts and executions in contexts in one transaction (MLMD's PutAttributionsAndAssociations)."
    )
    routes.add_api_route(
        "/attributions_and_associations:batchPut", put_attributions_and_associations, methods=["POST"],
        tags=["contexts"], summary="Create many attributions and associations",
        **docs.documented(
            body=svc.PutAttributionsAndAssociationsRequest, response=svc.PutAttributionsAndAssociationsResponse
        ),
    )

    async def create_parent_context(request: Request):
        edge = await read_message(request, pb.ParentContext)
        await run_in_threadpool(store.put_parent_contexts, [edge])
        return respond(edge, status=201)

    create_parent_context.__doc__ = (
        "Make `parent_id` a parent of `child_id`. ALREADY_EXISTS if it is already; INVALID_ARGUMENT if it "
        "would close a cycle."
    )
    routes.add_api_route(
        "/parent_contexts", create_parent_context, methods=["POST"], tags=["contexts"],
        summary="Create a parent context link",
        **docs.documented(body=pb.ParentContext, response=pb.ParentContext, status=201, description="Created"),
    )
    return routes
