"""POST /recommend and /neighbors/batch over HTTP, on three topics whose right answers are known."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.topics import PER_TOPIC, TOPICS, topic, topic_docs
from latent_client import LatentClient

from latent.config import get_settings
from service.main import create_app

STRATEGIES = ("average_vector", "best_score", "sum_scores")
RECOMMEND = "/v1/collections/rec/recommend"


@pytest.fixture
def rec(api: LatentClient) -> str:
    """The topic collection in this test's own app (for tests that change it)."""
    api.create_collection("rec")
    api.upsert("rec", topic_docs())
    return "rec"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app holding the topic collection for the read-only tests of this module."""
    home: Path = tmp_path_factory.mktemp("recommend") / "home"
    with TestClient(create_app(get_settings(home=home, model="fake"))) as client:
        api = LatentClient(http=client)
        api.create_collection("rec")
        api.upsert("rec", topic_docs())
        yield client


def post(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(RECOMMEND, json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_positive_topic_first_negative_topic_last(shared: TestClient, strategy: str) -> None:
    body = post(shared, positive=["A0", {"id": "A1"}], negative=["B0"], strategy=strategy, k=100)
    ids = [h["id"] for h in body["hits"]]
    assert len(ids) == 3 * PER_TOPIC - 3 and not {"A0", "A1", "B0"} & set(ids)  # examples excluded
    topics = [topic(i) for i in ids]
    assert topics[: PER_TOPIC - 2] == ["A"] * (PER_TOPIC - 2)
    assert topics[-(PER_TOPIC - 1) :] == ["B"] * (PER_TOPIC - 1)
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(ids) + 1))
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert body["missing"] == [] and body["took_ms"] >= 0
    assert set(body["hits"][0]) == {"id", "score", "rank", "title", "explanation"}
    assert body["hits"][0]["title"] == "fruit"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_weights_change_the_ranking(shared: TestClient, strategy: str) -> None:
    def mean_rank_of_c(weight_c: float) -> float:
        positive = [{"id": "A0", "weight": 1.0}, {"id": "C0", "weight": weight_c}]
        hits = post(shared, positive=positive, strategy=strategy, k=2 * PER_TOPIC - 2)["hits"]
        assert {topic(h["id"]) for h in hits} == {"A", "C"}
        return float(np.mean([h["rank"] for h in hits if topic(h["id"]) == "C"]))

    low, high = mean_rank_of_c(0.2), mean_rank_of_c(5.0)
    assert low > high
    assert high == pytest.approx(PER_TOPIC / 2)  # all seven C documents ahead of every A document
    assert low == pytest.approx(PER_TOPIC - 1 + PER_TOPIC / 2)  # ... and all behind


def test_text_and_vector_examples(shared: TestClient) -> None:
    by_text = post(shared, positive=[{"text": "violin cello piano"}], k=5)["hits"]
    assert {topic(h["id"]) for h in by_text} == {"C"}
    assert by_text[0]["explanation"]["positive"][0]["example"] == "text:violin cello piano"

    vector = post(shared, positive=["B3"], k=1, with_vector=True)["hits"][0]["vector"]
    by_vector = post(shared, positive=[{"vector": vector}], negative=[{"text": "apple banana"}], k=5)["hits"]
    assert {topic(h["id"]) for h in by_vector} == {"B"}
    explanation = by_vector[0]["explanation"]
    assert explanation["positive"][0]["example"] == "vector#0"
    assert [n["example"] for n in explanation["negative"]] in ([], ["text:apple banana"])


def test_missing_ignore_returns_results_and_lists_unknown_ids(shared: TestClient) -> None:
    body = post(shared, positive=["A0", "nope", {"id": "gone", "weight": 2}], negative=["nope"], missing="ignore", k=3)
    assert body["missing"] == ["nope", "gone"]
    assert [topic(h["id"]) for h in body["hits"]] == ["A", "A", "A"]
    nothing = post(shared, positive=["nope"], missing="ignore")
    assert nothing["hits"] == [] and nothing["missing"] == ["nope"]


def test_missing_error_is_404_naming_the_ids(shared: TestClient, expect_error: Callable) -> None:
    response = shared.post(RECOMMEND, json={"positive": ["A0", "nope"], "negative": ["gone"]})
    error = expect_error(response, 404, "document_not_found")
    assert error["details"]["ids"] == ["nope", "gone"] and "nope" in error["message"]


def _contributions(
    strategy: str, weights_pos: np.ndarray, weights_neg: np.ndarray, pos: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The coefficient each example's similarity is multiplied by, from Qdrant's formulas."""
    if strategy != "average_vector":
        return weights_pos, weights_neg
    raw = 2 * weights_pos @ pos / weights_pos.sum() - weights_neg @ neg / weights_neg.sum()
    norm = np.linalg.norm(raw)
    return 2 * weights_pos / weights_pos.sum() / norm, weights_neg / weights_neg.sum() / norm


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_explanations_name_the_most_similar_examples(shared: TestClient, strategy: str) -> None:
    positive = {"A0": 2.0, "A1": 1.0, "C0": 1.0, "C1": 0.5}
    negative = {"B0": 1.0, "B1": 1.5}
    hits = post(
        shared,
        strategy=strategy,
        k=100,
        with_vector=True,
        positive=[{"id": i, "weight": w} for i, w in positive.items()],
        negative=[{"id": i, "weight": w} for i, w in negative.items()],
    )["hits"]
    assert len(hits) == 3 * PER_TOPIC - 6
    stored = shared.app.state.store.collection("rec").document_vectors([*positive, *negative])
    pos = np.stack([stored[i] for i in positive]).astype(np.float64)
    neg = np.stack([stored[i] for i in negative]).astype(np.float64)
    coef_pos, coef_neg = _contributions(
        strategy, np.array(list(positive.values())), np.array(list(negative.values())), pos, neg
    )
    for hit in hits:
        x = np.asarray(hit["vector"], dtype=np.float64)
        sim_pos, sim_neg = pos @ x, neg @ x
        contrib_pos, contrib_neg = coef_pos * sim_pos, -coef_neg * sim_neg
        shown = hit["explanation"]["positive"]
        assert [e["example"] for e in shown] == [list(positive)[i] for i in np.argsort(-contrib_pos)[:3]]
        for entry in shown:
            i = list(positive).index(entry["example"])
            assert entry["similarity"] == pytest.approx(sim_pos[i], abs=1e-4)
            assert entry["contribution"] == pytest.approx(contrib_pos[i], abs=1e-4)
        worst = int(np.argmin(contrib_neg))
        expected = [list(negative)[worst]] if contrib_neg[worst] < 0 else []
        assert [e["example"] for e in hit["explanation"]["negative"]] == expected
        if expected:
            assert hit["explanation"]["negative"][0]["similarity"] == pytest.approx(sim_neg[worst], abs=1e-4)
        if strategy != "best_score":  # additive strategies: the contributions are the score
            assert hit["score"] == pytest.approx(contrib_pos.sum() + contrib_neg.sum(), abs=1e-4)
        if topic(hit["id"]) in "AC":  # a document is explained first by an example of its own topic
            assert topic(shown[0]["example"]) == topic(hit["id"])


