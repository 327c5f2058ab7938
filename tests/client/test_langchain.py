"""`LatentVectorStore` against a real `latent serve` (uvicorn on a port): LangChain's own standard suite, sync and
async, with client-side embeddings and with the server's encoder, then the parts the suite does not cover."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.server import serving
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import VectorStoreIntegrationTests
from latent_client.langchain import LatentRetriever, LatentVectorStore

from latent.config import get_settings
from service.main import create_app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server for the module (fake encoder); every test works in a collection of its own."""
    settings = get_settings(home=tmp_path_factory.mktemp("langchain-home"), model="fake")
    with serving(create_app(settings)) as url:
        yield url


def _fresh(embedding: DeterministicFakeEmbedding | None, url: str) -> Iterator[LatentVectorStore]:
    store = LatentVectorStore(embedding, url=url, collection=f"lc-{uuid.uuid4().hex[:12]}")
    try:
        yield store
    finally:
        store.delete_collection()
        store.close()


class TestLatentVectorStoreStandard(VectorStoreIntegrationTests):
    """LangChain's standard suite with its own embeddings: a bring-your-own-vector collection."""

    @pytest.fixture
    def vectorstore(self, server: str) -> Iterator[LatentVectorStore]:  # type: ignore[override]
        yield from _fresh(self.get_embeddings(), server)


class TestLatentVectorStoreServerEmbeds(VectorStoreIntegrationTests):
    """The same suite with `embedding=None`: the server's encoder embeds texts and queries."""

    @pytest.fixture
    def vectorstore(self, server: str) -> Iterator[LatentVectorStore]:  # type: ignore[override]
        yield from _fresh(None, server)


FRUIT = [
    Document(id="a1", page_content="red apple apple", metadata={"kind": "fruit", "n": 1}),
    Document(id="a2", page_content="red apple apple pie", metadata={"kind": "fruit", "n": 2}),
    Document(id="a3", page_content="red apple apple cider", metadata={"kind": "drink", "n": 3}),
    Document(id="c1", page_content="blue car engine", metadata={"kind": "vehicle", "n": 4}),
]


@pytest.fixture(params=["client-embeds", "server-embeds"])
def store(request: pytest.FixtureRequest, server: str) -> Iterator[LatentVectorStore]:
    embedding = DeterministicFakeEmbedding(size=16) if request.param == "client-embeds" else None
    yield from _fresh(embedding, server)


def test_byo_collection_has_the_embeddings_dimension(server: str) -> None:
    for store in _fresh(DeterministicFakeEmbedding(size=16), server):
        store.add_documents(FRUIT)
        info = store.client.get_collection(store.collection)
        assert (info.encoder, info.model, info.dimension, info.documents) == (False, None, 16, 4)


def test_server_embedded_collection_uses_the_server_model(server: str) -> None:
    for store in _fresh(None, server):
        store.add_texts(["red apple"], ids=["x"])
        info = store.client.get_collection(store.collection)
        assert info.encoder and info.model and info.documents == 1


def test_filter_scores_and_get_by_ids_order(store: LatentVectorStore) -> None:
    store.add_documents(FRUIT)
    hits = store.similarity_search("red apple apple", k=4, filter={"kind": "fruit"})
    assert {d.id for d in hits} == {"a1", "a2"} and all(d.metadata["kind"] == "fruit" for d in hits)
    scored = store.similarity_search_with_score("red apple apple", k=4)
    assert [d.id for d, _ in scored][0] == "a1" and scored[0][1] >= scored[-1][1]
    assert [d.id for d in store.get_by_ids(["c1", "ghost", "a2"])] == ["c1", "a2"]
    relevance = store.similarity_search_with_relevance_scores("red apple apple", k=2)
    assert all(0.0 <= r <= 1.0 for _, r in relevance)


def test_delete_by_filter_and_everything(store: LatentVectorStore) -> None:
    store.add_documents(FRUIT)
    store.delete(filter={"kind": "vehicle"})
    assert store.get_by_ids(["c1"]) == [] and len(store.get_by_ids(["a1", "a2", "a3"])) == 3
    with pytest.raises(ValueError, match="delete_collection"):
        store.delete()
    store.delete_collection()
    assert store.similarity_search("apple", k=4) == []


