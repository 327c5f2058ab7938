"""Documents with awkward metadata and every filter operator with the ids it must keep.

Shared by the SQLite filter tests and the SQLite-vs-PostgreSQL congruence tests.
"""

from __future__ import annotations

from typing import Any

from latent.records import DocumentInput

META: dict[str, dict[str, Any]] = {
    "a": {
        "year": 2019,
        "lang": "en",
        "tags": ["ml", "nlp"],
        "stats": {"cites": 10, "venue": "acl"},
        "open": True,
        "score": 0.5,
    },
    "b": {"year": 2020, "lang": "de", "tags": ["ml"], "stats": {"cites": 3}, "open": False, "score": 1.5},
    "c": {"year": 2021, "lang": "en", "tags": ["bio"], "stats": {"cites": 0, "venue": "nature"}},
    "d": {"year": "2020", "lang": "fr", "tags": []},  # a string year: never compared as a number
    "e": {"lang": "en", "open": True, "tags": ["nlp", 1], "flag": 1},
    "f": {},
    "g": {
        "year": 2022,
        "lang": "es",
        "tags": ["bio", "ml", True],
        "stats": {"cites": 25},
        "open": False,
        "flag": 0,
    },
}
ALL = set(META)


def filter_documents() -> list[DocumentInput]:
    return [DocumentInput(id=i, text=f"document {i} about things", metadata=m) for i, m in META.items()]


CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"lang": "en"}, {"a", "c", "e"}),  # a bare value means $eq
    ({"lang": {"$eq": "en"}}, {"a", "c", "e"}),
    ({"lang": {"$ne": "en"}}, {"b", "d", "f", "g"}),  # missing counts as "not equal"
    ({"year": {"$gt": 2020}}, {"c", "g"}),  # the string "2020" is not a number
    ({"year": {"$gte": 2020}}, {"b", "c", "g"}),
    ({"year": {"$lt": 2020}}, {"a"}),
    ({"year": {"$lte": 2020}}, {"a", "b"}),
    ({"year": 2020}, {"b"}),
    ({"year": "2020"}, {"d"}),
    ({"year": 2019.0}, {"a"}),
    ({"score": {"$gt": 1}}, {"b"}),
    ({"lang": {"$gte": "es"}}, {"d", "g"}),  # strings compare as strings
    ({"year": {"$in": [2019, 2022]}}, {"a", "g"}),
    ({"year": {"$in": ["2020"]}}, {"d"}),
    ({"year": {"$in": []}}, set()),
    ({"year": {"$nin": [2019, 2022]}}, {"b", "c", "d", "e", "f"}),
    ({"year": {"$nin": []}}, ALL),
    ({"year": {"$exists": True}}, {"a", "b", "c", "d", "g"}),
    ({"year": {"$exists": False}}, {"e", "f"}),
    ({"tags": {"$contains": "ml"}}, {"a", "b", "g"}),
    ({"tags": {"$contains": 1}}, {"e"}),  # the number 1, not the boolean true
    ({"tags": {"$contains": True}}, {"g"}),
    ({"lang": {"$contains": "en"}}, {"a", "c", "e"}),  # a scalar "contains" itself
    ({"open": True}, {"a", "e"}),
    ({"open": False}, {"b", "g"}),
    ({"open": {"$ne": True}}, {"b", "c", "d", "f", "g"}),
    ({"open": {"$in": [True]}}, {"a", "e"}),
    ({"flag": 1}, {"e"}),  # 1 is not true
    ({"flag": {"$in": [1]}}, {"e"}),
    ({"flag": {"$in": [False]}}, set()),  # 0 is not false
    ({"stats.cites": {"$gte": 10}}, {"a", "g"}),  # nested field a.b
    ({"stats.venue": "nature"}, {"c"}),
    ({"stats.venue": {"$exists": False}}, {"b", "d", "e", "f", "g"}),
    ({"lang": "en", "year": {"$gte": 2020}}, {"c"}),  # several fields: all must hold
    ({"$and": [{"lang": "en"}, {"year": {"$gte": 2020}}]}, {"c"}),
    ({"$or": [{"lang": "de"}, {"stats.cites": {"$gt": 20}}]}, {"b", "g"}),
    ({"$not": {"lang": "en"}}, {"b", "d", "f", "g"}),  # same as $ne: documents without lang included
    ({"$not": {"year": {"$gt": 2020}}}, {"a", "b", "d", "e", "f"}),
    ({"$not": {"$or": [{"lang": "en"}, {"open": False}]}}, {"d", "f"}),
    ({"year": {"$gte": 2019, "$lt": 2021}}, {"a", "b"}),  # several operators on one field
    ({"id": {"$in": ["a", "f", "zz"]}}, {"a", "f"}),
    ({"id": {"$ne": "a"}}, ALL - {"a"}),
]