def test_equal_weights_explain_by_similarity(shared: TestClient) -> None:
    hits = post(shared, positive=["A0", "B0", "C0"], k=6, strategy="sum_scores", with_vector=True)["hits"]
    stored = shared.app.state.store.collection("rec").document_vectors(["A0", "B0", "C0"])
    for hit in hits:
        similarities = {i: float(np.dot(v, hit["vector"])) for i, v in stored.items()}
        assert hit["explanation"]["positive"][0]["example"] == max(similarities, key=similarities.get)


def test_filter_exclude_and_flags(shared: TestClient) -> None:
    hits = post(shared, positive=["A0"], filter={"topic": "C"}, k=100)["hits"]
    assert len(hits) == PER_TOPIC and {topic(h["id"]) for h in hits} == {"C"}
    hits = post(shared, positive=["A0"], exclude=["A1", "A2"], k=PER_TOPIC - 3)["hits"]
    assert {h["id"] for h in hits} == {f"A{i}" for i in range(3, PER_TOPIC)}
    kept = post(shared, positive=["A0"], exclude_examples=False, k=1, with_text=True, with_metadata=True)["hits"]
    assert kept[0]["id"] == "A0" and kept[0]["metadata"]["topic"] == "A" and kept[0]["text"]


def test_diversity_lowers_mean_pairwise_similarity(shared: TestClient) -> None:
    plain = post(shared, positive=["A0"], k=6)
    diverse = post(shared, positive=["A0"], k=6, diversity=1.0)
    report = diverse["diversity"]
    assert report["mean_pairwise_similarity"] < report["without_diversity"]
    assert plain["diversity"]["mean_pairwise_similarity"] == pytest.approx(plain["diversity"]["without_diversity"])
    assert diverse["hits"][0]["id"] == plain["hits"][0]["id"]  # the most relevant still leads
    assert len({topic(h["id"]) for h in diverse["hits"]}) == 3


def test_candidates_are_documents_not_chunks(client: TestClient, rec: str, api: LatentClient) -> None:
    api.upsert("rec", [{"id": "long", "text": " ".join([TOPICS["A"]] * 40), "metadata": {"topic": "A"}}])
    assert api.get_document("rec", "long").chunk_count > 3
    hits = post(client, positive=["A0"], k=100)["hits"]
    ids = [h["id"] for h in hits]
    assert len(ids) == len(set(ids)) == 3 * PER_TOPIC and "long" in ids
    excluded = post(client, positive=["A0", "long"], k=100)["hits"]
    assert "long" not in {h["id"] for h in excluded} and len(excluded) == 3 * PER_TOPIC - 1


