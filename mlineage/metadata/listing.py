"""Paged listing: ListOperationOptions to ordered keyset queries (``list_rows``), and opaque page tokens (``page_tokens``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, or_, select

from mlineage.errors import InvalidArgumentError
from mlineage.metadata import executor, page_tokens
from mlineage.metadata.kinds import ARTIFACT, NodeKind
from mlineage.metadata.nodes import node_select
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.schema import tables as t

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
_INVALID = "invalid next_page_token: not a token this server issued"
_MISMATCH = (
    "ListOperationOptions mismatch between calls: the next_page_token was issued for a different "
    "listing, order or filter_query"
)

_Field = pb.ListOperationOptions.OrderByField
_ORDER_COLUMNS = {
    _Field.ID: "id",
    _Field.FIELD_UNSPECIFIED: "id",
    _Field.CREATE_TIME: "create_time_since_epoch",
    _Field.LAST_UPDATE_TIME: "last_update_time_since_epoch",
}


@dataclass(frozen=True)
class PageRequest:
    """A decoded list request: what to order by, how many, where to resume."""

    page_size: int | None  # None: everything, no token (a request without options)
    order_column: str
    ascending: bool
    filter_query: str
    after: tuple | None  # (order value, id) of the last row of the previous page

    def order_by(self, kind: NodeKind) -> list:
        table = kind.table
        columns = [table.c[self.order_column]] if self.order_column != "id" else []
        columns.append(table.c.id)
        return [column.asc() if self.ascending else column.desc() for column in columns]

    def bound_resume_condition(self, kind: NodeKind):
        """Rows after the previous page's last one, its position bound as ``l_after_value`` / ``l_after_id``.

        The position is a parameter, not part of the statement, so one built
        statement serves every page of a listing of the same shape.
        """
        table = kind.table
        ident = table.c.id
        last_id: BindParameter[Any] = bindparam("l_after_id")
        if self.order_column == "id":
            return ident > last_id if self.ascending else ident < last_id
        column = table.c[self.order_column]
        value: BindParameter[Any] = bindparam("l_after_value")
        # The first conjunct is implied by the second; it is there for the planner, which cannot seek an
        # index on the OR alone: without it a page N deep read the order index from its start (PostgreSQL,
        # 10M nodes: 130k index rows for the 100th page of 100; bench/scale_bench.py, docs/scale.md).
        if self.ascending:
            return and_(column >= value, or_(column > value, and_(column == value, ident > last_id)))
        return and_(column <= value, or_(column < value, and_(column == value, ident < last_id)))


def _fingerprint(scope: str, order_column: str, ascending: bool, filter_query: str) -> str:
    return page_tokens.fingerprint(scope, order_column, ascending, filter_query)


def decode_options(options, scope: str) -> PageRequest:
    """Check ``options`` (a ListOperationOptions or None) for the listing named ``scope``."""
    if options is None:
        return PageRequest(None, "id", True, "", None)
    size = options.max_result_size
    if size <= 0:
        raise InvalidArgumentError(
            f"max_result_size field value is required to be greater than 0 and at most {MAX_PAGE_SIZE}; "
            f"got {size}"
        )
    size = min(size, MAX_PAGE_SIZE)
    order = options.order_by_field
    if order.field not in _ORDER_COLUMNS:
        raise InvalidArgumentError(f"unknown order_by_field.field {order.field}")
    column = _ORDER_COLUMNS[order.field]
    ascending = order.is_asc
    filter_query = options.filter_query
    after = None
    if options.next_page_token:
        after = page_tokens.decode(
            options.next_page_token, _fingerprint(scope, column, ascending, filter_query), _position,
            invalid=_INVALID, mismatch=_MISMATCH,
        )
    return PageRequest(size, column, ascending, filter_query, after)


def encode_token(request: PageRequest, scope: str, last_row) -> str:
    """The token of the page after ``last_row`` (its order value and id), bound to the listing and its options."""
    fingerprint = _fingerprint(scope, request.order_column, request.ascending, request.filter_query)
    return page_tokens.encode(fingerprint, {"f": getattr(last_row, request.order_column), "i": last_row.id})


def _position(body: dict) -> tuple[int, int]:
    # Both are int64 columns (an id, or a time in ms): a forged value fails here, never in the database.
    return page_tokens.int64(body["f"]), page_tokens.int64(body["i"])


def _list_statement(kind: NodeKind, request: PageRequest, shape: tuple) -> executor.Builder:
    """A builder of the listing SELECT for one shape of request; values arrive as ``l_*`` parameters."""
    _, filter_query, _, _, by_type, by_context, resuming, limited = shape
    table = kind.table

    def build(_dialect: str):
        conditions: list[Any] = [table.c.namespace == bindparam("l_namespace")]
        if by_type:
            conditions.append(table.c.type_id == bindparam("l_type"))
        if by_context:
            edges = t.attributions if kind is ARTIFACT else t.associations
            member = select(edges.c[kind.owner_column]).where(edges.c.context_id == bindparam("l_context"))
            conditions.append(table.c.id.in_(member))
        if filter_query:
            from mlineage.metadata.filter_query import compile_filter

            conditions.append(compile_filter(kind.name, filter_query))
        if resuming:
            conditions.append(request.bound_resume_condition(kind))
        stmt = node_select(kind).where(and_(*conditions)).order_by(*request.order_by(kind))
        if limited:
            stmt = stmt.limit(bindparam("l_limit"))
        return stmt

    return build


def list_rows(
    connection: executor.AnyConnection,
    kind: NodeKind,
    request: PageRequest,
    namespace: str,
    *,
    type_id: int | None = None,
    context_id: int | None = None,
) -> list[tuple]:
    """Node rows (as ``nodes.node_select`` selects them) of one page: of ``kind`` in ``namespace``,
    of one type and in one context when given, filtered, ordered and resumed as ``request`` says,
    and one row more than the page when more remain. Raises InvalidArgumentError for a filter
    query that does not parse or names what does not exist (the filter language's errors)."""
    params: dict[str, Any] = {"l_namespace": namespace}
    if type_id is not None:
        params["l_type"] = type_id
    if context_id is not None:
        params["l_context"] = context_id
    if request.after is not None:
        params["l_after_value"], params["l_after_id"] = request.after
    if request.page_size is not None:
        params["l_limit"] = request.page_size + 1
    shape = (
        kind.name,
        request.filter_query,
        request.order_column,
        request.ascending,
        type_id is not None,
        context_id is not None,
        request.after is not None,
        request.page_size is not None,
    )
    return executor.fetch(connection, ("list", shape), _list_statement(kind, request, shape), params)
