"""BEIR-style retrieval evaluation: load queries and qrels, run them, compute nDCG/recall/MRR."""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from latent.errors import InvalidInput

Qrels = dict[str, dict[str, int]]  # query id -> {doc id: relevance}
Run = dict[str, list[str]]  # query id -> ranked doc ids


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gain (trec_eval / pytrec_eval's ndcg_cut, as BEIR reports it)."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    positives = {d for d, r in relevant.items() if r > 0}
    return len(positives.intersection(ranked[:k])) / len(positives) if positives else 0.0


def mrr_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean metrics over the queries that have judgements (queries missing from the run score 0)."""
    judged = [q for q, rels in qrels.items() if any(r > 0 for r in rels.values())]
    if not judged:
        raise InvalidInput("the qrels hold no relevant documents", code="invalid_qrels")
    metrics = {
        "ndcg@10": lambda r, q: ndcg_at(r, q, 10),
        "recall@10": lambda r, q: recall_at(r, q, 10),
        "recall@100": lambda r, q: recall_at(r, q, 100),
        "mrr@10": lambda r, q: mrr_at(r, q, 10),
    }
    return {name: sum(fn(run.get(q, []), qrels[q]) for q in judged) / len(judged) for name, fn in metrics.items()}


@dataclass(slots=True)
class BeirFolder:
    corpus: Path
    queries: dict[str, str]
    qrels: Qrels


def load_beir(folder: Path, split: str = "test") -> BeirFolder:
    """corpus.jsonl, queries.jsonl and qrels/<split>.tsv of a BEIR dataset folder."""
    corpus, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for p in (corpus, queries_path, qrels_path):
        if not p.is_file():
            raise InvalidInput(
                f"{folder} is not a BEIR folder: {p.relative_to(folder)} is missing",
                code="invalid_beir_folder",
                details={"missing": str(p)},
            )
    qrels: Qrels = {}
    with open(qrels_path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {}
    with open(queries_path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                if str(rec["_id"]) in qrels:
                    queries[str(rec["_id"])] = rec["text"]
    return BeirFolder(corpus, queries, qrels)


def run_queries(
    queries: dict[str, str], search_batch: Callable[[list[str]], list[list[str]]], batch_size: int = 64
) -> tuple[Run, float]:
    """Rank documents for every query through `search_batch`; returns the run and its seconds."""
    start = time.perf_counter()
    run: Run = {}
    ids = list(queries)
    for i in range(0, len(ids), batch_size):
        chunk = ids[i : i + batch_size]
        for qid, ranked in zip(chunk, search_batch([queries[q] for q in chunk]), strict=True):
            run[qid] = ranked
    return run, time.perf_counter() - start
