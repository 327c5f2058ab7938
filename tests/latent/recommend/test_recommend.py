"""Recommendation strategies, explanations, MMR, filters and profiles on three clustered topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from latent.errors import DimensionMismatch, InvalidInput
from latent.index.flat import FlatIndex
from latent.index.reference import NumpyIndex
from latent.recommend.scoring import scaled_fast_sigmoid
from latent.recommend.strategies import (
    STRATEGIES,
    Event,
    Example,
    neighbors_batch,
    profile_examples,
    recommend,
)

DIM = 32
PER_TOPIC = 30
TOPICS = "ABC"


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class Corpus:
    """Three topics of clustered unit vectors; topic t's ids are 1000*(t+1) + i."""

    def __init__(self, index_cls=FlatIndex, seed: int = 7):
        rng = np.random.default_rng(seed)
        centres = _unit(rng.normal(size=(3, DIM)))
        self.ids = np.concatenate([np.arange(PER_TOPIC) + 1000 * (t + 1) for t in range(3)]).astype(np.int64)
        noise = rng.normal(size=(3 * PER_TOPIC, DIM)) * 0.35 / np.sqrt(DIM)
        self.vectors = _unit(np.repeat(centres, PER_TOPIC, axis=0) + noise)
        self.by_id = dict(zip(self.ids.tolist(), self.vectors, strict=True))
        self.index = index_cls(DIM)
        self.index.add(self.ids, self.vectors)
        self.fetched: list[int] = []

    def topic(self, vid: int) -> str:
        return TOPICS[vid // 1000 - 1]

    def ids_of(self, topic: str) -> np.ndarray:
        return self.ids[[self.topic(int(i)) == topic for i in self.ids]]

    def example(self, vid: int, weight: float = 1.0) -> Example:
        return Example(key=f"doc-{vid}", vector=self.by_id[vid], weight=weight)

    def vectors_for(self, ids: np.ndarray) -> np.ndarray:
        self.fetched.extend(int(i) for i in ids)
        return np.stack([self.by_id[int(i)] for i in ids])

    def run(self, positives, negatives, k, **kwargs):
        return recommend(self.index, positives, negatives, k, candidate_vectors=self.vectors_for, **kwargs)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus()


def _a(corpus: Corpus, i: int = 0) -> int:
    return int(corpus.ids_of("A")[i])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_positive_topic_first_negative_topic_last(corpus, strategy):
    pos = [corpus.example(_a(corpus, 0)), corpus.example(_a(corpus, 1))]
    neg_id = int(corpus.ids_of("B")[0])
    exclude = np.array([_a(corpus, 0), _a(corpus, 1), neg_id])
    result = corpus.run(pos, [corpus.example(neg_id)], k=len(corpus.ids), strategy=strategy, exclude_ids=exclude)
    topics = [corpus.topic(h.id) for h in result.hits]
    assert len(topics) == len(corpus.ids) - 3
    assert topics[: PER_TOPIC - 2] == ["A"] * (PER_TOPIC - 2)
    assert topics[-(PER_TOPIC - 1) :] == ["B"] * (PER_TOPIC - 1)
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_raising_a_weight_moves_its_topic_up(corpus, strategy):
    a, c = _a(corpus), int(corpus.ids_of("C")[0])

    def c_mean_rank(weight_c: float) -> float:
        result = corpus.run(
            [corpus.example(a), corpus.example(c, weight_c)],
            [],
            k=58,
            strategy=strategy,
            exclude_ids=np.array([a, c]),
        )
        assert {corpus.topic(h.id) for h in result.hits} == {"A", "C"}
        return float(np.mean([h.rank for h in result.hits if corpus.topic(h.id) == "C"]))

    low, equal, high = c_mean_rank(0.6), c_mean_rank(1.0), c_mean_rank(2.0)
    assert low > equal > high
    assert high == pytest.approx((1 + 29) / 2)  # all 29 C items ahead of every A item
    assert low == pytest.approx((30 + 58) / 2)  # ... and all behind


def _by_hand(corpus, result, strategy, pos, neg):
    """Recompute every hit's similarities, contributions and score from the raw vectors."""
    wp = np.array([e.weight for e in pos])
    wn = np.array([e.weight for e in neg])
    for hit in result.hits:
        x = corpus.by_id[hit.id].astype(np.float64)
        sp = np.array([e.vector @ x for e in pos])
        sn = np.array([e.vector @ x for e in neg])
        if strategy == "average_vector":
            raw = (
                2 * (wp @ np.stack([e.vector for e in pos])) / wp.sum()
                - (wn @ np.stack([e.vector for e in neg])) / wn.sum()
            )
            norm = np.linalg.norm(raw)
            cp, cn = 2 * wp / wp.sum() / norm, wn / wn.sum() / norm
            expected = float(raw @ x / norm)
        else:
            cp, cn = wp, wn
            if strategy == "sum_scores":
                expected = float(wp @ sp - wn @ sn)
            else:
                bp, bn = (wp * sp).max(), (wn * sn).max()
                expected = float(scaled_fast_sigmoid(bp) if bp > bn else -scaled_fast_sigmoid(bn))
        assert hit.score == pytest.approx(expected, abs=1e-5)
        if strategy != "best_score":  # additive strategies: the contributions are the score
            assert hit.score == pytest.approx(float(cp @ sp - cn @ sn), abs=1e-5)
        order = sorted(range(len(pos)), key=lambda i: -cp[i] * sp[i])[:3]
        shown = hit.explanation["positive"]
        assert [p["example"] for p in shown] == [pos[i].key for i in order]
        for p, i in zip(shown, order, strict=True):
            assert p["similarity"] == pytest.approx(float(sp[i]), abs=1e-5)
            assert p["contribution"] == pytest.approx(float(cp[i] * sp[i]), abs=1e-5)
        worst = int(np.argmin(-cn * sn))
        if -cn[worst] * sn[worst] < 0:
            assert hit.explanation["negative"]["example"] == neg[worst].key
            assert hit.explanation["negative"]["similarity"] == pytest.approx(float(sn[worst]), abs=1e-5)
            assert hit.explanation["negative"]["contribution"] < 0
        else:
            assert hit.explanation["negative"] is None


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_explanations_match_a_recomputation(corpus, strategy):
    ids_a, ids_c, ids_b = corpus.ids_of("A"), corpus.ids_of("C"), corpus.ids_of("B")
    pos = [
        corpus.example(int(ids_a[0]), 2.0),
        corpus.example(int(ids_a[1])),
        corpus.example(int(ids_c[0])),
        corpus.example(int(ids_c[1]), 0.5),
    ]
    neg = [corpus.example(int(ids_b[0])), corpus.example(int(ids_b[1]), 1.5)]
    result = corpus.run(pos, neg, k=len(corpus.ids), strategy=strategy)
    assert len(result.hits) == len(corpus.ids)
    _by_hand(corpus, result, strategy, pos, neg)
    top = result.hits[0]
    assert len(top.explanation["positive"]) == 3
    # an A item is explained by the A examples, the heavier one first
    hit_a = next(h for h in result.hits if corpus.topic(h.id) == "A" and h.id not in ids_a[:2])
    assert [p["example"] for p in hit_a.explanation["positive"][:2]] == [pos[0].key, pos[1].key]
    # a B item is pulled down by a B example
    hit_b = next(h for h in result.hits if corpus.topic(h.id) == "B")
    assert hit_b.explanation["negative"]["example"] in {neg[0].key, neg[1].key}


def test_average_vector_is_qdrants_formula(corpus):
    a, b = _a(corpus), int(corpus.ids_of("B")[0])
    result = corpus.run([corpus.example(a)], [corpus.example(b)], k=5)
    query = 2 * corpus.by_id[a] - corpus.by_id[b]
    expected = corpus.index.search(_unit(query), 5)
    assert [h.id for h in result.hits] == expected.ids[0].tolist()
    np.testing.assert_allclose([h.score for h in result.hits], expected.scores[0], atol=1e-5)


def test_negatives_only_recommend_away_from_them(corpus):
    b = int(corpus.ids_of("B")[0])
    for strategy in STRATEGIES:
        result = corpus.run([], [corpus.example(b)], k=20, strategy=strategy)
        assert "B" not in {corpus.topic(h.id) for h in result.hits}
        assert all(h.explanation["positive"] == [] for h in result.hits)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_diversity_lowers_mean_pairwise_similarity(corpus, strategy):
    pos = [corpus.example(_a(corpus))]
    plain = corpus.run(pos, [], k=10, strategy=strategy)
    diverse = corpus.run(pos, [], k=10, strategy=strategy, diversity=1.0)
    assert {corpus.topic(h.id) for h in plain.hits} == {"A"}
    assert {corpus.topic(h.id) for h in diverse.hits} == {"A", "B", "C"}
    assert diverse.hits[0].id == plain.hits[0].id  # the most relevant always leads

    def mean_pairwise(hits) -> float:
        v = np.stack([corpus.by_id[h.id] for h in hits]).astype(np.float64)
        g = v @ v.T
        return float((g.sum() - np.trace(g)) / (len(hits) * (len(hits) - 1)))

    report = diverse.diversity_report
    assert report["mean_pairwise_similarity"] == pytest.approx(mean_pairwise(diverse.hits), abs=1e-6)
    assert report["without_diversity"] == pytest.approx(mean_pairwise(plain.hits), abs=1e-6)
    assert report["mean_pairwise_similarity"] < report["without_diversity"] - 0.3
    assert plain.diversity_report["mean_pairwise_similarity"] == plain.diversity_report["without_diversity"]
    half = corpus.run(pos, [], k=10, strategy=strategy, diversity=0.5)
    assert mean_pairwise(diverse.hits) <= mean_pairwise(half.hits) <= mean_pairwise(plain.hits)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("diversity", [0.0, 0.7])
def test_excluded_ids_never_appear(corpus, strategy, diversity):
    exclude = corpus.ids_of("A")[:25]
    result = corpus.run(
        [corpus.example(_a(corpus))], [], k=10, strategy=strategy, exclude_ids=exclude, diversity=diversity
    )
    assert len(result.hits) == 10
    assert not {h.id for h in result.hits} & set(exclude.tolist())
    if diversity == 0:  # the 5 A items left come first
        assert [corpus.topic(h.id) for h in result.hits[:5]] == ["A"] * 5


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_allowed_prefilter_is_respected(corpus, strategy):
    allowed = np.concatenate([corpus.ids_of("A")[::3], corpus.ids_of("C")[:5]])
    exclude = corpus.ids_of("A")[:1]
    result = corpus.run(
        [corpus.example(_a(corpus))],
        [],
        k=30,
        strategy=strategy,
        allowed=allowed,
        exclude_ids=exclude,
        diversity=0.2,
    )
    got = {h.id for h in result.hits}
    assert got == set(allowed.tolist()) - set(exclude.tolist())
    assert (
        corpus.run(
            [corpus.example(_a(corpus))],
            [],
            k=5,
            strategy=strategy,
            allowed=np.array([], np.int64),
        ).hits
        == []
    )


def test_candidates_are_rescored_exactly_not_taken_from_the_index(corpus):
    corpus.fetched.clear()
    result = corpus.run([corpus.example(_a(corpus))], [], k=3, strategy="best_score")
    assert {h.id for h in result.hits} <= set(corpus.fetched)
    assert result.candidates == len(set(corpus.fetched)) == len(corpus.ids)  # N = 100 >= corpus size


def test_flat_and_numpy_indexes_agree():
    flat, ref = Corpus(FlatIndex, seed=3), Corpus(NumpyIndex, seed=3)
    for strategy in STRATEGIES:
        args = ([flat.example(_a(flat))], [flat.example(int(flat.ids_of("B")[2]))], 15)
        a = flat.run(*args, strategy=strategy, diversity=0.3)
        b = ref.run(*args, strategy=strategy, diversity=0.3)
        assert [h.id for h in a.hits] == [h.id for h in b.hits]
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-6)


