"""Aliases over HTTP: CRUD and its errors, scopes, every collection route through an alias, the reindex job."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.gate import write_topic_beir
from helpers.topics import topic_docs

from latent.auth import ApiKeys

Expect = Callable[..., dict]


@pytest.fixture
def live(client: TestClient, papers: str) -> str:
    """An alias 'live' -> 'papers' (the conftest's corpus)."""
    assert client.put("/v1/aliases/live", json={"collection": papers}).status_code == 200
    return "live"


def test_alias_crud(client: TestClient, papers: str, expect_error: Expect) -> None:
    assert client.get("/v1/aliases").json() == {"data": [], "count": 0}
    client.post("/v1/collections", json={"name": "papers-v2"})
    created = client.put("/v1/aliases/live", json={"collection": "papers"}).json()
    assert (created["name"], created["collection"], created["previous"]) == ("live", "papers", None)
    assert datetime.fromisoformat(created["created_at"]).utcoffset() == timedelta(0)
    switched = client.put("/v1/aliases/live", json={"collection": "papers-v2"}).json()
    assert (switched["collection"], switched["previous"]) == ("papers-v2", "papers")
    assert client.get("/v1/aliases/live").json()["collection"] == "papers-v2"
    listing = client.get("/v1/aliases").json()
    assert listing["count"] == 1 and [a["name"] for a in listing["data"]] == ["live"]
    assert client.delete("/v1/aliases/live").status_code == 204
    expect_error(client.get("/v1/aliases/live"), 404, "alias_not_found")
    expect_error(client.delete("/v1/aliases/live"), 404, "alias_not_found")
    assert client.get("/v1/collections/papers-v2").status_code == 200  # the collection stays


def test_alias_errors(client: TestClient, papers: str, live: str, expect_error: Expect) -> None:
    error = expect_error(client.put("/v1/aliases/papers", json={"collection": "papers"}), 409, "alias_name_taken")
    assert error["details"]["alias"] == "papers"
    expect_error(client.post("/v1/collections", json={"name": "live"}), 409, "alias_exists")
    expect_error(client.put("/v1/aliases/other", json={"collection": "nope"}), 404, "collection_not_found")
    expect_error(client.put("/v1/aliases/bad%20name", json={"collection": "papers"}), 400, "invalid_alias_name")
    expect_error(client.put("/v1/aliases/x", json={"collection": ""}), 422, "validation_error")
    expect_error(client.put("/v1/aliases/x", json={"collection": "papers", "extra": 1}), 422, "validation_error")
    refused = expect_error(client.delete("/v1/collections/papers"), 409, "collection_has_aliases")
    assert refused["details"]["aliases"] == ["live"] and "live" in refused["message"]
    expect_error(client.delete("/v1/collections/live"), 409, "collection_has_aliases")
    client.delete("/v1/aliases/live")
    assert client.delete("/v1/collections/papers").status_code == 204


def test_alias_scopes(client: TestClient, papers: str, expect_error: Expect) -> None:
    keys: ApiKeys = client.app.state.keys  # type: ignore[attr-defined]
    read, write = (keys.create(scope, scope).key for scope in ("read", "write"))

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    body = {"collection": "papers"}
    expect_error(client.put("/v1/aliases/live", json=body), 401, "missing_api_key")
    expect_error(client.put("/v1/aliases/live", json=body, headers=auth(read)), 403, "insufficient_scope")
    assert client.put("/v1/aliases/live", json=body, headers=auth(write)).status_code == 200
    assert client.get("/v1/aliases", headers=auth(read)).json()["count"] == 1
    assert client.get("/v1/aliases/live", headers=auth(read)).status_code == 200
    expect_error(client.get("/v1/aliases/live"), 401, "missing_api_key")
    expect_error(client.delete("/v1/aliases/live", headers=auth(read)), 403, "insufficient_scope")
    assert client.delete("/v1/aliases/live", headers=auth(write)).status_code == 204


# Bodies for the routes that check their body before they open the collection; others get `{}`.
BODIES: dict[str, Any] = {
    "/documents": {"documents": [{"id": "extra-1", "text": "cell protein"}]},
    "/documents/delete": {"ids": ["nothing-here"]},
    "/search": {"query": "protein"},
    "/search/batch": {"queries": ["protein"]},
    "/recommend": {"positive": ["doc-0"]},
    "/neighbors/batch": {"ids": ["doc-0"]},
    "/events": {"document": "doc-0", "kind": "click"},
}
PATH_VALUES = {"doc_id": "doc-1", "user": "u1", "clustering_id": "1", "map_id": "1", "cluster": "0"}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the app that takes a collection name in its path."""
    spec = client.get("/openapi.json").json()
    found = [(m.upper(), p) for p, ops in spec["paths"].items() if "{name}" in p for m in ops]
    return [r for r in found if r != ("DELETE", "/v1/collections/{name}")]  # refused for an alias: tested above


def _call(client: TestClient, method: str, path: str, name: str) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: name if m[1] == "name" else PATH_VALUES[m[1]], path)
    body = next((b for suffix, b in BODIES.items() if path.endswith(suffix)), {})
    return client.request(method, url, json=body if method in ("POST", "PUT") else None)


def test_every_collection_route_accepts_an_alias(client: TestClient, live: str) -> None:
    routes = _routes(client)
    areas = {p.split("/")[4] if p.count("/") > 3 else "collection" for _, p in routes}
    assert {"search", "documents", "recommend", "maps", "clusterings", "vae", "profiles", "reindex"} <= areas
    for method, path in routes:
        missing = _call(client, method, path, "no-such-collection")
        assert missing.status_code == 404, (method, path, missing.text)  # the route does look the name up
        assert missing.json()["error"]["code"] == "collection_not_found", (method, path)
        through_alias = _call(client, method, path, live)
        assert through_alias.status_code < 500, (method, path, through_alias.text)
        if through_alias.status_code == 404:
            assert through_alias.json()["error"]["code"] != "collection_not_found", (method, path)


def _untimed(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "took_ms"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/collections/{}", None),
        ("GET", "/v1/collections/{}/documents", None),
        ("GET", "/v1/collections/{}/documents/doc-3", None),
        ("POST", "/v1/collections/{}/search", {"query": "protein gene", "k": 5}),
        ("POST", "/v1/collections/{}/recommend", {"positive": ["doc-0"], "k": 5}),
        ("GET", "/v1/collections/{}/neighbors/doc-0", None),
        ("GET", "/v1/collections/{}/clusterings", None),
        ("GET", "/v1/collections/{}/maps", None),
        ("GET", "/v1/collections/{}/vae", None),
    ],
)
def test_an_alias_answers_as_its_collection(
    client: TestClient, live: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Same answer through the alias as through the name; responses name the real collection."""
    real = client.request(method, path.format("papers"), json=body)
    aliased = client.request(method, path.format(live), json=body)
    assert real.status_code == aliased.status_code == 200, aliased.text
    assert _untimed(aliased.json()) == _untimed(real.json())
    if "name" in aliased.json():
        assert aliased.json()["name"] == "papers"


def test_writes_through_an_alias_land_in_its_collection(client: TestClient, live: str) -> None:
    docs = {"documents": [{"id": "new-1", "text": "quantum wave"}]}
    assert client.put(f"/v1/collections/{live}/documents", json=docs).status_code == 200
    assert client.get("/v1/collections/papers/documents/new-1").status_code == 200


def test_a_collection_named_in_a_body_may_be_an_alias(client: TestClient, live: str) -> None:
    for path in ("/v1/embed", "/v1/tokenize"):
        real = client.post(path, json={"texts": ["protein gene"], "collection": "papers"})
        aliased = client.post(path, json={"texts": ["protein gene"], "collection": live})
        assert real.status_code == aliased.status_code == 200 and aliased.json() == real.json()


def _topic_collection(client: TestClient, name: str) -> None:
    client.post("/v1/collections", json={"name": name})
    docs = [{"id": d["id"], "title": d["title"], "text": d["text"]} for d in topic_docs()]
    assert client.put(f"/v1/collections/{name}/documents", json={"documents": docs}).status_code == 200


@pytest.mark.parametrize(("model", "decision"), [(None, "switched"), ("fake:2", "kept")])
def test_reindex_job_gates_the_switch(
    client: TestClient, tmp_path: Path, model: str | None, decision: str, expect_error: Expect
) -> None:
    _topic_collection(client, "topics-v1")
    client.put("/v1/aliases/topics", json={"collection": "topics-v1"})
    gate = write_topic_beir(tmp_path / "beir")
    body = {"into": "topics-v2", "gate": str(gate), "alias": "topics", "margin": 0.01, "index": "numpy"}
    if model:
        body["model"] = model
    started = client.post("/v1/collections/topics/reindex", json=body)
    assert started.status_code == 202, started.text
    job = client.app.state.jobs.wait(started.json()["id"], timeout=120)  # type: ignore[attr-defined]
    assert job.status == "succeeded", job.error
    report = job.result
    assert report["decision"] == decision
    assert report["build"]["documents"] == 24 and report["build"]["source"] == "topics-v1"
    gate_result = report["gate"]
    assert gate_result["queries"] == 9 and gate_result["margin"] == 0.01
    target = client.get("/v1/aliases/topics").json()["collection"]
    if decision == "switched":
        assert gate_result["passed"] and gate_result["candidate"] >= gate_result["current"] - 0.01
        assert target == "topics-v2"
    else:
        assert not gate_result["passed"] and gate_result["candidate"] < gate_result["current"] - 0.01
        assert target == "topics-v1" and "dropped" in report["reason"]


def test_reindex_job_checks_its_body_first(
    client: TestClient, papers: str, tmp_path: Path, expect_error: Expect
) -> None:
    url = f"/v1/collections/{papers}/reindex"
    expect_error(client.post(url, json={"into": "p2", "gate": str(tmp_path)}), 400, "invalid_beir_folder")
    expect_error(client.post(url, json={"into": "p2", "alias": "papers"}), 409, "alias_name_taken")
    expect_error(client.post(url, json={"into": "p2", "margin": 2}), 422, "validation_error")
    expect_error(client.post(url, json={"into": "p2", "mode": "fuzzy"}), 422, "validation_error")
    expect_error(client.post("/v1/collections/nope/reindex", json={"into": "p2"}), 404, "collection_not_found")
