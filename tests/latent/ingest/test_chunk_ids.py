"""Chunks carry their token ids when those are exactly what tokenizing the chunk text gives, and the
encoder embeds them without tokenizing again: same vectors as encoding the text."""

from __future__ import annotations

import numpy as np
import pytest

from latent.embedder.fake import FakeEncoder
from latent.ingest.chunking import chunk_budget, chunk_document, encode_chunks

WORDS = (
    "Unbelievably, mitochondrial dysfunction precedes neurodegeneration in transgenic mice; "
    "antioxidants (e.g. N-acetylcysteine) partially rescue the phenotype. "
)
LONG = WORDS * 40  # many windows, several starting inside a word
HUGE_TITLE = "cell " * 200  # capped at half the window, on a word edge
CUT_TITLE = "Extraordinarily " * 200  # capped inside a word: the capped title's ids would not match its text


@pytest.fixture(scope="module")
def encoder(real_settings):
    from latent.embedder.factory import load_encoder

    return load_encoder(real_settings)


def chunks_of(encoder, title: str, text: str, overlap: int = 32):
    title_tokens, text_tokens = encoder.tokenize([title, text])
    return chunk_document(title, text, title_tokens, text_tokens, chunk_budget(encoder, None), overlap)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("title", "text", "some_with_ids"),
    [
        ("Short title", LONG, True),
        ("", LONG, True),
        (HUGE_TITLE, LONG, True),
        ("T", "tiny", True),
        (CUT_TITLE, LONG, False),
    ],
)
def test_chunk_ids_are_the_tokenization_of_the_chunk_text(encoder, title, text, some_with_ids):
    chunks = chunks_of(encoder, title, text)
    with_ids = [c for c in chunks if c.token_ids is not None]
    assert bool(with_ids) == some_with_ids
    for c in with_ids:
        assert encoder.tokenize([c.text])[0].ids == c.token_ids
    if len(chunks) > 1:  # windows that start or end inside a word fall back to their text
        starts_mid_word = [c for c in chunks if c.token_ids is None]
        assert all(c.char_start > 0 or c.char_end < len(text) for c in starts_mid_word)


@pytest.mark.slow
def test_encoding_ids_gives_the_vectors_of_encoding_text(encoder):
    chunks = chunks_of(encoder, "Mitochondria", LONG) + chunks_of(encoder, "Short", "A short abstract.")
    assert encoder.encode_ids is not None
    from_ids = encode_chunks(encoder, chunks)
    from_text = encoder.encode([c.text for c in chunks])
    assert from_ids.shape == from_text.shape == (len(chunks), 384)
    np.testing.assert_allclose(np.linalg.norm(from_ids, axis=1), 1.0, atol=1e-5)
    assert float((from_ids * from_text).sum(axis=1).min()) > 0.99999


@pytest.mark.slow
def test_stored_vectors_match_encoding_each_chunk_text(real_store):
    from latent.records import DocumentInput

    collection = real_store.create_collection("chunk-ids", exist_ok=True)
    collection.upsert([DocumentInput(id="long", title="Mitochondria", text=LONG)])
    chunks = chunks_of(collection.encoder, "Mitochondria", LONG)
    assert collection.get("long").chunk_count == len(chunks) > 1
    assert any(c.token_ids is not None for c in chunks) and any(c.token_ids is None for c in chunks)
    expected = collection.encoder.encode([c.text for c in chunks]).mean(axis=0)
    stored = collection.document_vectors(["long"])["long"]  # the normalised mean of the stored chunks
    assert float(stored @ (expected / np.linalg.norm(expected))) > 0.99999


def test_encoders_without_ids_keep_the_text_path():
    fake = FakeEncoder()
    title_tokens, text_tokens = fake.tokenize(["Title", LONG])
    chunks = chunk_document("Title", LONG, title_tokens, text_tokens, 40, 8)
    assert all(c.token_ids is None for c in chunks)  # the fake tokenizer reports no words
    np.testing.assert_allclose(encode_chunks(fake, chunks), fake.encode([c.text for c in chunks]))
