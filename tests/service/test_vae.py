"""The VAE over HTTP: train a tiny model as a job on a built corpus, then every operation and its errors."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from latent.config import get_settings
from latent.store.feature_models import SyntheticPointRow
from service.main import create_app

TOPICS = {
    "A": "apple banana cherry grape mango melon peach pear plum lemon",
    "B": "engine piston gear wheel brake clutch axle valve pump rotor",
    "C": "violin cello piano flute oboe harp drum tuba horn lute",
}
FLAG_WORDS = "red shiny bright vivid"
PER_TOPIC = 20
PARAMS = {
    "latent_dim": 8,
    "hidden_dim": 64,
    "epochs": 80,
    "batch_size": 16,
    "kl_warmup_epochs": 10,
    "prior": "mixture",
    "prior_components": 3,
    "random_state": 0,
}
BASE = "/v1/collections/vae"


def build_corpus() -> list[dict[str, Any]]:
    """20 documents per topic from its own words; every other one is flagged and also uses FLAG_WORDS."""
    rng = random.Random(7)
    docs = []
    for name, words in TOPICS.items():
        for i in range(PER_TOPIC):
            flagged = i % 2 == 1
            text = " ".join(rng.sample(words.split(), 6))
            if flagged:
                text += " " + " ".join(rng.sample(FLAG_WORDS.split(), 3))
            docs.append(
                {
                    "id": f"{name}{i}",
                    "title": f"{name} {i}",
                    "text": text,
                    "metadata": {"topic": name, "flag": flagged},
                }
            )
    return docs


FLAGGED = {d["id"] for d in build_corpus() if d["metadata"]["flag"]}


def wait(client: TestClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("vae-home")
    with TestClient(create_app(get_settings(home=home, model="fake"))) as c:
        assert c.post("/v1/collections", json={"name": "vae"}).status_code == 201
        assert c.put(f"{BASE}/documents", json={"documents": build_corpus()}).status_code in (200, 201)
        yield c


@pytest.fixture(scope="module")
def trained(client: TestClient) -> dict[str, Any]:
    """Trains once for the module (409 checked first, while no model exists)."""
    r = client.post(f"{BASE}/vae/sample", json={"n": 2})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "vae_not_trained"
    assert "POST /v1/collections/vae/vae" in error["message"] and "latent train-vae" in error["message"]
    r = client.post(f"{BASE}/vae", json=PARAMS)  # typed top-level fields
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "vae" and job["progress"] == 1.0 and isinstance(job["result"]["model_id"], int)
    return job


def post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"{BASE}/vae/{path}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_training_job_records_a_model_with_metrics(client: TestClient, trained: dict[str, Any]) -> None:
    listing = client.get(f"{BASE}/vae").json()
    assert listing["count"] == 1
    model = listing["data"][0]
    assert model["id"] == trained["result"]["model_id"]
    assert model["params"]["latent_dim"] == 8
    m = model["metrics"]
    assert m["val_recon_cosine"] > 0.7
    assert m["active_units"] >= 1 and 0 <= m["self_retrieval_top1"] <= 1
    assert 0 < m["real_mean_pairwise_cosine"] < 1


def test_encode_and_decode_round_trip(client: TestClient, trained: dict[str, Any]) -> None:
    enc = post(client, "encode", {"ids": ["A0", "B0"]})
    assert len(enc["mu"]) == 2 and len(enc["mu"][0]) == 8 and all(s > 0 for s in enc["sigma"][0])
    dec = post(client, "decode", {"z": enc["mu"]})
    assert len(dec["vectors"]) == 2 and len(dec["vectors"][0]) == 64
    by_text = post(client, "encode", {"texts": ["apple banana cherry"]})
    assert len(by_text["mu"]) == 1


@pytest.mark.parametrize("method", ["slerp", "lerp"])
def test_interpolation_ends_land_nearest_their_endpoints(
    client: TestClient, trained: dict[str, Any], method: str
) -> None:
    body = post(client, "interpolate", {"start": "A0", "end": {"id": "C2"}, "steps": 5, "method": method})
    steps = body["steps"]
    assert [s["t"] for s in steps] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert steps[0]["neighbors"][0]["id"] == "A0"
    assert steps[-1]["neighbors"][0]["id"] == "C2"
    for s in steps:
        assert set(s) >= {"neighbors", "novelty", "plausibility"} and "vector" not in s
        assert s["novelty"] == pytest.approx(1 - s["neighbors"][0]["cosine"], abs=1e-6)
        assert 0 <= s["plausibility"]["percentile"] <= 100


def test_sampling_with_a_seed_is_reproducible_and_reports_diversity(
    client: TestClient, trained: dict[str, Any]
) -> None:
    a = post(client, "sample", {"n": 6, "seed": 11, "with_vector": True})
    b = post(client, "sample", {"n": 6, "seed": 11, "with_vector": True})
    c = post(client, "sample", {"n": 6, "seed": 12, "with_vector": True})
    assert [s["vector"] for s in a["samples"]] == [s["vector"] for s in b["samples"]]
    assert [s["vector"] for s in a["samples"]] != [s["vector"] for s in c["samples"]]
    d = a["diversity"]
    assert -1 <= d["mean_pairwise_cosine"] < 1 and d["real_mean_pairwise_cosine"] is not None
    assert d["clusters_touched"] is None  # no clustering exists in this collection
    around = post(client, "sample", {"n": 4, "seed": 1, "anchor": {"id": "B3"}, "temperature": 0.2})
    assert all(s["neighbors"][0]["id"].startswith("B") for s in around["samples"])


def _flagged_share(point: dict[str, Any]) -> float:
    return sum(n["id"] in FLAGGED for n in point["neighbors"]) / len(point["neighbors"])


def test_arithmetic_with_an_attribute_direction_moves_towards_it(client: TestClient, trained: dict[str, Any]) -> None:
    plain = post(client, "arithmetic", {"terms": [{"sign": 1, "id": "A0"}], "k": 10})
    moved = post(
        client,
        "arithmetic",
        {"terms": [{"sign": 1, "id": "A0"}, {"sign": 1, "weight": 2, "filter": {"flag": True}}], "k": 10},
    )
    away = post(
        client,
        "arithmetic",
        {"terms": [{"sign": 1, "id": "A1"}, {"sign": -1, "weight": 2, "filter": {"flag": True}}], "k": 10},
    )
    assert _flagged_share(moved) > _flagged_share(plain)
    assert _flagged_share(away) < 0.5
    assert moved["neighbors"][0]["id"].startswith("A")  # the topic is kept


def test_bridge_is_an_ordered_path_between_the_endpoints(client: TestClient, trained: dict[str, Any]) -> None:
    path = post(client, "bridge", {"start": "A4", "end": "B6", "k": 6})["path"]
    assert path[0]["id"] == "A4" and path[-1]["id"] == "B6"
    assert 2 <= len(path) <= 6
    ts = [p["t"] for p in path]
    assert ts == sorted(ts) and len({p["id"] for p in path}) == len(path)
    text = post(client, "bridge", {"start": {"text": "violin cello piano"}, "end": {"text": "engine gear"}, "k": 4})
    assert text["path"][0]["id"].startswith("C") and text["path"][-1]["id"].startswith("B")


def test_save_stores_synthetic_points_not_mixed_into_search(client: TestClient, trained: dict[str, Any]) -> None:
    body = post(client, "sample", {"n": 3, "seed": 5, "save": True})
    ids = [s["synthetic_id"] for s in body["samples"]]
    assert len(set(ids)) == 3
    hits = client.post(f"{BASE}/search", json={"query": "apple", "k": 100}).json()["hits"]
    assert len(hits) == 3 * PER_TOPIC


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("interpolate", {"start": "A0", "end": "nope", "steps": 5}, 404, "document_not_found"),
        ("interpolate", {"start": "A0", "end": "B0", "steps": 0}, 422, "validation_error"),  # bounded body
        ("interpolate", {"start": "A0", "end": "B0", "steps": 1000}, 422, "validation_error"),
        ("interpolate", {"start": "A0", "end": {"vector": [0.1, 0.2]}}, 400, "dimension_mismatch"),
        ("interpolate", {"start": "A0", "end": {"id": "B0", "text": "x"}}, 400, "invalid_input"),
        ("interpolate", {"start": "A0", "end": "B0", "model": 999}, 404, "vae_model_not_found"),
        ("decode", {"z": [[0.0, 1.0]]}, 400, "dimension_mismatch"),
        ("encode", {"vectors": [[1.0] * 3]}, 400, "dimension_mismatch"),
        ("encode", {"ids": ["A0"], "texts": ["x"]}, 400, "invalid_input"),
        ("sample", {"n": 0}, 422, "validation_error"),
        ("sample", {"n": 100000}, 422, "validation_error"),
        ("sample", {"n": 2, "temperature": 11}, 422, "validation_error"),
        ("arithmetic", {"terms": []}, 400, "invalid_input"),
        ("arithmetic", {"terms": [{"sign": 1, "filter": {"topic": "Z"}}]}, 400, "invalid_filter"),
        ("bridge", {"start": "A0", "end": "B0", "k": 0}, 422, "validation_error"),
    ],
)
def test_bad_input_is_a_4xx_in_the_envelope(
    client: TestClient,
    trained: dict[str, Any],
    expect_error,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    expect_error(client.post(f"{BASE}/vae/{path}", json=body), status, code)


def test_ids_of_another_collection_do_not_exist_here(client: TestClient, trained: dict[str, Any], expect_error) -> None:
    assert client.post("/v1/collections", json={"name": "other"}).status_code == 201
    client.put("/v1/collections/other/documents", json={"documents": [{"id": "X1", "text": "apple violin"}]})
    err = expect_error(
        client.post(f"{BASE}/vae/interpolate", json={"start": "A0", "end": "X1"}), 404, "document_not_found"
    )
    assert err["details"]["ids"] == ["X1"]
    expect_error(client.post("/v1/collections/other/vae/sample", json={"n": 2}), 409, "vae_not_trained")


def test_bad_training_params_fail_the_request_not_the_job(client: TestClient, expect_error) -> None:
    expect_error(client.post(f"{BASE}/vae", json={"latent_dim": 0}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/vae", json={"dropout": 0.99}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/vae", json={"prior": "uniform"}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/vae", json={"nope": 1}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/vae", json={"params": {"epochs": 3}}), 422, "validation_error")  # old shape
    expect_error(client.post("/v1/collections/missing/vae", json={}), 404, "collection_not_found")


def test_training_body_is_typed_with_bounds_and_descriptions(client: TestClient) -> None:
    """Every trainer parameter is a top-level field of POST …/vae, bounded and described in the OpenAPI."""
    from latent.vae.runs import TRAINABLE

    schema = client.get("/openapi.json").json()["components"]["schemas"]["VaeCreate"]
    assert set(schema["properties"]) == set(TRAINABLE)
    assert schema["additionalProperties"] is False
    for name, field in schema["properties"].items():
        assert field.get("description"), name
        if name == "prior":
            continue
        numeric = field if "type" in field else next(f for f in field["anyOf"] if f["type"] != "null")
        assert "minimum" in numeric and "maximum" in numeric, name
    assert schema["properties"]["epochs"]["default"] == 100


@pytest.mark.parametrize("path", ["sample", "interpolate", "arithmetic"])
def test_save_needs_a_write_key(client: TestClient, trained: dict[str, Any], expect_error, path: str) -> None:
    """A read key may generate but not keep: `save: true` writes, so it needs the write scope."""
    body = {
        "sample": {"n": 2, "seed": 1},
        "interpolate": {"start": "A0", "end": "B0", "steps": 3},
        "arithmetic": {"terms": [{"id": "A0"}, {"id": "B0", "sign": -1}]},
    }[path]
    keys = client.app.state.keys  # type: ignore[attr-defined]
    read, write = keys.create("read", "vae read").key, keys.create("write", "vae write").key
    try:
        with client.app.state.store.sessions() as s:  # type: ignore[attr-defined]
            before = s.scalar(select(func.count()).select_from(SyntheticPointRow))
        url = f"{BASE}/vae/{path}"
        as_read = {"Authorization": f"Bearer {read}"}
        assert client.post(url, json=body, headers=as_read).status_code == 200  # reading is fine
        refused = client.post(url, json={**body, "save": True}, headers=as_read)
        error = expect_error(refused, 403, "insufficient_scope")
        assert error["details"] == {"scope": "read", "required": "write"}
        with client.app.state.store.sessions() as s:  # type: ignore[attr-defined]
            assert s.scalar(select(func.count()).select_from(SyntheticPointRow)) == before  # nothing written
        saved = client.post(url, json={**body, "save": True}, headers={"Authorization": f"Bearer {write}"})
        assert saved.status_code == 200, saved.text
    finally:
        for key in (read, write):
            keys.revoke(key)
