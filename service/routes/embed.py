"""Embed texts to vectors and show how texts tokenize (and whether they would be chunked)."""

from __future__ import annotations

from fastapi import APIRouter

from latent.embedder.base import Encoder
from latent.ingest.tokens import token_reports
from latent.limits import check_batch
from service.auth import Read
from service.deps import EncoderDep, SettingsDep, StoreDep
from service.schemas.embed import (
    EmbedRequest,
    EmbedResponse,
    TokenizedPublic,
    TokenizeRequest,
    TokenizeResponse,
)

router = APIRouter(prefix="/v1", tags=["embed"])


def _encoder(store: StoreDep, default: Encoder, collection: str | None) -> tuple[Encoder, int | None]:
    if collection is None:
        return default, None
    c = store.collection(collection)
    return store.query_encoder(c.model, c.backend), c.chunk_tokens


@router.post("/embed", name="embed", dependencies=[Read])
def embed(body: EmbedRequest, store: StoreDep, encoder: EncoderDep, settings: SettingsDep) -> EmbedResponse:
    """Unit-length vectors from the service's model, or from a collection's model when one is named."""
    check_batch(settings, len(body.texts))
    enc, _ = _encoder(store, encoder, body.collection)
    vectors = enc.encode(body.texts)
    return EmbedResponse(model=enc.model_name, dimension=enc.dimension, vectors=vectors.tolist())


@router.post("/tokenize", name="tokenize", dependencies=[Read])
def tokenize(body: TokenizeRequest, store: StoreDep, encoder: EncoderDep, settings: SettingsDep) -> TokenizeResponse:
    """Tokens and ids without special tokens; `chunked` says whether indexing would split the text."""
    check_batch(settings, len(body.texts))
    enc, chunk_tokens = _encoder(store, encoder, body.collection)
    budget, reports = token_reports(enc, body.texts, chunk_tokens)
    return TokenizeResponse(
        model=enc.model_name,
        max_tokens=budget,
        results=[TokenizedPublic(tokens=r.tokens, ids=r.ids, count=r.count, chunked=r.chunked) for r in reports],
    )
