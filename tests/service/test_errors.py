"""Every kind of error comes back in the one envelope with the right status; bad input is never a 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from latent_client import LatentClient, LatentHTTPError

from latent.config import Settings, get_settings
from latent.errors import Conflict
from service.main import create_app

SEARCH = "/v1/collections/papers/search"


@pytest.fixture
def small_body_client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(max_body_bytes=2048))) as client:
        client.post("/v1/collections", json={"name": "papers"})
        yield client


@pytest.fixture
def crashing_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("secret internals")

    def conflict() -> None:
        raise Conflict("two writers disagree", code="write_conflict", details={"id": "a"})

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    app.add_api_route("/v1/conflict", conflict, methods=["GET"])
    return app


# ----- each error kind ------------------------------------------------------------------------------
def test_domain_error(client: TestClient, expect_error: Callable[..., dict]) -> None:
    error = expect_error(client.get("/v1/collections/ghost"), 404, "collection_not_found")
    assert error["details"] == {"collection": "ghost"} and "ghost" in error["message"]


def test_conflict(crashing_app: FastAPI, expect_error: Callable[..., dict]) -> None:
    with TestClient(crashing_app) as client:
        assert expect_error(client.get("/v1/conflict"), 409, "write_conflict")["details"] == {"id": "a"}


def test_validation_error_lists_every_problem(
    client: TestClient, papers: str, expect_error: Callable[..., dict]
) -> None:
    response = client.post(SEARCH, json={"query": "x", "k": "many", "mode": "fuzzy"})
    error = expect_error(response, 422, "validation_error")
    assert {tuple(e["loc"]) for e in error["details"]["errors"]} == {("body", "k"), ("body", "mode")}
    assert "and 1 more" in error["message"]


def test_malformed_json(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    response = client.post(SEARCH, content=b'{"query": "x",', headers={"content-type": "application/json"})
    assert "not valid JSON" in expect_error(response, 400, "invalid_json")["message"]


def test_unknown_route_and_method(client: TestClient, expect_error: Callable[..., dict]) -> None:
    assert "/v2/nothing" in expect_error(client.get("/v2/nothing"), 404, "not_found")["message"]
    expect_error(client.patch("/v1/collections"), 405, "method_not_allowed")


def test_body_too_large(small_body_client: TestClient, expect_error: Callable[..., dict]) -> None:
    big = {"query": "x" * 4096}
    error = expect_error(small_body_client.post(SEARCH, json=big), 413, "body_too_large")
    assert error["details"] == {"max_bytes": 2048}


def test_body_too_large_without_content_length(
    small_body_client: TestClient, expect_error: Callable[..., dict]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    response = small_body_client.post(SEARCH, content=chunks(), headers={"content-type": "application/json"})
    expect_error(response, 413, "body_too_large")
    assert small_body_client.post(SEARCH, json={"query": "x"}).status_code == 200  # the server is fine after


def test_unexpected_error_has_request_id(
    crashing_app: FastAPI, expect_error: Callable[..., dict], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="latent.service"), TestClient(crashing_app) as client:
        response = client.get("/v1/boom")
        error = expect_error(response, 500, "internal_error")
        request_id = response.headers["x-request-id"]
        assert error["details"] == {"request_id": request_id} and request_id in error["message"]
        assert "secret internals" not in response.text
        assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
        given = client.get("/v1/boom", headers={"X-Request-ID": "trace-42"})
        assert given.json()["error"]["details"]["request_id"] == "trace-42"
        assert 'status="500"' in client.get("/metrics").text


def test_every_response_has_request_id(client: TestClient) -> None:
    assert client.get("/healthz").headers["x-request-id"]
    assert client.get("/v1/collections/ghost").headers["x-request-id"]


def test_client_raises_typed_error(api: LatentClient) -> None:
    with pytest.raises(LatentHTTPError) as info:
        api.get_collection("ghost")
    assert (info.value.status, info.value.code, info.value.details) == (
        404,
        "collection_not_found",
        {"collection": "ghost"},
    )


# ----- the bad-input list of the issue: all 4xx, all in the envelope -----------------------------------
BAD_SEARCHES = {
    "wrong type for k": ({"query": "x", "k": "ten"}, 422, "validation_error"),
    "wrong type for filter": ({"query": "x", "filter": "year > 2000"}, 422, "validation_error"),
    "wrong type for query": ({"query": ["x"]}, 422, "validation_error"),
    "unknown field": ({"query": "x", "fliter": {}}, 422, "validation_error"),
    "k=0": ({"query": "x", "k": 0}, 400, "invalid_k"),
    "k=10^6": ({"query": "x", "k": 10**6}, 400, "invalid_k"),
    "negative offset": ({"query": "x", "offset": -1}, 400, "invalid_offset"),
    "unknown filter operator": (
        {"query": "x", "filter": {"year": {"$regex": "19.*"}}},
        400,
        "invalid_filter",
    ),
    "unknown logical operator": ({"query": "x", "filter": {"$xor": [{"a": 1}]}}, 400, "invalid_filter"),
    "empty query": ({"query": ""}, 400, "empty_query"),
    "blank query": ({"query": "   "}, 400, "empty_query"),
    "query too long": ({"query": "x" * 10_001}, 400, "query_too_long"),
    "unknown mode": ({"query": "x", "mode": "fuzzy"}, 422, "validation_error"),
    "negative weight": ({"query": "x", "mode": "hybrid", "weights": {"dense": -1}}, 422, "validation_error"),
    "NaN vector": ({"vector": [float("nan")] * 64}, 400, "invalid_vector"),
}


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the read-only bad-input cases (a fresh store per case would only add set-up time)."""
    settings = get_settings(home=tmp_path_factory.mktemp("bad-input"), model="fake")
    with TestClient(create_app(settings)) as client:
        client.post("/v1/collections", json={"name": "papers"})
        client.put("/v1/collections/papers/documents", json={"documents": [{"id": "a", "text": "some text"}]})
        yield client


@pytest.mark.parametrize("case", BAD_SEARCHES)
def test_bad_search_input(shared_client: TestClient, expect_error: Callable[..., dict], case: str) -> None:
    body, status, code = BAD_SEARCHES[case]
    content = json.dumps(body, allow_nan=True).encode()
    response = shared_client.post(SEARCH, content=content, headers={"content-type": "application/json"})
    expect_error(response, status, code)


def test_filter_too_deep(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    deep: dict = {"topic": "biology"}
    for _ in range(12):
        deep = {"$not": deep}
    error = expect_error(client.post(SEARCH, json={"query": "x", "filter": deep}), 400, "invalid_filter")
    assert "deeper" in error["message"]


def test_unknown_collection_and_id(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    expect_error(client.post("/v1/collections/ghost/search", json={"query": "x"}), 404, "collection_not_found")
    expect_error(client.get("/v1/collections/papers/documents/ghost"), 404, "document_not_found")
    expect_error(client.get("/v1/collections/ghost/neighbors/doc-1"), 404, "collection_not_found")


def test_non_object_bodies(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    for content in (b"[]", b"42", b'"query"', b"null"):
        response = client.post(SEARCH, content=content, headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), content
        assert set(response.json()) == {"error"}
