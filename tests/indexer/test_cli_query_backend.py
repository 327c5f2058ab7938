"""`latent --query-backend …`: index with torch fp32, query with an int8 backend, same answers and the
measured agreement on the collection's endpoint."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from helpers import cli
from helpers.corpora import TOPIC_QUERIES, TOPIC_SENTENCES, write_jsonl

from latent.config import get_settings
from service.main import create_app

MODEL = "all-MiniLM-L6-v2"
TOPICS, QUERIES = TOPIC_SENTENCES, TOPIC_QUERIES


@pytest.mark.slow
@pytest.mark.parametrize("query_backend", ["onnx-int8", "openvino-int8"])
def test_torch_collection_answers_int8_queries(
    query_backend, tmp_path, capsys, monkeypatch, model_cache, small_calibration
):
    monkeypatch.setenv("LATENT_MODEL_CACHE", str(model_cache))
    home = tmp_path / "home"
    corpus = write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in TOPICS])

    def latent(*args):
        return cli.invoke(capsys, monkeypatch, "--home", home, "--model", MODEL, *args)

    indexed = latent("--backend", "torch", "index", corpus, "-c", "docs", "-q", "--json")
    assert indexed.code == 0, indexed.err
    scores = {}
    for expected, query in QUERIES.items():
        plain = latent("search", query, "-c", "docs", "-k", "3", "--json")
        fast = latent("--query-backend", query_backend, "search", query, "-c", "docs", "-k", "3", "--json")
        assert plain.code == 0 and fast.code == 0, (plain.err, fast.err)
        assert [h["id"] for h in fast.json()["hits"]][:1] == [expected]
        assert [h["id"] for h in plain.json()["hits"]][:1] == [expected]
        scores[query] = [h["score"] for h in plain.json()["hits"]], [h["score"] for h in fast.json()["hits"]]
    assert any(p != f for p, f in scores.values())  # the queries really went through the other backend
    (entry,) = latent("collections", "--json").json()
    assert entry["backend"] == "torch"  # the collection keeps the backend it was built with

    settings = get_settings(home=home, model=MODEL, query_backend=query_backend)
    with TestClient(create_app(settings)) as client:
        info = client.get("/v1/collections/docs").json()
    assert info["backend"] == "torch" and info["query_backend"] == query_backend
    agreement = info["backend_agreement"]
    assert agreement["reference"] == "torch" and agreement["candidate"] == query_backend
    assert agreement["sample"] == len(TOPICS) and agreement["mean_cosine"] >= 0.99


@pytest.mark.slow
def test_query_backend_that_disagrees_fails_the_search(tmp_path, capsys, monkeypatch, model_cache):
    monkeypatch.setenv("LATENT_MODEL_CACHE", str(model_cache))
    corpus = write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in TOPICS])

    def latent(*args):
        return cli.invoke(capsys, monkeypatch, "--home", tmp_path / "home", "--model", MODEL, *args)

    assert latent("index", corpus, "-c", "docs", "-q").code == 0
    monkeypatch.setenv("LATENT_QUERY_BACKEND_MIN_COSINE", "1.0")  # int8 never reproduces fp32 exactly
    refused = latent("--query-backend", "onnx-int8", "search", "treatment for malaria", "-c", "docs")
    assert refused.code == 1 and "disagrees" in refused.err and "onnx-int8" in refused.err
