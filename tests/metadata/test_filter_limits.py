"""filter_query limits: deep nesting and long texts are INVALID_ARGUMENT with the limit, long flat chains work.

On the Store (SQLite and PostgreSQL), over gRPC and over REST (one `mlineage serve`).
What MLMD 1.17 answers on SQLite, for comparison: it takes ``(`` x 2,000, flat
chains of up to 997 terms, alternating AND/OR up to 87 levels, ``NOT`` up to 44;
deeper it answers INTERNAL ("parser stack overflow"). mlineage takes all of that,
and up to FILTER_MAX_DEPTH levels of any shape; deeper is INVALID_ARGUMENT.
"""

from __future__ import annotations

import grpc
import httpx
import pytest
from grpc_server import mlineage_server

from mlineage import ListOptions
from mlineage.errors import InvalidArgumentError
from mlineage.metadata.limits import FILTER_MAX_DEPTH, FILTER_MAX_LENGTH
from mlineage.proto import metadata_store_pb2 as pb
from mlineage.proto import metadata_store_service_pb2 as svc

# --------------------------------------------------------------------------- queries
# Three artifacts with ids 1, 2, 3; "id > 0" holds for all, "id > 5" for none.


def nots(count: int) -> str:
    return "NOT " * count + "id > 5"  # an even count selects nothing, an odd one everything


def parens(count: int) -> str:
    return "(" * count + "id > 1" + ")" * count


def and_chain(count: int) -> str:
    return " AND ".join(f"id > {-i}" for i in range(count))  # every node


def or_chain(count: int) -> str:
    return " OR ".join(f"id = {i + 3}" for i in range(count))  # id 3 only


def left_nested(levels: int) -> str:
    """((id > 0 OR id > 0) AND id > 0) OR ...: `levels` levels, every node."""
    query = "id > 0"
    for level in range(levels):
        query = f"({query}) {'AND' if level % 2 else 'OR'} id > 0"
    return query


def right_nested(levels: int) -> str:
    """id = 2 OR (id > 0 AND (id = 2 OR ...)): `levels` levels, id 2 only."""
    query = "id = 2"
    for level in range(levels):
        query = f"id > 0 AND ({query})" if level % 2 else f"id = 2 OR ({query})"
    return query


def not_and(pairs: int) -> str:
    """NOT (id > 5 AND NOT (id > 5 AND ... id > 5)): 2 x `pairs` levels."""
    return "NOT (id > 5 AND " * pairs + "id > 5" + ")" * pairs  # every node


