"""Recommendations over a collection: examples (stored ids, texts, vectors) resolved, documents ranked.

The glue between `latent.recommend.strategies` (pure, over any vector index) and a `Collection`: examples become unit
vectors, candidates are whole documents (`DocumentIndex`), unknown ids fail or are listed, hits get titles.
User profiles live in `latent.recommend_profiles` and reuse `run` from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from latent.errors import DocumentNotFound, InvalidInput
from latent.recommend.documents import DocumentIndex, row_ids
from latent.recommend.strategies import Example, Scored, neighbors_batch, recommend
from latent.records import Hit
from latent.store.collection import Collection
from latent.vectors import as_vector

MISSING_MODES = ("error", "ignore")
TEXT_KEY_CHARS = 60  # how much of a text example names it in explanations

Annotate = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(slots=True)
class ExampleSpec:
    """An example as asked for: exactly one of a stored document id, a text or a raw vector."""

    id: str | None = None
    text: str | None = None
    vector: Sequence[float] | None = None
    weight: float = 1.0


@dataclass(slots=True)
class Recommendation:
    hits: list[Hit]
    missing: list[str] = field(default_factory=list)  # stored ids that did not exist (missing="ignore")
    diversity: dict[str, float | None] = field(
        default_factory=lambda: {"mean_pairwise_similarity": None, "without_diversity": None}
    )
    strategy: str = "average_vector"
    candidates: int = 0


@dataclass(slots=True)
class Flags:
    """Optional fields of a hit, named as in search."""

    with_text: bool = False
    with_metadata: bool = False
    with_vector: bool = False


def parse_example(raw: str | Mapping[str, Any] | ExampleSpec) -> ExampleSpec:
    """A stored id as a plain string, or {"id"|"text"|"vector": …, "weight": 1.0}."""
    if isinstance(raw, ExampleSpec):
        spec = raw
    elif isinstance(raw, str):
        spec = ExampleSpec(id=raw)
    elif isinstance(raw, Mapping):
        unknown = sorted(set(raw) - {"id", "text", "vector", "weight"})
        if unknown:
            raise InvalidInput(f"unknown example fields {unknown}", code="invalid_example", details={"fields": unknown})
        spec = ExampleSpec(raw.get("id"), raw.get("text"), raw.get("vector"), raw.get("weight", 1.0))
    else:
        raise InvalidInput(
            "an example is a document id or an object with id, text or vector",
            code="invalid_example",
            details={"example": repr(raw)[:100]},
        )
    given = [name for name in ("id", "text", "vector") if getattr(spec, name) is not None]
    if len(given) != 1:
        raise InvalidInput(
            f"an example needs exactly one of id, text or vector, got {given or 'none'}",
            code="invalid_example",
            details={"given": given},
        )
    if spec.id is not None and (not isinstance(spec.id, str) or not spec.id):
        raise InvalidInput("an example id must be a non-empty string", code="invalid_example")
    if spec.text is not None and (not isinstance(spec.text, str) or not spec.text.strip()):
        raise InvalidInput("an example text must be a non-empty string", code="invalid_example")
    return spec


def recommend_documents(
    collection: Collection,
    positive: Sequence[str | Mapping[str, Any] | ExampleSpec],
    negative: Sequence[str | Mapping[str, Any] | ExampleSpec] = (),
    k: int = 10,
    *,
    strategy: str = "average_vector",
    filter: dict[str, Any] | None = None,
    exclude: Sequence[str] = (),
    exclude_examples: bool = True,
    diversity: float = 0.0,
    missing: str = "error",
    flags: Flags | None = None,
) -> Recommendation:
    """Documents like the positives and unlike the negatives, each with the examples that explain it.

    Args:
        missing: 'error' raises DocumentNotFound naming every unknown stored id; 'ignore' skips them and
            lists them in `Recommendation.missing` (all unknown: no hits, not an error).
        exclude: document ids never returned; stored examples are excluded too unless `exclude_examples`
            is False.
    """
    if missing not in MISSING_MODES:
        raise InvalidInput(
            f"missing must be one of {', '.join(MISSING_MODES)}",
            code="invalid_missing",
            details={"missing": missing, "choices": list(MISSING_MODES)},
        )
    pos_specs = [parse_example(e) for e in positive]
    neg_specs = [parse_example(e) for e in negative]
    if not pos_specs and not neg_specs:
        raise InvalidInput("give at least one positive or negative example", code="no_examples")
    stored = [s.id for s in (*pos_specs, *neg_specs) if s.id is not None]
    found = row_ids(collection, [*stored, *exclude])
    unknown = list(dict.fromkeys(i for i in stored if i not in found))
    if unknown and missing == "error":
        raise DocumentNotFound(unknown, collection.name)
    texts = [s.text for s in (*pos_specs, *neg_specs) if s.text is not None]
    encoded = dict(zip(texts, collection.query_encoder.encode(texts), strict=True)) if texts else {}
    index = DocumentIndex(collection, filter)
    vectors = index.document_vectors({i: found[i] for i in stored if i in found})
    unknown += [i for i in dict.fromkeys(stored) if i in found and i not in vectors]  # deleted meanwhile
    pos = _examples(pos_specs, vectors, encoded)
    neg = _examples(neg_specs, vectors, encoded)
    if not pos and not neg:  # every example was an unknown id
        return Recommendation([], unknown, strategy=strategy)
    banned = set(exclude) | (set(vectors) if exclude_examples else set())
    result = run(index, pos, neg, k, strategy, [found[i] for i in banned if i in found], diversity, flags)
    result.missing = unknown
    return result


def run(
    index: DocumentIndex,
    pos: Sequence[Example],
    neg: Sequence[Example],
    k: int,
    strategy: str,
    exclude_rows: Sequence[int],
    diversity: float,
    flags: Flags | None = None,
    annotate: Annotate | None = None,
) -> Recommendation:
    """`latent.recommend.strategies` over the document view, then titles (and asked-for fields) from SQL."""
    result = recommend(
        index,
        pos,
        neg,
        k,
        strategy=strategy,
        allowed=index.allowed,
        exclude_ids=np.asarray(exclude_rows, dtype=np.int64),
        diversity=diversity,
        candidate_vectors=index.vectors,
    )
    hits = _enrich(index, result.hits, flags or Flags(), annotate or (lambda entry: entry))
    return Recommendation(hits, [], result.diversity_report, result.strategy, result.candidates)


def neighbors_many(
    collection: Collection, ids: Sequence[str], k: int = 10, filter: dict[str, Any] | None = None
) -> tuple[list[tuple[str, list[Hit]]], list[str]]:
    """The k documents nearest each stored document (itself excluded), in one batched search.

    Scores are cosines between document vectors. Unknown ids are skipped and returned second.
    """
    if not ids:
        raise InvalidInput("give at least one document id", code="empty_batch")
    index = DocumentIndex(collection, filter)
    rows = row_ids(collection, ids)
    vectors = index.document_vectors(rows)
    missing = list(dict.fromkeys(i for i in ids if i not in vectors))
    found = neighbors_batch(index, {rows[i]: vectors[i] for i in vectors}, k, index.allowed)
    external = index.external_ids({n for pairs in found.values() for n, _ in pairs})
    titles = {r.id: r.title for r in collection.get_many(sorted(set(external.values())))}
    results = []
    for doc in ids:
        if doc not in vectors:
            continue
        hits: list[Hit] = []
        for n, score in found.get(rows[doc], []):
            ext = external.get(n)
            if ext in titles:  # else deleted since the search
                hits.append(Hit(id=ext, score=score, rank=len(hits) + 1, title=titles[ext]))
        results.append((doc, hits))
    return results, missing


def _examples(
    specs: Sequence[ExampleSpec], stored: Mapping[str, np.ndarray], encoded: Mapping[str, np.ndarray]
) -> list[Example]:
    """Resolved examples; stored ids that do not exist are dropped (the caller decided they may be)."""
    examples = []
    for i, spec in enumerate(specs):
        if spec.id is not None:
            if spec.id in stored:
                examples.append(Example(key=spec.id, vector=stored[spec.id], weight=spec.weight))
        elif spec.text is not None:
            key = "text:" + spec.text[:TEXT_KEY_CHARS] + ("…" if len(spec.text) > TEXT_KEY_CHARS else "")
            examples.append(Example(key=key, vector=encoded[spec.text], weight=spec.weight))
        else:
            examples.append(
                Example(
                    key=f"vector#{i}", vector=as_vector(spec.vector, name=f"example vector {i}"), weight=spec.weight
                )
            )
    return examples


def _enrich(index: DocumentIndex, hits: Sequence[Scored], flags: Flags, annotate: Annotate) -> list[Hit]:
    """Core hits (row ids) -> documents; a document deleted since the search is dropped, ranks close up."""
    external = index.external_ids(h.id for h in hits)
    records = {r.id: r for r in index.collection.get_many(list(external.values()))}
    out: list[Hit] = []
    for hit in hits:
        record = records.get(external.get(hit.id, ""))
        if record is None:
            continue
        negative = hit.explanation.get("negative")
        explanation = {
            "positive": [annotate(dict(e)) for e in hit.explanation.get("positive", [])],
            "negative": [annotate(dict(negative))] if negative else [],
        }
        vector = index.vectors(np.asarray([hit.id]))[0].tolist() if flags.with_vector else None
        out.append(
            Hit(
                id=record.id,
                score=hit.score,
                rank=len(out) + 1,
                title=record.title,
                explanation=explanation,
                text=record.text if flags.with_text else None,
                metadata=record.metadata if flags.with_metadata else None,
                vector=vector,
            )
        )
    return out
