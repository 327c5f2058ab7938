"""A BEIR folder over the three disjoint topics of `topics.py`: the quality gate's answer is known."""

from __future__ import annotations

from pathlib import Path

from helpers.corpora import write_jsonl
from helpers.topics import TOPICS, topic_docs


def write_topic_beir(folder: Path) -> Path:
    """corpus.jsonl (24 documents), queries.jsonl (three per topic, three topic words each) and
    qrels/test.tsv (every document of the query's topic is relevant)."""
    docs = topic_docs()
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(
        folder / "corpus.jsonl",
        [{"_id": d["id"], "title": d["title"], "text": d["text"], "topic": d["metadata"]["topic"]} for d in docs],
    )
    queries, qrels = [], ["query-id\tcorpus-id\tscore"]
    for name, words in TOPICS.items():
        vocab = words.split()
        for j in range(3):
            qid = f"{name}-q{j}"
            queries.append({"_id": qid, "text": " ".join(vocab[3 * j : 3 * j + 3])})
            qrels += [f"{qid}\t{d['id']}\t1" for d in docs if d["metadata"]["topic"] == name]
    write_jsonl(folder / "queries.jsonl", queries)
    (folder / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder
