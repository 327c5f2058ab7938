"""Three topics with disjoint vocabularies: recommendation tests know the right answer by construction."""

from __future__ import annotations

import random
from typing import Any

TOPICS = {
    "A": "apple banana cherry grape mango melon peach pear plum lemon",
    "B": "engine piston gear wheel brake clutch axle valve pump rotor",
    "C": "violin cello piano flute oboe harp drum tuba horn lute",
}
TITLES = {"A": "fruit", "B": "machine", "C": "music"}
PER_TOPIC = 8


def topic_docs() -> list[dict[str, Any]]:
    """Eight documents per topic (ids A0…C7), six words each drawn from the topic's own ten (fixed seed)."""
    rng = random.Random(3)
    docs = []
    for name, words in TOPICS.items():
        for i in range(PER_TOPIC):
            docs.append(
                {
                    "id": f"{name}{i}",
                    "title": TITLES[name],
                    "text": " ".join(rng.sample(words.split(), 6)),
                    "metadata": {"topic": name, "i": i},
                }
            )
    return docs


def topic(doc_id: str) -> str:
    """The topic of a document id from `topic_docs`."""
    return doc_id[0]
