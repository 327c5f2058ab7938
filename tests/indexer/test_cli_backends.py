"""`latent index/search --backend …` end to end for every accelerated backend: same answers as torch."""

from __future__ import annotations

import pytest
from helpers import cli
from helpers.corpora import write_jsonl

TOPICS = [
    ("heart", "Statins lower LDL cholesterol and reduce the risk of heart attacks in adults."),
    ("sleep", "Short sleep duration is associated with impaired memory consolidation in students."),
    ("malaria", "Artemisinin combination therapy clears Plasmodium falciparum parasites from the blood."),
    ("gut", "Gut microbiota composition shifts after a course of broad-spectrum antibiotics."),
    ("bones", "Vitamin D and calcium supplements slow bone loss in postmenopausal women."),
    ("vaccine", "The measles vaccine induces long-lasting neutralising antibodies in children."),
    ("python", "Python lists are mutable sequences that grow when elements are appended."),
    ("tides", "Ocean tides are driven by the gravitational pull of the moon and the sun."),
]
QUERIES = {
    "heart": "drugs that prevent myocardial infarction",
    "malaria": "treatment for malaria infection",
    "python": "appending items to a list in a programming language",
    "tides": "why does the sea level rise and fall every day",
}


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
