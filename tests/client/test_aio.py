"""The async client against a real server (uvicorn over sockets): every area, awaited, same answers as sync."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from helpers.topics import PER_TOPIC, TOPICS, topic, topic_docs
from latent_client import AsyncLatentClient, LatentClient, LatentHTTPError, models

T = TypeVar("T")


def run(base_url: str, scenario: Callable[[AsyncLatentClient], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        async with AsyncLatentClient(base_url, **options) as client:
            return await scenario(client)

    return asyncio.run(main())


def test_collections_documents_and_search(base_url: str) -> None:
    async def scenario(api: AsyncLatentClient) -> None:
        assert await api.health() == {"status": "ok"}
        assert (await api.ready())["status"] == "ready"
        created = await api.create_collection("topics")
        assert isinstance(created, models.Collection)
        upserted = await api.upsert("topics", topic_docs())
        assert upserted.upserted == 3 * PER_TOPIC
        assert (await api.list_collections()).data[0].documents == 3 * PER_TOPIC
        assert (await api.get_collection("topics")).name == "topics"
        assert (await api.get_document("topics", "A0")).metadata == {"topic": "A", "i": 0}
        assert (await api.list_documents("topics", limit=2, filter={"topic": "B"})).count == PER_TOPIC
        for mode in ("dense", "sparse", "hybrid"):
            hits = (await api.search("topics", TOPICS["C"], k=3, mode=mode)).hits  # type: ignore[arg-type]
            assert len(hits) == 3 and {topic(h.id) for h in hits} == {"C"}
        batch = await api.search_batch("topics", ["apple", "piston"], k=2, filter={"i": {"$gte": 0}})
        assert [{topic(h.id) for h in r.hits} for r in batch.results] == [{"A"}, {"B"}]
        assert len((await api.neighbors("topics", "B3", k=3)).hits) == 3
        assert (await api.delete_documents("topics", filter={"topic": "C"})).deleted == PER_TOPIC
        assert (await api.delete_document("topics", "A0")).deleted == 1
        await api.delete_collection("topics")
        assert (await api.list_collections()).count == 0

    run(base_url, scenario)


def test_recommend_profiles_embed(base_url: str) -> None:
    async def scenario(api: AsyncLatentClient) -> None:
        await api.create_collection("topics")
        await api.upsert("topics", topic_docs())
        recs = await api.recommend("topics", ["A0"], ["B0"], k=3)
        assert {topic(h.id) for h in recs.hits} == {"A"}
        batch = await api.neighbors_batch("topics", ["C1"], k=2)
        assert {topic(h.id) for h in batch.results[0].hits} == {"C"}
        await api.record_events("topics", "bo", [{"id": "C0", "kind": "like"}])
        assert (await api.get_profile("topics", "bo")).count == 1
        mine = await api.profile_recommendations("topics", "bo", k=2)
        assert {topic(h.id) for h in mine.hits} == {"C"}
        assert (await api.delete_profile("topics", "bo")).deleted == 1
        embedded = await api.embed([TOPICS["A"]], collection="topics")
        assert len(embedded.vectors[0]) == embedded.dimension
        assert (await api.tokenize(["x y"])).results[0].count == 2

    run(base_url, scenario)


def test_jobs_and_wait(base_url: str) -> None:
    async def scenario(api: AsyncLatentClient) -> models.Job:
        await api.create_collection("topics")
        await api.upsert("topics", topic_docs())
        job = await api.wait_job(await api.create_clustering("topics", k=3), timeout=120, poll=0.05)
        assert (await api.list_jobs()).data[0].id == job.id
        assert (await api.get_clustering("topics", job.result["clustering_id"])).clusters  # type: ignore[index]
        return job

    done = run(base_url, scenario)
    assert done.status == "succeeded" and done.kind == "clustering"
    with LatentClient(base_url) as sync:  # the same job, read back by the sync client
        assert sync.get_job(done.id) == done


def test_errors_and_keys(base_url: str, app: FastAPI) -> None:
    async def missing(api: AsyncLatentClient) -> LatentHTTPError:
        with pytest.raises(LatentHTTPError) as info:
            await api.get_collection("ghost")
        return info.value

    error = run(base_url, missing)
    assert (error.status, error.code, error.details) == (404, "collection_not_found", {"collection": "ghost"})
    key = app.state.keys.create("read", "async test").key

    async def keyed(api: AsyncLatentClient) -> int:
        return (await api.list_collections()).count

    assert run(base_url, keyed, api_key=key) == 0
    with pytest.raises(LatentHTTPError) as refused:
        run(base_url, keyed)
    assert refused.value.code == "missing_api_key"


def test_injected_async_client_is_used_and_left_open(base_url: str) -> None:
    async def scenario() -> bool:
        async with httpx.AsyncClient(base_url=base_url, headers={"X-Trace": "1"}) as http:
            api = AsyncLatentClient(http=http)
            assert (await api.list_collections()).count == 0
            await api.aclose()  # not ours: stays open
            return http.is_closed

    assert asyncio.run(scenario()) is False
