"""ListOperationOptions: page sizes, order, page tokens and filters, through list_nodes and get_* (ListOptions)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from mlineage import ListOptions, OrderByField
from mlineage import metadata_store_pb2 as pb
from mlineage.errors import InvalidArgumentError

Field = pb.ListOperationOptions.OrderByField


def options(
    size: int | None = None, field=None, is_asc: bool = True, filter_query: str = "", token: str = ""
):
    message = pb.ListOperationOptions()
    if size is not None:
        message.max_result_size = size
    if field is not None:
        message.order_by_field.field = field
    message.order_by_field.is_asc = is_asc
    if filter_query:
        message.filter_query = filter_query
    if token:
        message.next_page_token = token
    return message


def pages(store, kind: str, first: pb.ListOperationOptions, **scope) -> list[list[int]]:
    """Every page of a listing, following tokens; each page as its ids."""
    result = []
    request = pb.ListOperationOptions()
    request.CopyFrom(first)
    while True:
        page, token = store.list_nodes(kind, request, **scope)
        result.append([node.id for node in page])
        if not token:
            return result
        assert len(result) < 1000, "the listing never ends"
        request.next_page_token = token


def ids(messages) -> list[int]:
    return [message.id for message in messages]


def tick() -> None:
    """Let the millisecond clock move, so rows written next get a later time."""
    time.sleep(0.003)


@pytest.fixture
def artifact_type(store) -> int:
    return store.put_artifact_type(pb.ArtifactType(name="Examples"))


@pytest.fixture
def execution_type(store) -> int:
    return store.put_execution_type(pb.ExecutionType(name="Trainer"))


@pytest.fixture
def context_type(store) -> int:
    return store.put_context_type(pb.ContextType(name="Run"))


@pytest.fixture
def many(store, artifact_type) -> list[int]:
    """250 artifacts written in one call, so they share one create time."""
    return store.put_artifacts([pb.Artifact(type_id=artifact_type, uri=f"/a/{i:03}") for i in range(250)])


# --- page sizes -----------------------------------------------------------------------------------


def test_options_without_a_size_give_pages_of_twenty_and_a_token(store, many):
    page, token = store.list_nodes("artifact", pb.ListOperationOptions())
    assert ids(page) == many[:20]
    assert token


@pytest.mark.parametrize("size", [1, 99, 100, 101, 250])
def test_every_page_size_lists_every_row_once_in_order(store, many, size):
    # MLMD returns 101 rows and no token for sizes over 100; we page correctly at any size.
    got = pages(store, "artifact", options(size))
    assert [len(page) for page in got[:-1]] == [size] * (len(got) - 1)
    assert 0 < len(got[-1]) <= size
    assert [node_id for page in got for node_id in page] == many


def test_a_page_that_ends_exactly_at_the_last_row_has_no_token(store, many):
    page, token = store.list_nodes("artifact", options(250))
    assert len(page) == 250
    assert token == ""


def test_options_none_returns_every_row_and_no_token(store, many):
    page, token = store.list_nodes("artifact", None)
    assert ids(page) == many
    assert token == ""


def test_get_artifacts_follows_tokens_to_the_end(store, many):
    assert ids(store.get_artifacts()) == many
    assert ids(store.get_artifacts(list_options=ListOptions())) == many
    assert (
        ids(store.get_artifacts(list_options=ListOptions(order_by=OrderByField.ID, is_asc=False)))
        == many[::-1]
    )


@pytest.mark.parametrize("limit", [1, 20, 100, 101, 249, 250, 1000])
def test_list_options_limit_caps_the_result(store, many, limit):
    assert ids(store.get_artifacts(list_options=ListOptions(limit=limit))) == many[:limit]


@pytest.mark.parametrize("size", [0, -1])
def test_a_page_size_of_zero_or_less_is_invalid_argument(store, many, size):
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("artifact", options(size))


# --- order ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("is_asc", [True, False])
@pytest.mark.parametrize("field", [Field.ID, Field.CREATE_TIME, Field.LAST_UPDATE_TIME])
def test_rows_with_the_same_time_are_ordered_by_id_in_the_same_direction(store, many, field, is_asc):
    expected = many if is_asc else many[::-1]
    assert [i for page in pages(store, "artifact", options(7, field, is_asc)) for i in page] == expected


@pytest.mark.parametrize("is_asc", [True, False])
def test_create_time_orders_before_id(store, artifact_type, is_asc):
    # Three batches at three create times, each batch sharing one time.
    batches = []
    for _ in range(3):
        batches.append(store.put_artifacts([pb.Artifact(type_id=artifact_type) for _ in range(5)]))
        tick()
    times = [store.get_artifacts_by_id(batch)[0].create_time_since_epoch for batch in batches]
    assert times == sorted(set(times))
    expected = [i for batch in batches for i in batch]
    got = [i for page in pages(store, "artifact", options(4, Field.CREATE_TIME, is_asc)) for i in page]
    assert got == (expected if is_asc else expected[::-1])


@pytest.mark.parametrize("is_asc", [True, False])
def test_last_update_time_orders_by_when_rows_last_changed(store, artifact_type, is_asc):
    first = store.put_artifacts([pb.Artifact(type_id=artifact_type, uri=f"/{i}") for i in range(6)])
    tick()
    touched_first = [first[4], first[1]]
    store.put_artifacts([pb.Artifact(id=i, type_id=artifact_type, uri="/touched") for i in touched_first])
    tick()
    touched_last = [first[0]]
    store.put_artifacts(
        [pb.Artifact(id=i, type_id=artifact_type, uri="/touched again") for i in touched_last]
    )
    untouched = [i for i in first if i not in touched_first + touched_last]
    expected = untouched + sorted(touched_first) + touched_last
    got = [i for page in pages(store, "artifact", options(2, Field.LAST_UPDATE_TIME, is_asc)) for i in page]
    assert got == (expected if is_asc else expected[::-1])


def test_unspecified_order_field_orders_by_id(store, many):
    got = pages(store, "artifact", options(100, Field.FIELD_UNSPECIFIED, is_asc=False))
    assert [i for page in got for i in page] == many[::-1]


# --- page tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["garbage!!", "AAAA", "eyJ2IjoxfQ", "CBQQFBoA"])
def test_a_token_this_server_did_not_issue_is_invalid_argument(store, many, token):
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("artifact", options(10, token=token))


@pytest.mark.parametrize("field", [Field.ID, Field.CREATE_TIME])
@pytest.mark.parametrize(
    "forged", [{"f": 2**70}, {"i": 2**70}, {"i": -(2**70)}, {"f": True}, {"i": "5"}, {"f": None}]
)
def test_a_forged_token_is_invalid_argument_not_a_database_error(store, many, field, forged):
    _, token = store.list_nodes("artifact", options(10, field))
    body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body.update(forged)
    forged_token = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("artifact", options(10, field, token=forged_token))


@pytest.mark.parametrize(
    "change",
    [
        {"field": Field.CREATE_TIME},
        {"is_asc": False},
        {"filter_query": "uri LIKE '/a/%'"},
    ],
)
def test_a_token_with_another_order_or_filter_is_invalid_argument(store, many, change):
    _, token = store.list_nodes("artifact", options(10))
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("artifact", options(10, token=token, **change))


def test_a_token_may_be_used_with_another_page_size(store, many):
    _, token = store.list_nodes("artifact", options(10))
    page, _ = store.list_nodes("artifact", options(3, token=token))
    assert ids(page) == many[10:13]


def test_an_artifacts_token_given_to_executions_is_invalid_argument(store, many, execution_type):
    store.put_executions([pb.Execution(type_id=execution_type) for _ in range(30)])
    _, token = store.list_nodes("artifact", options(10))
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("execution", options(10, token=token))


def test_a_contexts_token_given_to_another_context_is_invalid_argument(store, many, context_type):
    c1, c2 = store.put_contexts([pb.Context(type_id=context_type, name=n) for n in ("one", "two")])
    store.put_attributions_and_associations(
        [pb.Attribution(artifact_id=a, context_id=c) for a in many for c in (c1, c2)], []
    )
    _, token = store.list_nodes("artifact", options(10), context_id=c1)
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("artifact", options(10, token=token), context_id=c2)
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("artifact", options(10, token=token))


def test_a_type_listings_token_given_to_another_type_is_invalid_argument(store, many):
    other = store.put_artifact_type(pb.ArtifactType(name="Other"))
    store.put_artifacts([pb.Artifact(type_id=other) for _ in range(30)])
    _, token = store.list_nodes("artifact", options(10), type_name="Examples")
    with pytest.raises(InvalidArgumentError):
        store.list_nodes("artifact", options(10, token=token), type_name="Other")


def test_rows_written_after_the_first_page_appear_once_at_the_end(store, many, artifact_type):
    first, token = store.list_nodes("artifact", options(100))
    added = store.put_artifacts([pb.Artifact(type_id=artifact_type) for _ in range(5)])
    rest = pages(store, "artifact", options(100, token=token))
    listed = ids(first) + [i for page in rest for i in page]
    assert listed == many + added


def test_rows_written_after_the_first_page_in_create_time_order_appear_once_at_the_end(
    store, many, artifact_type
):
    first, token = store.list_nodes("artifact", options(100, Field.CREATE_TIME))
    tick()
    added = store.put_artifacts([pb.Artifact(type_id=artifact_type) for _ in range(5)])
    rest = pages(store, "artifact", options(100, Field.CREATE_TIME, token=token))
    assert ids(first) + [i for page in rest for i in page] == many + added


# --- filters and scopes ---------------------------------------------------------------------------


def test_filter_query_pages_through_matching_rows_only(store, many):
    matching = many[100:200]  # uris /a/100 … /a/199
    got = pages(store, "artifact", options(30, filter_query="uri LIKE '/a/1%'"))
    assert [len(page) for page in got] == [30, 30, 30, 10]
    assert [i for page in got for i in page] == matching


def test_get_artifacts_with_filter_and_limit(store, many):
    got = store.get_artifacts(
        list_options=ListOptions(limit=15, filter_query="uri LIKE '/a/2%'", is_asc=False)
    )
    assert ids(got) == many[200:250][::-1][:15]


def test_listing_by_type_pages_through_that_type_only(store, many):
    other = store.put_artifact_type(pb.ArtifactType(name="Other"))
    others = store.put_artifacts([pb.Artifact(type_id=other) for _ in range(45)])
    assert [i for page in pages(store, "artifact", options(20), type_name="Other") for i in page] == others
    assert ids(store.get_artifacts_by_type("Other", list_options=ListOptions(limit=5))) == others[:5]
    assert store.list_nodes("artifact", options(20), type_name="Missing") == ([], "")


def test_listing_by_context_pages_through_its_members_only(store, many, context_type):
    [context_id] = store.put_contexts([pb.Context(type_id=context_type, name="run")])
    members = many[::3]
    store.put_attributions_and_associations(
        [pb.Attribution(artifact_id=a, context_id=context_id) for a in members], []
    )
    got = pages(store, "artifact", options(25, Field.CREATE_TIME, is_asc=False), context_id=context_id)
    assert [i for page in got for i in page] == members[::-1]


def test_executions_by_context_newest_first_with_list_options(store, execution_type, context_type):
    [context_id] = store.put_contexts([pb.Context(type_id=context_type, name="run")])
    batches = []
    for _ in range(3):
        batches.append(store.put_executions([pb.Execution(type_id=execution_type) for _ in range(40)]))
        tick()
    members = [e for batch in batches for e in batch]
    store.put_attributions_and_associations(
        [], [pb.Association(execution_id=e, context_id=context_id) for e in members]
    )
    got = store.get_executions_by_context(
        context_id, list_options=ListOptions(order_by=OrderByField.CREATE_TIME, is_asc=False)
    )
    assert ids(got) == members[::-1]
    newest = store.get_executions_by_context(
        context_id, list_options=ListOptions(order_by=OrderByField.CREATE_TIME, is_asc=False, limit=50)
    )
    assert ids(newest) == members[::-1][:50]


def test_contexts_and_executions_page_like_artifacts(store, execution_type, context_type):
    executions = store.put_executions([pb.Execution(type_id=execution_type) for _ in range(130)])
    contexts = store.put_contexts([pb.Context(type_id=context_type, name=f"c{i}") for i in range(130)])
    assert [i for page in pages(store, "execution", options(50)) for i in page] == executions
    assert [i for page in pages(store, "context", options(50, is_asc=False)) for i in page] == contexts[::-1]
    assert ids(store.get_executions()) == executions
    assert ids(store.get_contexts(list_options=ListOptions(limit=101))) == contexts[:101]
