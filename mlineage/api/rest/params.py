"""Query and path parameters shared by the routes: ids, list options, update masks."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query

from mlineage.errors import InvalidArgumentError
from mlineage.proto import metadata_store_pb2 as pb

MAX_ID = 2**63 - 1
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Filters and tokens are short; a longer one is a mistake (or an attack), not a query.
MAX_QUERY_TEXT = 16 * 1024

NodeId = Annotated[int, Path(ge=0, le=MAX_ID, description="node id")]
TypeId = Annotated[int, Path(ge=0, le=MAX_ID, description="type id")]

_Field = pb.ListOperationOptions.OrderByField
ORDER_FIELDS = {
    "id": _Field.ID,
    "create_time": _Field.CREATE_TIME,
    "create_time_since_epoch": _Field.CREATE_TIME,
    "update_time": _Field.LAST_UPDATE_TIME,
    "last_update_time": _Field.LAST_UPDATE_TIME,
    "last_update_time_since_epoch": _Field.LAST_UPDATE_TIME,
}
ORDER_PATTERN = r"^\s*(" + "|".join(ORDER_FIELDS) + r")(\s+(asc|desc|ASC|DESC))?\s*$"

FilterParam = Annotated[
    str | None,
    Query(
        max_length=MAX_QUERY_TEXT,
        description="MLMD filter query, e.g. `type = 'Model' AND custom_properties.acc.double_value > 0.9`",
    ),
]
PageSizeParam = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"rows per page, 1–{MAX_PAGE_SIZE}")
]
PageTokenParam = Annotated[
    str | None, Query(max_length=MAX_QUERY_TEXT, description="next_page_token of the previous page")
]
OrderByParam = Annotated[
    str,
    Query(
        pattern=ORDER_PATTERN,
        description="`id`, `create_time` or `update_time`, optionally followed by `asc` (default) or `desc`",
    ),
]


def list_options(
    filter: str | None, page_size: int, page_token: str | None, order_by: str
) -> pb.ListOperationOptions:
    """The store's ListOperationOptions for a list request."""
    match = re.match(ORDER_PATTERN, order_by)
    if match is None:  # the Query pattern already refused it; kept for direct callers
        raise InvalidArgumentError(f"invalid order_by {order_by!r}")
    options = pb.ListOperationOptions(max_result_size=page_size)
    options.order_by_field.field = ORDER_FIELDS[match.group(1)]
    options.order_by_field.is_asc = (match.group(3) or "asc").lower() == "asc"
    if filter:
        options.filter_query = filter
    if page_token:
        options.next_page_token = page_token
    return options


def mask_paths(update_mask: list[str] | None) -> list[str]:
    """Field-mask paths from ``update_mask`` query values (repeated and/or comma-separated)."""
    paths: list[str] = []
    for value in update_mask or ():
        paths.extend(part.strip() for part in value.split(",") if part.strip())
    return paths
