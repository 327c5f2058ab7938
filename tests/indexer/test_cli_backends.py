"""`latent index/search --backend …` end to end for every accelerated backend: same answers as torch."""

from __future__ import annotations

import pytest
from helpers import cli
from helpers.corpora import TOPIC_QUERIES, TOPIC_SENTENCES, write_jsonl

TOPICS, QUERIES = TOPIC_SENTENCES, TOPIC_QUERIES


@pytest.fixture
def corpus(tmp_path):
    return write_jsonl(tmp_path / "docs.jsonl", [{"id": i, "text": t} for i, t in TOPICS])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"])
def test_index_and_search_with_backend(backend, corpus, tmp_path, capsys, monkeypatch, model_cache, small_calibration):
    monkeypatch.setenv("LATENT_MODEL_CACHE", str(model_cache))

    def latent(*args):
        return cli.invoke(
            capsys, monkeypatch, "--home", tmp_path / "home", "--model", "all-MiniLM-L6-v2", "--backend", backend, *args
        )

    indexed = latent("index", corpus, "-c", "docs", "-q", "--json")
    assert indexed.code == 0, indexed.err
    assert indexed.json()["indexed"] == len(TOPICS)
    (entry,) = latent("collections", "--json").json()
    assert entry["backend"] == backend and entry["dimension"] == 384
    for expected, query in QUERIES.items():
        found = latent("search", query, "-c", "docs", "-k", "3", "--json")
        assert found.code == 0, found.err
        assert found.json()["hits"][0]["id"] == expected, (backend, query, found.json()["hits"])
    assert latent("check", "--json").code == 0
