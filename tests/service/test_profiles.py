"""User profiles over HTTP: events in SQL, recommendations from history, deletions, restarts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.topics import PER_TOPIC, topic, topic_docs
from latent_client import LatentClient

from latent.config import Settings
from service.main import create_app

PROFILE = "/v1/collections/rec/profiles/ada"


@pytest.fixture
def rec(api: LatentClient) -> str:
    api.create_collection("rec")
    api.upsert("rec", topic_docs())
    return "rec"


def record(client: TestClient, *events: dict[str, Any], user: str = "ada") -> dict[str, Any]:
    response = client.post(f"/v1/collections/rec/profiles/{user}/events", json={"events": list(events)})
    assert response.status_code == 201, response.text
    return response.json()


def recommendations(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(f"{PROFILE}/recommendations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_record_one_or_many_and_read_back(client: TestClient, rec: str) -> None:
    one = client.post(f"{PROFILE}/events", json={"id": "A0", "kind": "view"})
    assert one.status_code == 201 and one.json()["recorded"] == 1
    at = "2026-01-02T03:04:05+00:00"
    many = record(client, {"id": "A1", "kind": "like", "weight": 2.0, "at": at}, {"id": "B0", "kind": "dislike"})
    assert many["recorded"] == 2 and many["events"][0]["at"].startswith("2026-01-02T03:04:05")
    profile = client.get(PROFILE).json()
    assert profile["count"] == 3 and profile["counts"] == {"dislike": 1, "like": 1, "view": 1}
    assert profile["documents"] == 3 and profile["missing"] == []
    assert [e["id"] for e in profile["events"]][-1] == "A1"  # newest first: the dated like is oldest
    assert profile["events"][-1]["weight"] == 2.0
    page = client.get(PROFILE, params={"limit": 1, "offset": 1}).json()
    assert len(page["events"]) == 1 and page["count"] == 3


def test_unknown_document_is_404_and_nothing_is_recorded(client: TestClient, rec: str, expect_error: Callable) -> None:
    response = client.post(
        f"{PROFILE}/events", json={"events": [{"id": "A0", "kind": "like"}, {"id": "nope", "kind": "like"}]}
    )
    assert expect_error(response, 404, "document_not_found")["details"]["ids"] == ["nope"]
    expect_error(client.get(PROFILE), 404, "profile_not_found")


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        ({"id": "A0", "kind": "stare"}, 400, "unknown_event_kind"),
        ({"id": "A0", "kind": "like", "weight": -1}, 400, "invalid_event"),
        ({"id": "A0", "kind": "like", "at": "yesterday"}, 422, "validation_error"),
        ({"id": "A0"}, 422, "validation_error"),
    ],
)
def test_bad_events_are_4xx(
    client: TestClient, rec: str, expect_error: Callable, event: dict, status: int, code: str
) -> None:
    expect_error(client.post(f"{PROFILE}/events", json=event), status, code)


def test_recommendations_follow_likes_and_avoid_dislikes(client: TestClient, rec: str) -> None:
    recorded = record(
        client,
        {"id": "A0", "kind": "like"},
        {"id": "A1", "kind": "view"},
        {"id": "A1", "kind": "like"},
        {"id": "B0", "kind": "dislike"},
    )
    hits = recommendations(client, k=100)["hits"]
    ids = [h["id"] for h in hits]
    assert not {"A0", "A1", "B0"} & set(ids)  # seen documents are never recommended
    assert len(ids) == 3 * PER_TOPIC - 3
    assert [topic(i) for i in ids[: PER_TOPIC - 2]] == ["A"] * (PER_TOPIC - 2)
    assert [topic(i) for i in ids[-(PER_TOPIC - 1) :]] == ["B"] * (PER_TOPIC - 1)
    # explanations name the profile documents and the events behind them
    event_ids = {e["id"]: [] for e in recorded["events"]}
    for e in recorded["events"]:
        event_ids[e["id"]].append(e["event_id"])
    top = hits[0]["explanation"]
    assert {e["example"] for e in top["positive"]} == {"A0", "A1"}
    for entry in top["positive"]:
        assert sorted(ev["event_id"] for ev in entry["events"]) == sorted(event_ids[entry["example"]])
    a1 = next(e for e in top["positive"] if e["example"] == "A1")
    assert set(a1["kinds"]) == {"view", "like"}
    last = hits[-1]["explanation"]["negative"]
    assert [e["example"] for e in last] == ["B0"] and last[0]["events"][0]["kind"] == "dislike"


def test_half_life_weighs_recent_events_more(client: TestClient, rec: str) -> None:
    old = (datetime.now(UTC) - timedelta(days=120)).isoformat()
    record(
        client,
        {"id": "C0", "kind": "like", "at": old},
        {"id": "C1", "kind": "like", "at": old},
        {"id": "C2", "kind": "like", "at": old},
        {"id": "A0", "kind": "like"},
    )
    short = recommendations(client, k=3, half_life_days=7)["hits"]
    long = recommendations(client, k=3, half_life_days=100_000)["hits"]
    assert {topic(h["id"]) for h in short} == {"A"}  # three old likes decayed below one new one
    assert {topic(h["id"]) for h in long} == {"C"}  # without decay three likes outweigh one


def test_deleted_documents_never_appear_nor_break_the_profile(client: TestClient, rec: str, api: LatentClient) -> None:
    record(client, {"id": "A0", "kind": "like"}, {"id": "A1", "kind": "like"})
    best = recommendations(client, k=1)["hits"][0]["id"]
    api.delete_documents("rec", [best, "A1"])  # a would-be hit, and a document of the profile
    body = recommendations(client, k=100)
    ids = [h["id"] for h in body["hits"]]
    assert best not in ids and "A1" not in ids and len(ids) == 3 * PER_TOPIC - 3
    assert body["missing"] == ["A1"]
    assert all(e["example"] == "A0" for h in body["hits"] for e in h["explanation"]["positive"])
    assert client.get(PROFILE).json()["missing"] == ["A1"]
    api.delete_document("rec", "A0")  # nothing usable left: no hits, not an error
    assert recommendations(client)["hits"] == []


def test_diversity_and_filter(client: TestClient, rec: str) -> None:
    record(client, {"id": "A0", "kind": "like"})
    plain = recommendations(client, k=6)
    diverse = recommendations(client, k=6, diversity=1.0)
    assert diverse["diversity"]["mean_pairwise_similarity"] < plain["diversity"]["mean_pairwise_similarity"]
    filtered = recommendations(client, k=100, filter='{"topic": "C"}', strategy="best_score")["hits"]
    assert len(filtered) == PER_TOPIC and {topic(h["id"]) for h in filtered} == {"C"}


def test_delete_profile(client: TestClient, rec: str, expect_error: Callable) -> None:
    record(client, {"id": "A0", "kind": "like"}, {"id": "B0", "kind": "view"})
    record(client, {"id": "C0", "kind": "like"}, user="bob")
    assert client.delete(PROFILE).json() == {"deleted": 2}
    expect_error(client.get(PROFILE), 404, "profile_not_found")
    expect_error(client.delete(PROFILE), 404, "profile_not_found")
    expect_error(client.get(f"{PROFILE}/recommendations"), 404, "profile_not_found")
    assert client.get("/v1/collections/rec/profiles/bob").json()["count"] == 1  # other users untouched


def test_bad_recommendation_parameters(client: TestClient, rec: str, expect_error: Callable) -> None:
    record(client, {"id": "A0", "kind": "like"})
    url = f"{PROFILE}/recommendations"
    expect_error(client.get(url, params={"k": 0}), 400, "invalid_k")
    expect_error(client.get(url, params={"half_life_days": 0}), 422, "validation_error")
    expect_error(client.get(url, params={"diversity": 2}), 422, "validation_error")
    expect_error(client.get(url, params={"strategy": "nope"}), 422, "validation_error")
    expect_error(client.get(url, params={"filter": "{"}), 400, "invalid_filter")


def test_profiles_survive_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first:
        api = LatentClient(http=first)
        api.create_collection("rec")
        api.upsert("rec", topic_docs())
        api.record_events("rec", "ada", [{"id": "A0", "kind": "like"}, {"id": "B0", "kind": "dislike"}])
        before = api.profile_recommendations("rec", "ada", k=5)
    with TestClient(create_app(settings)) as second:
        api = LatentClient(http=second)
        profile = api.get_profile("rec", "ada")
        assert profile.count == 2 and profile.counts == {"dislike": 1, "like": 1}
        after = api.profile_recommendations("rec", "ada", k=5)
        assert [h.id for h in after.hits] == [h.id for h in before.hits]
        assert {topic(h.id) for h in after.hits} == {"A"}
        assert api.delete_profile("rec", "ada").deleted == 2
