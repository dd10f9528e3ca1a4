"""ListOptions and OrderByField: the Python-side list options, named as ml_metadata names them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.kinds import ARTIFACT, CONTEXT, EXECUTION, NodeKind
from mlineage.proto import metadata_store_pb2 as pb

# The ml-metadata client asks for at most this many rows per page and follows tokens.
PAGE_SIZE = 100


class OrderByField(enum.Enum):
    CREATE_TIME = pb.ListOperationOptions.OrderByField.CREATE_TIME
    UPDATE_TIME = pb.ListOperationOptions.OrderByField.LAST_UPDATE_TIME
    ID = pb.ListOperationOptions.OrderByField.ID


@dataclass
class ListOptions:
    """How to list nodes: at most ``limit`` of them, ordered, optionally filtered."""

    limit: int | None = None
    order_by: OrderByField | None = None
    is_asc: bool = True
    filter_query: str | None = None

    def to_proto(self, page_size: int = PAGE_SIZE) -> pb.ListOperationOptions:
        if self.limit is not None and self.limit < 1:
            raise InvalidArgumentError(f"invalid limit {self.limit}: it must be at least 1")
        options = pb.ListOperationOptions(
            max_result_size=min(page_size, self.limit) if self.limit is not None else page_size
        )
        if self.order_by is not None:
            options.order_by_field.field = self.order_by.value
        options.order_by_field.is_asc = self.is_asc
        if self.filter_query:
            options.filter_query = self.filter_query
        return options


class ListingMethods:
    """ml_metadata.MetadataStore's list-returning methods, on top of one paged call.

    A class that implements ``list_nodes`` (one page and its token, as the
    GetArtifacts/… RPCs answer) gets every ``get_*``/``get_*_by_type``/
    ``get_*_by_context`` method with the client's paging loop: the embedded
    Store and the gRPC client share them, so both answer alike.
    """

    def list_nodes(
        self,
        kind_name: str,
        options: pb.ListOperationOptions | None = None,
        *,
        type_name: str | None = None,
        type_version: str | None = None,
        context_id: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list, str]:
        raise NotImplementedError

    def _list_all(self, kind: NodeKind, list_options: ListOptions | None, **scope) -> list:
        kind_name = kind.name  # list_nodes names the kind as a listing scope does
        if list_options is None:
            # Everything; a server may still cut the answer (by size) and give a token, as MLMD's client
            # expects: follow it (the follow-up options keep the default order, by id).
            first, token = self.list_nodes(kind_name, None, **scope)
            everything = list(first)
            while token:
                follow = pb.ListOperationOptions(max_result_size=PAGE_SIZE, next_page_token=token)
                page, token = self.list_nodes(kind_name, follow, **scope)
                everything.extend(page)
            return everything
        options = list_options.to_proto()
        result: list = []
        while True:
            page, token = self.list_nodes(kind_name, options, **scope)
            result.extend(page)
            if not token or (list_options.limit is not None and len(result) >= list_options.limit):
                break
            options.next_page_token = token
        if list_options.limit is not None:
            del result[list_options.limit :]
        return result

    def get_artifacts(self, list_options: ListOptions | None = None) -> list[pb.Artifact]:
        return self._list_all(ARTIFACT, list_options)

    def get_executions(self, list_options: ListOptions | None = None) -> list[pb.Execution]:
        return self._list_all(EXECUTION, list_options)

    def get_contexts(self, list_options: ListOptions | None = None) -> list[pb.Context]:
        return self._list_all(CONTEXT, list_options)

    def get_artifacts_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None
    ) -> list[pb.Artifact]:
        return self._list_all(ARTIFACT, list_options, type_name=type_name, type_version=type_version)

    def get_executions_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None
    ) -> list[pb.Execution]:
        return self._list_all(EXECUTION, list_options, type_name=type_name, type_version=type_version)

    def get_contexts_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None
    ) -> list[pb.Context]:
        return self._list_all(CONTEXT, list_options, type_name=type_name, type_version=type_version)

    def get_artifacts_by_context(self, context_id: int, list_options: ListOptions | None = None) -> list[pb.Artifact]:
        return self._list_all(ARTIFACT, list_options, context_id=context_id)

    def get_executions_by_context(
        self, context_id: int, list_options: ListOptions | None = None
    ) -> list[pb.Execution]:
        if list_options is None:
            # ml_metadata's client lists a context's executions newest first unless told otherwise.
            list_options = ListOptions(order_by=OrderByField.CREATE_TIME, is_asc=False)
        return self._list_all(EXECUTION, list_options, context_id=context_id)