def test_neighbors_batch(corpus):
    ids = [_a(corpus, 0), int(corpus.ids_of("B")[3]), int(corpus.ids_of("C")[7])]
    result = neighbors_batch(corpus.index, {i: corpus.by_id[i] for i in ids}, k=5)
    assert set(result) == set(ids)
    for owner, pairs in result.items():
        assert len(pairs) == 5
        assert owner not in [i for i, _ in pairs]
        assert {corpus.topic(i) for i, _ in pairs} == {corpus.topic(owner)}
        sims = corpus.vectors @ corpus.by_id[owner]
        sims[corpus.ids == owner] = -np.inf
        expected = corpus.ids[np.argsort(-sims)[:5]]
        assert [i for i, _ in pairs] == expected.tolist()
        assert [s for _, s in pairs] == sorted((s for _, s in pairs), reverse=True)
    allowed = corpus.ids_of("C")
    filtered = neighbors_batch(corpus.index, {ids[0]: corpus.by_id[ids[0]]}, k=3, allowed=allowed)
    assert {corpus.topic(i) for i, _ in filtered[ids[0]]} == {"C"}
    assert neighbors_batch(corpus.index, {}, k=3) == {}


def test_validation_errors(corpus):
    pos = [corpus.example(_a(corpus))]
    with pytest.raises(InvalidInput, match="at least one"):
        corpus.run([], [], k=5)
    with pytest.raises(InvalidInput, match="unknown recommend strategy") as err:
        corpus.run(pos, [], k=5, strategy="median")
    assert err.value.details["choices"] == list(STRATEGIES)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InvalidInput, match="diversity"):
            corpus.run(pos, [], k=5, diversity=bad)
    with pytest.raises(InvalidInput, match="k must"):
        corpus.run(pos, [], k=0)
    with pytest.raises(DimensionMismatch) as err:
        corpus.run([Example("vector#0", np.ones(DIM + 1, np.float32))], [], k=5)
    assert err.value.details["expected"] == DIM and err.value.details["got"] == DIM + 1
    with pytest.raises(DimensionMismatch):
        neighbors_batch(corpus.index, {1: np.ones(3)}, k=2)
    with pytest.raises(InvalidInput, match="weight"):
        corpus.run([corpus.example(_a(corpus), weight=0.0)], [], k=5)
    with pytest.raises(InvalidInput, match="zero vector"):
        corpus.run([Example("vector#0", np.zeros(DIM, np.float32))], [], k=5)
    v = corpus.by_id[_a(corpus)]
    with pytest.raises(InvalidInput, match="cancel out"):  # avg_pos + avg_pos - avg_neg == 0
        corpus.run([Example("p1", v), Example("p2", -v)], [Example("n1", v), Example("n2", -v)], k=5)
    with pytest.raises(InvalidInput, match="cancel out"):
        corpus.run([Example("p1", v), Example("p2", -v)], [], k=5, strategy="best_score")


