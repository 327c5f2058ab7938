"""Token-aware chunking: overlapping windows that cover the whole text; document score = best chunk."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers.corpora import numbered_words
from sqlalchemy import select

from latent.embedder.fake import FakeEncoder
from latent.ingest.chunking import chunk_budget, chunk_document
from latent.records import DocumentInput
from latent.search import SearchOptions, search
from latent.store.models import ChunkRow

ENC = FakeEncoder()


def chunks_of(text: str, title: str = "", budget: int = 20, overlap: int = 5):
    title_toks, text_toks = ENC.tokenize([title, text])
    return chunk_document(title, text, title_toks, text_toks, budget, overlap), text_toks


def words_in(text: str) -> list[str]:
    return [t for t in ENC.tokenize([text])[0].tokens]


def test_long_text_becomes_overlapping_windows_covering_everything():
    text = numbered_words(200)
    chunks, toks = chunks_of(text, budget=20, overlap=5)
    assert len(chunks) == 1 + math.ceil((200 - 20) / (20 - 5))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.text == text[c.char_start : c.char_end]
        assert c.token_count == len(words_in(c.text)) <= 20
    for a, b in zip(chunks, chunks[1:], strict=False):
        shared = set(words_in(a.text)) & set(words_in(b.text))
        assert len(shared) == 5 and b.char_start < a.char_end  # exactly `overlap` tokens shared
    # Nothing dropped: every token lies inside some chunk, first and last included.
    for start, end in toks.offsets:
        assert any(c.char_start <= start and end <= c.char_end for c in chunks)
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)


def test_short_text_is_one_chunk_spanning_it():
    text = "a short note about enzymes"
    chunks, _ = chunks_of(text, title="Note", budget=20)
    assert len(chunks) == 1
    assert (chunks[0].char_start, chunks[0].char_end) == (0, len(text))
    assert chunks[0].text == "Note " + text and chunks[0].token_count == 6


def test_every_chunk_carries_the_title_and_counts_its_tokens():
    text = numbered_words(60)
    chunks, _ = chunks_of(text, title="Big Title", budget=20, overlap=4)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.startswith("Big Title ")
        assert c.token_count == 2 + len(words_in(text[c.char_start : c.char_end])) <= 20


def test_huge_title_is_capped_so_the_body_still_gets_room():
    title = numbered_words(100, stem="t")
    chunks, _ = chunks_of(numbered_words(30), title=title, budget=20, overlap=2)
    for c in chunks:
        title_part = [w for w in words_in(c.text) if w.startswith("t")]
        assert len(title_part) == 10  # budget // 2
        assert c.token_count <= 20
    assert chunks[-1].text.endswith("w29")


def test_overlap_not_smaller_than_window_still_advances():
    chunks, _ = chunks_of(numbered_words(30), budget=10, overlap=50)
    assert len(chunks) == 30 - 10 + 1  # step of one token, never stuck
    assert chunks[-1].char_end == len(numbered_words(30))


def test_budget_is_model_limit_minus_special_tokens_or_smaller_setting():
    assert chunk_budget(ENC, None) == 62
    assert chunk_budget(ENC, 20) == 20
    assert chunk_budget(ENC, 500) == 62


@pytest.fixture
def chunked(make_settings, open_store):
    store = open_store(make_settings(chunk_tokens=20, chunk_overlap=5))
    collection = store.create_collection("chunks")
    return collection


def test_store_records_chunk_count_and_spans(chunked):
    text = numbered_words(200)
    result = chunked.upsert([DocumentInput(id="long", text=text), DocumentInput(id="short", text="w1 w2 w3")])
    expected = 1 + math.ceil((200 - 20) / 15)
    assert result.chunks_added == expected + 1
    assert chunked.get("long").chunk_count == expected and chunked.get("short").chunk_count == 1
    assert chunked.get("long").token_count == sum(c.token_count for c in chunks_of(text)[0])
    with chunked.sessions() as s:
        rows = s.execute(
            select(ChunkRow.ordinal, ChunkRow.char_start, ChunkRow.char_end)
            .where(ChunkRow.collection_id == chunked.id)
            .order_by(ChunkRow.id)
        ).all()
    spans = [(a, b) for o, a, b in rows[:expected]]
    assert spans == [(c.char_start, c.char_end) for c in chunks_of(text)[0]]


def test_search_returns_the_matching_chunk_and_best_chunk_score(chunked):
    text = numbered_words(200)
    chunked.upsert(
        [DocumentInput(id="long", text=text)]
        + [DocumentInput(id=f"other{i}", text=f"unrelated filler text {i}") for i in range(5)]
    )
    query = "w150 w151 w152"
    hits = search(chunked, query, options=SearchOptions(k=10))
    assert [h.id for h in hits].count("long") == 1  # one hit per document, however many chunks match
    hit = hits[0]
    assert hit.id == "long"
    assert "w150 w151 w152" in text[hit.chunk["start"] : hit.chunk["end"]]
    # Document score = its best chunk's score.
    chunk_texts = [c.text for c in chunks_of(text)[0]]
    scores = ENC.encode(chunk_texts) @ ENC.encode([query])[0]
    assert hit.score == pytest.approx(float(scores.max()), abs=1e-5)
    assert hit.chunk["ordinal"] == int(np.argmax(scores))


LONG_DOC = " ".join(
    [
        "The committee reviewed the quarterly budget and approved funding for road maintenance.",
        "Local farmers reported that the spring harvest of wheat was smaller than expected.",
    ]
    * 12
    + ["Vitamin D supplements reduce the risk of hip fractures in elderly women with osteoporosis."]
    + [
        "The orchestra rehearsed a symphony by Brahms for the winter concert season.",
        "Engineers inspected the bridge cables after the storm and found no damage.",
    ]
    * 12
)


@pytest.mark.slow
def test_real_model_chunks_long_documents_and_finds_the_right_span(real_store):
    collection = real_store.create_collection("chunking-real", exist_ok=True)
    encoder = collection.encoder
    n_tokens = encoder.tokenize([LONG_DOC])[0].count
    assert n_tokens > collection.chunk_tokens  # longer than the model's window
    collection.upsert([DocumentInput(id="long", text=LONG_DOC, title="Minutes")])
    record = collection.get("long")
    assert record.chunk_count >= 2 and record.token_count >= n_tokens  # nothing truncated
    hit = search(collection, "does vitamin D prevent fractures", options=SearchOptions(k=1))[0]
    start = LONG_DOC.index("Vitamin D")
    assert hit.chunk["start"] <= start < hit.chunk["end"]
    assert hit.chunk["ordinal"] > 0
