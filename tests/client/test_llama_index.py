"""`latent_client.llama_index.LatentVectorStore` under a real `VectorStoreIndex`, against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.server import serving
from latent_client.llama_index import LatentVectorStore, to_filter
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from latent.config import get_settings
from service.main import create_app

WORDS = ["apple", "car", "ocean", "music"]


class WordEmbedding(BaseEmbedding):
    """Counts of four topic words: deterministic, offline, and retrieval by it means something."""

    def _vec(self, text: str) -> list[float]:
        low = text.lower()
        return [float(low.count(w)) + 0.01 for w in WORDS]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)


DOCS = [
    Document(text="apple apple pie", doc_id="fruit", metadata={"topic": "food", "n": 1}),
    Document(text="fast car engine car", doc_id="cars", metadata={"topic": "vehicle", "n": 2}),
    Document(text="ocean waves ocean", doc_id="sea", metadata={"topic": "nature", "n": 3}),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = get_settings(home=tmp_path_factory.mktemp("llama-home"), model="fake")
    with serving(create_app(settings)) as url:
        yield url


@pytest.fixture
def index(server: str) -> Iterator[VectorStoreIndex]:
    Settings.llm = None
    Settings.embed_model = WordEmbedding()
    Settings.tokenizer = str.split  # no tiktoken file download (offline)
    store = LatentVectorStore(collection=f"li-{uuid.uuid4().hex[:10]}", url=server)
    storage = StorageContext.from_defaults(vector_store=store)
    yield VectorStoreIndex.from_documents(DOCS, storage_context=storage)
    store.client.delete_collection(store.collection)
    store.close()


def _ids(index: VectorStoreIndex, query: str, **kw: object) -> list[str]:
    nodes = index.as_retriever(similarity_top_k=2, **kw).retrieve(query)
    return [n.node.ref_doc_id or "" for n in nodes]


def test_collection_is_byo_of_the_embedding_dimension(index: VectorStoreIndex) -> None:
    store = index.vector_store
    assert isinstance(store, LatentVectorStore)
    info = store.client.get_collection(store.collection)
    assert (info.encoder, info.dimension, info.documents) == (False, 4, 3)


@pytest.mark.parametrize("mode", ["default", "sparse", "hybrid", "mmr"])
def test_every_mode_finds_the_right_document(index: VectorStoreIndex, mode: str) -> None:
    ids = _ids(index, "car", vector_store_query_mode=VectorStoreQueryMode(mode))
    assert ids[0] == "cars"


def test_filters_and_or(index: VectorStoreIndex) -> None:
    only_food = MetadataFilters(filters=[MetadataFilter(key="topic", value="food")])
    assert _ids(index, "car", filters=only_food) == ["fruit"]
    either = MetadataFilters(
        filters=[
            MetadataFilter(key="n", value=3, operator=FilterOperator.GTE),
            MetadataFilter(key="topic", value=["food"], operator=FilterOperator.IN),
        ],
        condition="or",
    )
    assert sorted(_ids(index, "car", filters=either)) == ["fruit", "sea"]


def test_unsupported_operator_is_a_clear_error() -> None:
    bad = MetadataFilters(filters=[MetadataFilter(key="t", value="x", operator=FilterOperator.TEXT_MATCH)])
    with pytest.raises(ValueError, match="no equivalent"):
        to_filter(bad)


def test_delete_ref_doc_removes_its_nodes(index: VectorStoreIndex) -> None:
    index.delete_ref_doc("cars")
    assert "cars" not in _ids(index, "car")


def test_async_add_query_delete(index: VectorStoreIndex) -> None:
    store = index.vector_store
    assert isinstance(store, LatentVectorStore)

    async def go() -> tuple[list[str], list[str]]:
        q = VectorStoreQuery(query_embedding=WordEmbedding()._vec("ocean"), similarity_top_k=1)
        before = (await store.aquery(q)).ids or []
        await store.adelete("sea")
        return before, (await store.aquery(q)).ids or []

    before, after = asyncio.run(go())
    assert before and after and before != after


def test_readme_example_runs(server: str) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    code = readme.split("#### LlamaIndex", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    Settings.embed_model = WordEmbedding()
    Settings.tokenizer = str.split
    code = code.replace("http://127.0.0.1:8000", server).replace('"notes"', f'"notes-{uuid.uuid4().hex[:8]}"')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README", "exec"), {})
    assert out.getvalue().strip() == "red apple"