def test_profile_decay_merging_and_dislikes():
    now = datetime(2025, 6, 1, tzinfo=UTC)
    rng = np.random.default_rng(0)
    vec = {key: _unit(rng.normal(size=DIM)) for key in "abcde"}
    events = [
        Event("a", vec["a"], "like", at=now),
        Event("b", vec["b"], "like", at=now - timedelta(days=30)),  # one half-life: weighs half
        Event("c", vec["c"], "view", at=now - timedelta(days=1)),
        Event("c", vec["c"], "purchase", 2.0, at=now - timedelta(days=60)),
        Event("d", vec["d"], "dislike", at=now - timedelta(days=30)),
        Event("e", vec["e"], "view", at=now),
        Event("e", vec["e"], "dislike", at=now),  # view +1 and dislike -1 cancel
        Event("a", vec["a"], "view", at=now + timedelta(days=2)),  # future: counts as new
    ]
    positives, negatives = profile_examples(events, now, half_life_days=30)
    by_key = {e.key: e for e in positives}
    assert set(by_key) == {"a", "b", "c"}
    assert by_key["a"].weight == pytest.approx(2.0 + 1.0)
    assert by_key["a"].kinds == pytest.approx({"like": 2.0, "view": 1.0})
    assert by_key["b"].weight == pytest.approx(1.0)
    expected_c = 1.0 * 0.5 ** (1 / 30) + 3.0 * 2.0 * 0.25
    assert by_key["c"].weight == pytest.approx(expected_c)
    assert set(by_key["c"].kinds) == {"view", "purchase"}
    assert [e.key for e in positives] == ["a", "c", "b"]  # heaviest first
    assert [(e.key, e.weight) for e in negatives] == [("d", pytest.approx(0.5))]
    assert negatives[0].kinds == pytest.approx({"dislike": -0.5})

    slow, _ = profile_examples(events, now, half_life_days=300)
    assert {e.key: e.weight for e in slow}["b"] > by_key["b"].weight
    custom, custom_neg = profile_examples(events, now, 30, kind_weights={"view": -2.0})
    # a view now counts against: 'a' (like + view) cancels out and is dropped, 'c' and 'e' turn negative
    assert {e.key for e in custom} == {"b"}
    assert {e.key for e in custom_neg} == {"c", "d", "e"}

    for bad in (0, -1.0, float("inf")):
        with pytest.raises(InvalidInput, match="half_life_days"):
            profile_examples(events, now, half_life_days=bad)
    with pytest.raises(InvalidInput, match="unknown event kind"):
        profile_examples([Event("a", vec["a"], "bookmark", at=now)], now, 30)
    with pytest.raises(InvalidInput, match="timezone"):
        profile_examples([Event("a", vec["a"], "like", at=datetime(2025, 5, 1))], now, 30)


def test_profile_explanations_name_event_kinds(corpus):
    now = datetime(2025, 6, 1, tzinfo=UTC)
    a, b = _a(corpus), int(corpus.ids_of("B")[0])
    events = [
        Event(f"doc-{a}", corpus.by_id[a], "like", at=now),
        Event(f"doc-{a}", corpus.by_id[a], "share", at=now - timedelta(days=3)),
        Event(f"doc-{b}", corpus.by_id[b], "dislike", at=now),
    ]
    positives, negatives = profile_examples(events, now, half_life_days=14)
    result = corpus.run(positives, negatives, k=5, exclude_ids=np.array([a, b]))
    assert {corpus.topic(h.id) for h in result.hits} == {"A"}
    first = result.hits[0].explanation["positive"][0]
    assert first["example"] == f"doc-{a}"
    assert set(first["kinds"]) == {"like", "share"}
    last = corpus.run(positives, negatives, k=len(corpus.ids), exclude_ids=np.array([a, b])).hits[-1]
    assert last.explanation["negative"]["example"] == f"doc-{b}"
    assert last.explanation["negative"]["kinds"] == pytest.approx({"dislike": -1.0})
