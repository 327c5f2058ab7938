"""Tiny corpora and the files the indexer reads (JSONL, CSV, text, BEIR folders), built in a temp dir."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from latent.records import DocumentInput

TOPICS = {
    "biology": "cell protein gene enzyme membrane",
    "physics": "quantum particle energy field wave",
    "chemistry": "molecule reaction bond catalyst acid",
    "medicine": "patient trial dose therapy clinical",
}


def topical(n: int = 24, prefix: str = "doc") -> list[DocumentInput]:
    """Short documents whose words tell their topic, with metadata (topic, year, tags) to filter on."""
    names = list(TOPICS)
    docs = []
    for i in range(n):
        topic = names[i % len(names)]
        docs.append(
            DocumentInput(
                id=f"{prefix}-{i}",
                title=f"{topic} paper {i}",
                text=f"A study of {TOPICS[topic]} number {i}.",
                metadata={"topic": topic, "year": 2000 + i, "tags": [topic, "even" if i % 2 == 0 else "odd"]},
            )
        )
    return docs


def numbered_words(n: int, stem: str = "w") -> str:
    """'w0 w1 w2 …': every token distinct, so a chunk's span can be checked word by word."""
    return " ".join(f"{stem}{i}" for i in range(n))


def jsonl_records(n: int, start: int = 0, words: int = 12) -> list[dict[str, Any]]:
    """BEIR-shaped records (`_id`, `title`, `text`) plus a metadata field."""
    vocab = [w for topic in TOPICS.values() for w in topic.split()]
    return [
        {
            "_id": f"r{i}",
            "title": f"record {i}",
            "text": " ".join(vocab[(i * 7 + j) % len(vocab)] for j in range(words)) + f" item{i}",
            "group": i % 5,
        }
        for i in range(start, start + n)
    ]


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str | bytes]) -> Path:
    """One record per line; str/bytes items are written verbatim (for malformed lines)."""
    with open(path, "wb") as fh:
        for rec in records:
            if isinstance(rec, bytes):
                fh.write(rec.rstrip(b"\n") + b"\n")
            elif isinstance(rec, str):
                fh.write(rec.rstrip("\n").encode() + b"\n")
            else:
                fh.write(json.dumps(rec).encode() + b"\n")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# A BEIR folder small enough for the fake encoder: each query shares distinctive words with its answers.
BEIR_CORPUS = [
    {"_id": "c1", "title": "Vitamin D", "text": "vitamin supplements reduce fractures in elderly adults"},
    {"_id": "c2", "title": "Coffee", "text": "coffee consumption and heart rhythm disorders"},
    {"_id": "c3", "title": "Sleep", "text": "sleep deprivation impairs memory consolidation"},
    {"_id": "c4", "title": "Exercise", "text": "aerobic exercise lowers blood pressure"},
    {"_id": "c5", "title": "Fractures", "text": "bone density predicts fractures after menopause"},
    {"_id": "c6", "title": "Memory", "text": "memory training in older adults"},
    {"_id": "c7", "title": "Salt", "text": "dietary salt raises blood pressure"},
    {"_id": "c8", "title": "Tea", "text": "green tea polyphenols and cancer"},
]
BEIR_QUERIES = [
    {"_id": "q1", "text": "do vitamin supplements prevent fractures"},
    {"_id": "q2", "text": "what lowers blood pressure"},
    {"_id": "q3", "text": "sleep and memory"},
    {"_id": "q4", "text": "a query without judgements"},
]
BEIR_QRELS = [
    ("q1", "c1", 2),
    ("q1", "c5", 1),
    ("q2", "c4", 1),
    ("q2", "c7", 1),
    ("q3", "c3", 1),
    ("q3", "c6", 0),
]


def write_beir(folder: Path) -> Path:
    """corpus.jsonl, queries.jsonl and qrels/test.tsv (with BEIR's header line)."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "corpus.jsonl", BEIR_CORPUS)
    write_jsonl(folder / "queries.jsonl", BEIR_QUERIES)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{r}" for q, d, r in BEIR_QRELS]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


# Short one-topic sentences and a query for four of them that shares no keyword with its answer:
# the real model must place each query nearest its sentence (backend and query-backend tests).
TOPIC_SENTENCES = [
    ("heart", "Statins lower LDL cholesterol and reduce the risk of heart attacks in adults."),
    ("sleep", "Short sleep duration is associated with impaired memory consolidation in students."),
    ("malaria", "Artemisinin combination therapy clears Plasmodium falciparum parasites from the blood."),
    ("gut", "Gut microbiota composition shifts after a course of broad-spectrum antibiotics."),
    ("bones", "Vitamin D and calcium supplements slow bone loss in postmenopausal women."),
    ("vaccine", "The measles vaccine induces long-lasting neutralising antibodies in children."),
    ("python", "Python lists are mutable sequences that grow when elements are appended."),
    ("tides", "Ocean tides are driven by the gravitational pull of the moon and the sun."),
]
TOPIC_QUERIES = {
    "heart": "drugs that prevent myocardial infarction",
    "malaria": "treatment for malaria infection",
    "python": "appending items to a list in a programming language",
    "tides": "why does the sea level rise and fall every day",
}
