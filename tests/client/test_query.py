"""Search, neighbours, recommendations, profiles, embed and tokenize through the sync client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers.topics import PER_TOPIC, TOPICS, topic
from latent_client import LatentClient, models


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_search_modes_find_the_topic(api: LatentClient, topics: str, mode: str) -> None:
    result = api.search(topics, "piston gear brake", k=5, mode=mode, with_metadata=True, with_text=True)
    assert isinstance(result, models.SearchResult) and result.took_ms >= 0
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert result.hits and all(topic(h.id) == "B" for h in result.hits)
    assert all(h.metadata is not None and h.text for h in result.hits)


def test_search_filter_offset_weights_and_vector(api: LatentClient, topics: str) -> None:
    filtered = api.search(topics, "apple banana", k=PER_TOPIC, filter={"topic": {"$in": ["C"]}})
    assert len(filtered.hits) == PER_TOPIC and {topic(h.id) for h in filtered.hits} == {"C"}
    first = api.search(topics, "violin cello", k=4)
    second = api.search(topics, "violin cello", k=2, offset=2)
    assert [h.id for h in second.hits] == [h.id for h in first.hits[2:]]
    weighted = api.search(topics, "engine", k=3, mode="hybrid", rrf_k=10, weights={"dense": 0.0, "sparse": 1.0})
    assert all(topic(h.id) == "B" for h in weighted.hits)
    vector = api.embed([TOPICS["A"]]).vectors[0]
    by_vector = api.search(topics, vector=vector, k=3, with_vector=True)
    assert all(topic(h.id) == "A" for h in by_vector.hits)
    assert all(h.vector is not None and len(h.vector) == len(vector) for h in by_vector.hits)
    assert by_vector.hits[0].chunk is not None and by_vector.hits[0].metadata is None  # not asked for


def test_search_batch_texts_and_vectors(api: LatentClient, topics: str) -> None:
    batch = api.search_batch(topics, ["apple mango", "drum tuba"], k=3)
    assert isinstance(batch, models.BatchSearchResult) and len(batch.results) == 2
    assert {topic(h.id) for h in batch.results[0].hits} == {"A"}
    assert {topic(h.id) for h in batch.results[1].hits} == {"C"}
    vectors = api.embed([TOPICS["B"]]).vectors
    by_vector = api.search_batch(topics, vectors=vectors, k=2, filter={"i": {"$lt": 4}})
    assert {topic(h.id) for h in by_vector.results[0].hits} == {"B"}


def test_neighbours_single_and_batch(api: LatentClient, topics: str) -> None:
    near = api.neighbors(topics, "A0", k=4, with_metadata=True)
    assert len(near.hits) == 4 and "A0" not in {h.id for h in near.hits}
    assert all(h.metadata and h.metadata["topic"] == "A" for h in near.hits)
    assert {topic(h.id) for h in api.neighbors(topics, "A0", k=3, filter={"topic": "B"}).hits} == {"B"}
    batch = api.neighbors_batch(topics, ["B1", "ghost"], k=2)
    assert batch.missing == ["ghost"] and batch.results[0].id == "B1"
    assert {topic(h.id) for h in batch.results[0].hits} == {"B"}


def test_recommend_with_explanations(api: LatentClient, topics: str) -> None:
    result = api.recommend(
        topics,
        ["A0", models.Example(text="apple banana", weight=2.0)],
        [{"id": "B0"}],
        k=3,
        strategy="best_score",
        exclude=["A1"],
    )
    assert isinstance(result, models.Recommendations) and len(result.hits) == 3
    assert {topic(h.id) for h in result.hits} == {"A"} and not {"A0", "A1"} & {h.id for h in result.hits}
    assert result.hits[0].explanation.positive
    ignored = api.recommend(topics, ["C0", "ghost"], k=2, missing="ignore", diversity=0.5)
    assert ignored.missing == ["ghost"] and {topic(h.id) for h in ignored.hits} == {"C"}


def test_profiles_record_read_recommend_delete(api: LatentClient, topics: str) -> None:
    at = datetime.now(UTC) - timedelta(days=1)
    recorded = api.record_events(
        topics, "ada", [{"id": "A0", "kind": "like"}, models.Event(id="B0", kind="dislike", at=at)]
    )
    assert recorded.recorded == 2 and recorded.events[1].at.utcoffset() == timedelta(0)
    profile = api.get_profile(topics, "ada")
    assert (profile.user, profile.count, profile.counts) == ("ada", 2, {"like": 1, "dislike": 1})
    recs = api.profile_recommendations(topics, "ada", k=3, half_life_days=10.0, with_metadata=True)
    assert {topic(h.id) for h in recs.hits} == {"A"} and "A0" not in {h.id for h in recs.hits}
    only_c = api.profile_recommendations(topics, "ada", k=2, filter={"topic": "C"})
    assert {topic(h.id) for h in only_c.hits} == {"C"}
    assert api.delete_profile(topics, "ada").deleted == 2


def test_embed_tokenize_and_openai_embeddings(api: LatentClient, topics: str) -> None:
    embedded = api.embed(["a b c", "d e"])
    assert isinstance(embedded, models.Embeddings) and len(embedded.vectors) == 2
    assert len(embedded.vectors[0]) == embedded.dimension
    tokens = api.tokenize(["one two three"], collection=topics)
    assert tokens.results[0].count == 3 and tokens.results[0].chunked is False
    openai = api.openai_embeddings(["a b c"], embedded.model)
    assert openai.data[0].embedding == pytest.approx(embedded.vectors[0], abs=1e-6)
    assert openai.usage.prompt_tokens > 0
    packed = api.openai_embeddings("a b c", embedded.model, encoding_format="base64")
    assert isinstance(packed.data[0].embedding, str)
