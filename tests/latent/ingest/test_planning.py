"""Upsert planning (`latent.ingest.planning`) works on any target with an encoder and two lookups: no
collection, no SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from latent.embedder.fake import FakeEncoder
from latent.errors import InvalidInput
from latent.ingest.planning import MAX_ID_CHARS, plan_upsert
from latent.records import DocumentInput


class Stored:
    """A planning target whose 'stored' documents are a dict."""

    def __init__(self, docs: Sequence[DocumentInput] = ()):
        self.encoder = FakeEncoder(dimension=16)
        self.chunk_tokens = 8
        self.chunk_overlap = 2
        self.docs = {d.id: d for d in docs}

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.docs[i].content_hash() for i in external_ids if i in self.docs}

    def stored_metadata(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {i: self.docs[i].metadata for i in external_ids if i in self.docs}


def test_plan_embeds_changed_documents_and_sorts_out_the_rest():
    same = DocumentInput("a", "alpha beta gamma", metadata={"n": 1})
    retagged = DocumentInput("b", "delta epsilon", metadata={"n": 2})
    target = Stored([same, DocumentInput("b", "delta epsilon", metadata={"n": 1})])
    changed = DocumentInput("c", " ".join(f"word{i}" for i in range(40)))
    plan = plan_upsert(target, [same, retagged, changed])
    assert [p.doc.id for p in plan.prepared] == ["c"]
    assert [d.id for d in plan.unchanged] == ["a", "b"]
    assert [d.id for d in plan.metadata_only] == ["b"]
    prepared = plan.prepared[0]
    assert len(prepared.spans) > 1 and prepared.vectors.shape == (len(prepared.spans), 16)


@pytest.mark.parametrize(
    ("docs", "code"),
    [
        ([DocumentInput("a", "x"), DocumentInput("a", "y")], "duplicate_ids"),
        ([DocumentInput("", "x")], "invalid_document"),
        ([DocumentInput("a" * (MAX_ID_CHARS + 1), "x")], "invalid_document"),
        ([DocumentInput("a", "  ")], "invalid_document"),
        ([DocumentInput("a", "x", metadata=[1])], "invalid_document"),  # type: ignore[arg-type]
    ],
)
def test_plan_refuses_batches_a_collection_cannot_store(docs, code):
    with pytest.raises(InvalidInput) as err:
        plan_upsert(Stored(), docs)
    assert err.value.code == code