def test_deleted_documents_disappear(client: TestClient, rec: str, api: LatentClient) -> None:
    first = post(client, positive=["A0"], k=1)["hits"][0]["id"]
    api.delete_document("rec", first)
    ids = [h["id"] for h in post(client, positive=["A0"], k=100)["hits"]]
    assert first not in ids and len(ids) == 3 * PER_TOPIC - 2
    assert post(client, positive=["A0", first], missing="ignore", k=1)["missing"] == [first]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"positive": [], "negative": []}, 400, "no_examples"),
        ({"positive": ["A0"], "k": 0}, 400, "invalid_k"),
        ({"positive": ["A0"], "k": 1_000_000}, 400, "invalid_k"),
        ({"positive": ["A0"], "strategy": "best_guess"}, 422, "validation_error"),
        ({"positive": [{"vector": [0.1, 0.2, 0.3]}]}, 400, "dimension_mismatch"),
        ({"positive": ["A0"], "diversity": 1.5}, 422, "validation_error"),
        ({"positive": [{"id": "A0", "text": "apple"}]}, 422, "validation_error"),
        ({"positive": [{"id": "A0", "weight": 0}]}, 422, "validation_error"),
        ({"positive": ["A0"], "missing": "maybe"}, 422, "validation_error"),
        ({"positive": ["A0"], "filter": {"topic": {"$bogus": 1}}}, 400, "invalid_filter"),
        (
            {"positive": [{"vector": [1.0] + [0.0] * 63}, {"vector": [-1.0] + [0.0] * 63}]},
            400,
            "invalid_input",
        ),
        ({"positive": ["A0"], "fliter": {}}, 422, "validation_error"),
    ],
)
def test_bad_input_is_4xx_in_the_envelope(
    shared: TestClient, expect_error: Callable, body: dict, status: int, code: str
) -> None:
    expect_error(shared.post(RECOMMEND, json=body), status, code)


def test_unknown_collection_is_404(client: TestClient, expect_error: Callable) -> None:
    expect_error(client.post("/v1/collections/none/recommend", json={"positive": ["x"]}), 404, "collection_not_found")


def test_neighbors_batch(shared: TestClient, expect_error: Callable) -> None:
    url = "/v1/collections/rec/neighbors/batch"
    body = shared.post(url, json={"ids": ["A0", "nope", "C0"], "k": 3}).json()
    assert body["missing"] == ["nope"] and [r["id"] for r in body["results"]] == ["A0", "C0"]
    for result in body["results"]:
        ids = [h["id"] for h in result["hits"]]
        assert len(ids) == 3 and result["id"] not in ids and {topic(i) for i in ids} == {topic(result["id"])}
        assert [h["rank"] for h in result["hits"]] == [1, 2, 3]
    filtered = shared.post(url, json={"ids": ["A0"], "k": 20, "filter": {"topic": "B"}}).json()
    assert {topic(h["id"]) for h in filtered["results"][0]["hits"]} == {"B"}
    assert len(filtered["results"][0]["hits"]) == PER_TOPIC
    expect_error(shared.post(url, json={"ids": []}), 400, "empty_batch")
    expect_error(shared.post(url, json={"ids": ["A0"], "k": 0}), 400, "invalid_k")


def test_typed_client(api: LatentClient, rec: str) -> None:
    result = api.recommend("rec", ["A0", {"text": "apple banana", "weight": 2.0}], ["B0"], k=3, strategy="best_score")
    assert [topic(h.id) for h in result.hits] == ["A", "A", "A"]
    assert result.hits[0].explanation.positive[0].example in {"A0", "text:apple banana"}
    batch = api.neighbors_batch("rec", ["B1"], k=2)
    assert batch.results[0].id == "B1" and len(batch.results[0].hits) == 2


def test_updated_document_is_rescored(client: TestClient, rec: str, api: LatentClient) -> None:
    post(client, positive=["C0"], k=100)  # every document vector is now in the shared cache
    music = {"id": "A7", "title": "music", "text": "violin cello piano flute oboe harp", "metadata": {}}
    api.upsert("rec", [music])
    hits = post(client, positive=["C0"], k=PER_TOPIC, with_vector=True)["hits"]
    assert {h["id"] for h in hits} == {"A7"} | {f"C{i}" for i in range(1, PER_TOPIC)}
    fresh = client.app.state.store.collection("rec").document_vectors(["A7"])["A7"]
    assert np.allclose(next(h["vector"] for h in hits if h["id"] == "A7"), fresh, atol=1e-6)
