"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_model(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "model": "fake", "dimension": 64}


def test_metrics_count_requests_by_route_template(client: TestClient, papers: str) -> None:
    for i in range(3):
        client.get(f"/v1/collections/{papers}/documents/doc-{i}")
    client.get("/v1/collections/nope")
    text = client.get("/metrics").text
    route = "/v1/collections/{name}/documents/{doc_id}"
    assert f'latent_http_requests_total{{method="GET",route="{route}",status="200"}} 3.0' in text
    assert 'latent_http_requests_total{method="GET",route="/v1/collections/{name}",status="404"} 1.0' in text
    assert 'latent_http_request_duration_seconds_bucket{le="0.001",method="PUT"' in text
    assert 'latent_documents{collection="papers"} 24.0' in text
    assert 'latent_vectors{collection="papers"} 24.0' in text
    assert "doc-1" not in text  # raw paths never become labels


def test_unmatched_routes_share_one_label(client: TestClient) -> None:
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    assert 'route="unmatched",status="404"} 2.0' in client.get("/metrics").text


def test_openapi_operation_ids(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)) and all("-" in i for i in ids)  # unique, all `{tag}-{name}`
    assert {
        "health-healthz",
        "health-readyz",
        "health-metrics",
        "collections-list",
        "collections-create",
        "collections-get",
        "collections-delete",
        "documents-upsert",
        "documents-list",
        "documents-get",
        "documents-delete",
        "documents-delete_many",
        "search-search",
        "search-search_batch",
        "search-neighbors",
        "embed-embed",
        "embed-tokenize",
    } <= set(ids)
    search = spec["paths"]["/v1/collections/{name}/search"]["post"]
    assert search["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert client.get("/docs").status_code == 200
