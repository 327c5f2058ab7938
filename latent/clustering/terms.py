"""Cluster terms by class-based TF-IDF (c-TF-IDF, as in BERTopic): what words set one group of texts apart."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from functools import lru_cache

import numpy as np

# Words of two or more characters that start with a letter; keeps "covid-19", "p53", "t-cell" whole.
_TOKEN = re.compile(r"\b[^\W\d_][\w\-]*[^\W_]\b")


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English stop words (sklearn's list): loaded on first use so importing this module stays cheap."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of `text` without English stop words and without bare numbers."""
    stops = stop_words()
    return [t for t in _TOKEN.findall(text.lower()) if t not in stops]


def class_tfidf(
    texts: Sequence[str], classes: Sequence[Hashable], *, min_df: int = 1
) -> tuple[list[Hashable], list[str], np.ndarray]:
    """c-TF-IDF: each class's texts are one big document; terms are weighted against all classes.

    Weight of term t in class c = tf(t, c) / |c| * log(1 + A / f(t)), with |c| the class's word count,
    f(t) the term's count over all classes and A the mean word count per class (BERTopic's formula).

    Args:
        texts: one text per item.
        classes: the class of each item (cluster ids; noise may be a class of its own).
        min_df: drop terms found in fewer texts than this (falls back to 1 when nothing would be left).

    Returns:
        (class order, vocabulary, weights of shape (n_classes, n_terms)).
    """
    if len(texts) != len(classes):
        raise ValueError(f"{len(texts)} texts but {len(classes)} class labels")
    order = sorted(set(classes), key=_sort_key)
    if not texts:
        return order, [], np.zeros((0, 0))
    counts, vocabulary = _count(texts, min_df)
    if not vocabulary:
        return order, [], np.zeros((len(order), 0))
    from scipy import sparse

    row_of = {c: i for i, c in enumerate(order)}
    rows = np.fromiter((row_of[c] for c in classes), dtype=np.int64, count=len(classes))
    member = sparse.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(len(order), len(rows)))
    per_class, vocabulary = fold_plurals(np.asarray((member @ counts).todense(), dtype=np.float64), vocabulary)
    term_total = per_class.sum(axis=0)
    class_total = per_class.sum(axis=1, keepdims=True)
    mean_words = max(float(class_total.mean()), 1.0)
    idf = np.log(1.0 + mean_words / np.maximum(term_total, 1.0))
    tf = per_class / np.maximum(class_total, 1.0)
    return order, vocabulary, tf * idf


def fold_plurals(counts: np.ndarray, vocabulary: list[str]) -> tuple[np.ndarray, list[str]]:
    """Merge each "-s" plural into its singular when both occur ("cells" into "cell"), so one word
    does not take two of a cluster's few top terms. Columns of `counts` follow `vocabulary`."""
    column = {term: j for j, term in enumerate(vocabulary)}
    merged = [
        (j, column[term[:-1]])
        for j, term in enumerate(vocabulary)
        if len(term) > 3 and term.endswith("s") and not term.endswith("ss") and term[:-1] in column
    ]
    if not merged:
        return counts, vocabulary
    counts = counts.copy()
    plural, singular = (np.array(side) for side in zip(*merged, strict=True))
    np.add.at(counts.T, singular, counts.T[plural])
    keep = np.setdiff1d(np.arange(len(vocabulary)), plural)
    return counts[:, keep], [vocabulary[j] for j in keep]


def top_terms(weights: np.ndarray, vocabulary: Sequence[str], n: int) -> list[list[str]]:
    """The `n` highest-weighted terms of each row (ties broken alphabetically so output is stable)."""
    if n <= 0 or not len(vocabulary):
        return [[] for _ in range(weights.shape[0])]
    vocab = np.asarray(vocabulary)
    alphabetical = np.argsort(vocab, kind="stable")
    out = []
    for row in weights:
        ranked = alphabetical[np.argsort(-row[alphabetical], kind="stable")]
        out.append([str(vocab[j]) for j in ranked[:n] if row[j] > 0])
    return out


def _count(texts: Sequence[str], min_df: int):
    from sklearn.feature_extraction.text import CountVectorizer

    for threshold in dict.fromkeys((max(1, min_df), 1)):
        vectorizer = CountVectorizer(analyzer=tokenize, min_df=threshold)
        try:
            counts = vectorizer.fit_transform(texts)
        except ValueError:  # every token pruned or only stop words: try a looser threshold
            continue
        return counts, list(vectorizer.get_feature_names_out())
    return None, []


def _sort_key(value: Hashable) -> tuple[int, object]:
    # Numbers first in numeric order, anything else after by its text: class order is reproducible.
    if isinstance(value, int | np.integer):
        return (0, int(value))
    return (1, str(value))
