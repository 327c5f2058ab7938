"""Retrieval metrics against hand-computed cases, BEIR folder loading, and `latent eval` end to end."""

from __future__ import annotations

import math

import pytest
from helpers.cli import invoke
from helpers.corpora import BEIR_CORPUS, write_beir

from latent.errors import InvalidInput
from latent.evaluation import load_beir, mrr_at, ndcg_at, recall_at, run_queries, score_run


def test_ndcg_with_graded_relevance():
    rel = {"a": 1, "c": 2, "d": 3, "z": 0}
    # DCG = 1/log2(2) + 0 + 2/log2(4) = 2; ideal gains 3, 2, 1: 3 + 2/log2(3) + 1/2.
    idcg = 3 + 2 / math.log2(3) + 0.5
    assert ndcg_at(["a", "b", "c"], rel, 3) == pytest.approx(2 / idcg)
    assert ndcg_at(["d", "c", "a"], rel, 3) == pytest.approx(1.0)
    assert ndcg_at(["d", "c", "a"], rel, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], rel, 10) == 0.0
    assert ndcg_at(["a"], {"a": 0}, 10) == 0.0  # no positive judgement: 0, not a division by zero
    # Cut-off: the relevant document at rank 3 does not count at k=2, but the ideal does.
    assert ndcg_at(["x", "y", "d"], rel, 2) == 0.0
    assert ndcg_at(["x", "d"], rel, 2) == pytest.approx((3 / math.log2(3)) / (3 + 2 / math.log2(3)))


def test_recall_counts_positive_judgements_only():
    rel = {"a": 1, "b": 2, "c": 1, "n": 0}
    assert recall_at(["a", "x", "n", "c"], rel, 4) == pytest.approx(2 / 3)
    assert recall_at(["a", "x", "n", "c"], rel, 2) == pytest.approx(1 / 3)
    assert recall_at(["b", "a", "c"], rel, 100) == 1.0
    assert recall_at([], rel, 10) == 0.0


def test_mrr_is_reciprocal_rank_of_first_relevant():
    rel = {"c": 1, "e": 2, "n": 0}
    assert mrr_at(["a", "b", "c", "e"], rel, 10) == pytest.approx(1 / 3)
    assert mrr_at(["n", "e"], rel, 10) == pytest.approx(1 / 2)  # relevance 0 is not relevant
    assert mrr_at(["a", "b", "c"], rel, 2) == 0.0
    assert mrr_at(["e"], rel, 1) == 1.0


def test_score_run_averages_over_judged_queries():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}, "q3": {"x": 0}}  # q3 has no positive judgement
    run = {"q1": ["a", "z"], "q2": ["z", "c"]}
    scores = score_run(run, qrels)
    assert scores["mrr@10"] == pytest.approx((1 + 0.5) / 2)
    assert scores["recall@10"] == pytest.approx((1 + 0.5) / 2)
    ndcg_q2 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert scores["ndcg@10"] == pytest.approx((1 + ndcg_q2) / 2)
    assert set(scores) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
    missing = score_run({"q1": ["a"]}, qrels)  # q2 absent from the run scores 0
    assert missing["mrr@10"] == pytest.approx(0.5)
    with pytest.raises(InvalidInput):
        score_run(run, {"q": {"a": 0}})


def test_load_beir_reads_a_tiny_folder(tmp_path):
    beir = load_beir(write_beir(tmp_path / "tiny"))
    assert beir.corpus == tmp_path / "tiny" / "corpus.jsonl"
    assert set(beir.queries) == {"q1", "q2", "q3"}  # q4 has no judgements
    assert beir.queries["q2"] == "what lowers blood pressure"
    assert beir.qrels["q1"] == {"c1": 2, "c5": 1} and beir.qrels["q3"] == {"c3": 1, "c6": 0}


def test_load_beir_names_the_missing_file(tmp_path):
    folder = write_beir(tmp_path / "tiny")
    (folder / "qrels" / "test.tsv").unlink()
    with pytest.raises(InvalidInput) as info:
        load_beir(folder)
    assert info.value.code == "invalid_beir_folder" and "test.tsv" in info.value.message
    with pytest.raises(InvalidInput):
        load_beir(folder, split="dev")


def test_run_queries_batches_and_keeps_order():
    calls = []

    def batch(texts):
        calls.append(list(texts))
        return [[t.upper()] for t in texts]

    run, seconds = run_queries({f"q{i}": f"t{i}" for i in range(5)}, batch, batch_size=2)
    assert run == {f"q{i}": [f"T{i}"] for i in range(5)} and seconds >= 0
    assert [len(c) for c in calls] == [2, 2, 1]


def test_latent_eval_json_through_the_cli(tmp_path, capsys, monkeypatch):
    folder = write_beir(tmp_path / "tiny-beir")
    home = tmp_path / "home"
    result = invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "eval", folder, "--json", "-q")
    assert result.code == 0, result.err
    data = result.json()
    assert {
        "ndcg@10",
        "recall@10",
        "recall@100",
        "mrr@10",
        "queries",
        "documents",
        "index_seconds",
        "search_seconds",
    } <= set(data)
    assert data["queries"] == 3 and data["documents"] == len(BEIR_CORPUS)
    for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
        assert 0.0 <= data[key] <= 1.0
    assert data["recall@100"] == 1.0  # 8 documents: everything is retrieved
    assert data["mrr@10"] >= 0.5  # queries share their answers' words, so the fake encoder ranks them high
    # Running again reuses the collection named after the folder.
    again = invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "eval", folder, "--json", "-q")
    assert again.json()["documents"] == len(BEIR_CORPUS)
    collections = invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "collections", "--json").json()
    assert [c["name"] for c in collections] == ["tiny-beir"]
    # The table form prints every metric.
    table = invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "eval", folder, "-q")
    assert table.code == 0 and "ndcg@10" in table.out and "mrr@10" in table.out


def test_latent_eval_on_a_folder_that_is_not_beir(tmp_path, capsys, monkeypatch):
    result = invoke(capsys, monkeypatch, "--home", tmp_path / "home", "--model", "fake", "eval", tmp_path, "--json")
    assert result.code == 2  # invalid input: a usage error
    assert result.err.startswith("error: ") and "corpus.jsonl is missing" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_latent_eval_measures_the_backend_it_was_asked_for(tmp_path, capsys, monkeypatch):
    """An existing collection built with another backend is never silently measured in its place."""
    folder = write_beir(tmp_path / "tiny-beir")
    home = tmp_path / "home"

    def latent(*args):
        return invoke(capsys, monkeypatch, "--home", home, "--model", "fake", *args)

    first = latent("eval", folder, "--json", "-q").json()
    assert (first["collection"], first["backend"]) == ("tiny-beir", "torch")  # auto: torch for the fake encoder
    asked = latent("--backend", "onnx", "eval", folder, "--json", "-q")
    assert asked.code == 0, asked.err
    assert (asked.json()["collection"], asked.json()["backend"]) == ("tiny-beir-onnx", "onnx")
    assert latent("eval", folder, "--json", "-q").json()["backend"] == "torch"  # auto keeps what exists
    refused = latent("--backend", "onnx", "eval", folder, "-c", "tiny-beir", "-q")
    assert refused.code == 2 and "built with backend torch" in refused.err