ALL, NONE = [1, 2, 3], []
# (query, the ids it selects): all accepted.
ACCEPTED = {
    "1,000 parentheses": (parens(1000), [2, 3]),
    "1,000 ANDed terms": (and_chain(1000), ALL),
    "1,000 ORed terms": (or_chain(1000), [3]),
    "NOT at the depth limit": (nots(FILTER_MAX_DEPTH), NONE),
    "left-nested AND/OR at the limit": (left_nested(FILTER_MAX_DEPTH), ALL),
    "right-nested AND/OR at the limit": (right_nested(FILTER_MAX_DEPTH), [2]),
    "NOT and AND at the limit": (not_and(FILTER_MAX_DEPTH // 2), ALL),
}
# Each one level too deep.
TOO_DEEP = {
    "1,000 NOTs": nots(1000),
    "NOT past the limit": nots(FILTER_MAX_DEPTH + 1),
    "left-nested past the limit": left_nested(FILTER_MAX_DEPTH + 1),
    "right-nested past the limit": right_nested(FILTER_MAX_DEPTH + 1),
    "NOT and AND past the limit": not_and(FILTER_MAX_DEPTH // 2 + 1),
}
TOO_LONG = "uri = '" + "x" * FILTER_MAX_LENGTH + "'"


def test_the_limits_are_the_documented_ones():
    assert FILTER_MAX_DEPTH == 100
    assert FILTER_MAX_LENGTH == 4 * 1024 * 1024


def _three_artifacts(store) -> None:
    type_id = store.put_artifact_type(pb.ArtifactType(name="Limits"))
    ids = store.put_artifacts([pb.Artifact(type_id=type_id, uri=f"/l/{i}") for i in range(3)])
    assert ids == [1, 2, 3]


def _ids(store, query: str) -> list[int]:
    return sorted(a.id for a in store.get_artifacts(list_options=ListOptions(filter_query=query)))


# --------------------------------------------------------------------------- the store


@pytest.mark.parametrize("name", ACCEPTED)
def test_store_answers_long_chains_and_nesting_up_to_the_limit(store, name):
    _three_artifacts(store)
    query, expected = ACCEPTED[name]
    assert _ids(store, query) == expected


@pytest.mark.parametrize("name", TOO_DEEP)
def test_store_refuses_nesting_past_the_limit(store, name):
    _three_artifacts(store)
    with pytest.raises(InvalidArgumentError, match=f"nested more than {FILTER_MAX_DEPTH} levels") as failure:
        _ids(store, TOO_DEEP[name])
    assert "recursion" not in str(failure.value)


def test_store_refuses_a_text_past_the_length_limit(store):
    _three_artifacts(store)
    with pytest.raises(InvalidArgumentError, match=f"longer than {FILTER_MAX_LENGTH} characters"):
        _ids(store, TOO_LONG)
    assert _ids(store, TOO_LONG[: FILTER_MAX_LENGTH - 1] + "'") == []  # one under the limit is answered


def test_lineage_starting_filter_has_the_same_limit(store):
    _three_artifacts(store)
    options = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=nots(1000)),
        max_num_hops=1,
    )
    with pytest.raises(InvalidArgumentError, match=f"nested more than {FILTER_MAX_DEPTH} levels"):
        store.get_lineage_subgraph(options)
    options.starting_artifacts.filter_query = and_chain(1000)
    assert len(store.get_lineage_subgraph(options).artifacts) == 3


# --------------------------------------------------------------------------- gRPC and REST


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlineage_server(tmp_path_factory.mktemp("filter-limits"), http=True) as running:
        with grpc.insecure_channel(running.target) as channel:
            put_type = channel.unary_unary(
                "/ml_metadata.MetadataStoreService/PutArtifactType",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=svc.PutArtifactTypeResponse.FromString,
            )
            put = channel.unary_unary(
                "/ml_metadata.MetadataStoreService/PutArtifacts",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=svc.PutArtifactsResponse.FromString,
            )
            type_id = put_type(
                svc.PutArtifactTypeRequest(artifact_type=pb.ArtifactType(name="Limits"))
            ).type_id
            artifacts = [pb.Artifact(type_id=type_id, uri=f"/l/{i}") for i in range(3)]
            assert list(put(svc.PutArtifactsRequest(artifacts=artifacts)).artifact_ids) == [1, 2, 3]
        yield running


def _grpc_ids(server, query: str) -> list[int]:
    with grpc.insecure_channel(server.target) as channel:
        get = channel.unary_unary(
            "/ml_metadata.MetadataStoreService/GetArtifacts",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=svc.GetArtifactsResponse.FromString,
        )
        request = svc.GetArtifactsRequest(options=pb.ListOperationOptions(filter_query=query))
        return sorted(a.id for a in get(request, timeout=30).artifacts)


@pytest.mark.parametrize(
    "name", ["1,000 ANDed terms", "1,000 parentheses", "right-nested AND/OR at the limit"]
)
def test_grpc_answers_what_mlmd_answers(server, name):
    query, expected = ACCEPTED[name]
    assert _grpc_ids(server, query) == expected


@pytest.mark.parametrize("query", [nots(1000), right_nested(FILTER_MAX_DEPTH + 1)], ids=["not", "nested"])
def test_grpc_refuses_deep_nesting_with_invalid_argument(server, query):
    with pytest.raises(grpc.RpcError) as failure:
        _grpc_ids(server, query)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"nested more than {FILTER_MAX_DEPTH} levels" in failure.value.details()


def _rest(server, query: str) -> httpx.Response:
    url = f"http://{server.host}:{server.http_port}/api/v1/artifacts"
    return httpx.get(url, params={"filter": query}, timeout=30)


def test_rest_answers_long_chains(server):
    response = _rest(server, and_chain(1000))
    assert response.status_code == 200, response.text
    assert sorted(int(a["id"]) for a in response.json()["artifacts"]) == ALL


@pytest.mark.parametrize("query", [nots(1000), left_nested(FILTER_MAX_DEPTH + 1)], ids=["not", "nested"])
def test_rest_refuses_deep_nesting_with_400(server, query):
    response = _rest(server, query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "INVALID_ARGUMENT"
    assert f"nested more than {FILTER_MAX_DEPTH} levels" in body["message"]
    assert "recursion" not in body["message"] and "Traceback" not in body["message"]