def test_mmr_trades_relevance_for_diversity(store: LatentVectorStore) -> None:
    store.add_documents(FRUIT)
    plain = store.max_marginal_relevance_search("red apple apple", k=2, lambda_mult=1.0)
    diverse = store.max_marginal_relevance_search("red apple apple", k=2, lambda_mult=0.0)
    assert plain[0].id == diverse[0].id == "a1" and plain[0].metadata == {"kind": "fruit", "n": 1}
    assert len(plain) == len(diverse) == 2
    if store.embeddings is None:  # the fake server encoder puts the apple texts together: diversity leaves them
        assert plain[1].id in {"a2", "a3"} and diverse[1].id == "c1"
    vector = store.embeddings.embed_query("blue car engine") if store.embeddings else None
    if vector is not None:
        assert store.max_marginal_relevance_search_by_vector(vector, k=1)[0].id == "c1"


def test_retrievers_similarity_mmr_hybrid(store: LatentVectorStore) -> None:
    store.add_documents(FRUIT)
    for search_type in ("similarity", "mmr", "hybrid"):
        retriever = store.as_retriever(search_type=search_type, search_kwargs={"k": 2, "filter": {"n": {"$gte": 2}}})
        assert isinstance(retriever, LatentRetriever)
        docs = retriever.invoke("blue car engine")
        assert docs[0].id == "c1" and len(docs) == 2, search_type
    with pytest.raises(ValueError):
        store.as_retriever(search_type="nonsense")


async def test_async_filter_mmr_hybrid_and_retriever(store: LatentVectorStore) -> None:
    await store.aadd_documents(FRUIT)
    hits = await store.asimilarity_search("red apple apple", k=4, filter={"kind": "drink"})
    assert [d.id for d in hits] == ["a3"]
    assert [d.id for d in await store.aget_by_ids(["a3", "nope", "a1"])] == ["a3", "a1"]
    mmr = await store.amax_marginal_relevance_search("red apple apple", k=2, lambda_mult=0.5)
    assert mmr[0].id == "a1"
    hybrid = await store.as_retriever(search_type="hybrid", search_kwargs={"k": 1}).ainvoke("blue car engine")
    assert [d.id for d in hybrid] == ["c1"]
    await store.adelete(["a1", "a2"])
    assert [d.id for d in await store.asimilarity_search("red apple apple", k=4, filter={"kind": "fruit"})] == []
    await store.aclose()


def test_from_texts_keeps_ids(server: str) -> None:
    name = f"lc-{uuid.uuid4().hex[:12]}"
    store = LatentVectorStore.from_texts(
        ["one", "two"], None, [{"i": 1}, {"i": 2}], ids=["1", "2"], url=server, collection=name
    )
    try:
        assert store.get_by_ids(["2", "1"]) == [
            Document(id="2", page_content="two", metadata={"i": 2}),
            Document(id="1", page_content="one", metadata={"i": 1}),
        ]
    finally:
        store.delete_collection()


def test_wrong_kind_of_collection_is_refused(server: str) -> None:
    for store in _fresh(None, server):
        store.add_texts(["red apple"], ids=["x"])
        client_side = LatentVectorStore(DeterministicFakeEmbedding(size=8), url=server, collection=store.collection)
        with pytest.raises(ValueError, match="embeds on the server"):
            client_side.similarity_search("apple")


def test_readme_example_runs(server: str) -> None:
    """The LangChain example of the README, run as written (only the URL points at the test server)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("#### LangChain", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) == 5
    scope: dict[str, Any] = {}
    exec(block.replace("http://127.0.0.1:8000", server), scope)  # noqa: S102
    try:
        assert [d.id for d in scope["docs"]] == ["a"]
        assert {d.id for d in scope["retriever"].invoke("blue car")} == {"a", "c"}
    finally:
        scope["store"].delete_collection()


def test_async_methods_are_native_not_the_thread_pool_defaults() -> None:
    """LangChain's defaults run the sync method in an executor; every async method used here is our own."""
    from langchain_core.vectorstores import VectorStore

    names = [
        "aadd_texts",
        "adelete",
        "aget_by_ids",
        "asimilarity_search",
        "asimilarity_search_with_score",
        "asimilarity_search_by_vector",
        "amax_marginal_relevance_search",
        "amax_marginal_relevance_search_by_vector",
        "afrom_texts",
    ]
    owners = {n: next(c for c in LatentVectorStore.__mro__ if n in vars(c)) for n in names}
    assert [n for n, owner in owners.items() if owner is VectorStore] == []
