"""ListOptions and OrderByField: the Python-side list options, named as ml_metadata names them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mlineage.errors import InvalidArgumentError
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
