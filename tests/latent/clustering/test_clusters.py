"""Clustering recovers clearly separate topics, and cluster summaries name them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from latent.clustering.model import ClusterModel, describe_clusters
from latent.clustering.terms import class_tfidf, tokenize, top_terms
from latent.embedder.fake import FakeEncoder
from latent.errors import Conflict, DimensionMismatch, InvalidInput
from latent.jobs import JobCancelled

TOPICS = {
    "astronomy": "galaxy telescope planet orbit comet nebula star asteroid supernova eclipse "
    "cosmos quasar meteor crater lunar solar pulsar astronomer observatory spectrum",
    "cooking": "recipe oven garlic butter flour simmer sauce onion pepper skillet "
    "dough roast basil whisk vinegar pastry broth spice bake knead",
    "football": "goal striker referee penalty midfielder stadium league match coach tackle "
    "keeper offside dribble corner fans derby transfer season kickoff winger",
}
FILLER = "new report people today shows great many part first week".split()


def topic_corpus(per_topic: int = 20, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Short texts: twelve of one topic's twenty words plus two generic words; truth = topic index."""
    rng = np.random.default_rng(seed)
    texts, truth = [], []
    for t, words in enumerate(TOPICS.values()):
        vocab = words.split()
        for _ in range(per_topic):
            chosen = list(rng.choice(vocab, size=12, replace=False)) + list(rng.choice(FILLER, size=2))
            rng.shuffle(chosen)
            texts.append("The " + " ".join(chosen) + ".")
            truth.append(t)
    return texts, np.array(truth)


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], np.ndarray, np.ndarray]:
    texts, truth = topic_corpus()
    return texts, FakeEncoder(dimension=64).encode(texts), truth


def test_kmeans_with_given_k_recovers_topics(corpus):
    _, X, truth = corpus
    model = ClusterModel(k=3).fit(X)
    assert adjusted_rand_score(truth, model.labels_) >= 0.8
    assert model.n_clusters_ == 3
    assert model.centroids_.shape == (3, X.shape[1])
    np.testing.assert_allclose(np.linalg.norm(model.centroids_, axis=1), 1.0, rtol=1e-5)
    assert model.sizes_.sum() == len(X) and list(model.sizes_) == sorted(model.sizes_, reverse=True)
    assert 0.0 < model.silhouette_ <= 1.0


def test_kmeans_chooses_k_by_silhouette(corpus):
    _, X, truth = corpus
    model = ClusterModel(k=None, k_range=(2, 8)).fit(X)
    assert set(model.k_scores_) == set(range(2, 9))
    assert model.n_clusters_ == 3 == max(model.k_scores_, key=model.k_scores_.get)
    assert adjusted_rand_score(truth, model.labels_) >= 0.8


def test_kmeans_is_seeded(corpus):
    _, X, _ = corpus
    first = ClusterModel(k=3, random_state=7).fit(X)
    second = ClusterModel(k=3, random_state=7).fit(X)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(first.centroids_, second.centroids_)


def test_predict_assigns_nearest_centroid(corpus):
    texts, X, _ = corpus
    model = ClusterModel(k=3).fit(X)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    fresh, truth = topic_corpus(per_topic=5, seed=99)
    predicted = model.predict(FakeEncoder(dimension=64).encode(fresh))
    # Each new text lands in the cluster that holds the training texts of its topic.
    topic_cluster = {t: np.bincount(model.labels_[corpus[2] == t]).argmax() for t in range(3)}
    assert np.mean(predicted == np.array([topic_cluster[t] for t in truth])) >= 0.9


def test_hdbscan_finds_topics(corpus):
    _, X, truth = corpus
    model = ClusterModel(algorithm="hdbscan", min_cluster_size=5).fit(X)
    assert model.n_clusters_ == 3
    clustered = model.labels_ >= 0
    assert clustered.mean() >= 0.8
    assert adjusted_rand_score(truth[clustered], model.labels_[clustered]) >= 0.8
    # Noise rows get their nearest member-mean centroid from predict.
    assert set(model.predict(X)) <= {0, 1, 2}


def test_hdbscan_on_umap_reduction(corpus):
    _, X, truth = corpus
    model = ClusterModel(algorithm="hdbscan", min_cluster_size=8, reduce=5).fit(X)
    assert model.n_clusters_ == 3
    assert adjusted_rand_score(truth, model.labels_) >= 0.8


def test_describe_clusters_names_topics(corpus):
    texts, X, truth = corpus
    model = ClusterModel(k=3).fit(X)
    ids = [f"doc-{i}" for i in range(len(texts))]
    summaries = describe_clusters(X, model.labels_, texts, ids, n_terms=8, n_representatives=5)
    assert [s.id for s in summaries] == [0, 1, 2]
    for summary in summaries:
        members = model.labels_ == summary.id
        topic = list(TOPICS)[np.bincount(truth[members]).argmax()]
        topic_words = set(TOPICS[topic].split())
        assert summary.size == members.sum()
        assert len(summary.terms) == 8 and set(summary.terms) <= topic_words
        assert summary.label == ", ".join(summary.terms[:3])
        assert len(summary.representatives) == 5
        assert all(model.labels_[ids.index(r)] == summary.id for r in summary.representatives)
        # The first representative is the member closest to the centroid.
        member_rows = np.flatnonzero(members)
        best = member_rows[np.argmax(X[member_rows] @ summary.centroid)]
        assert summary.representatives[0] == ids[best]


def test_describe_clusters_skips_noise_and_checks_lengths():
    texts = ["alpha beta", "alpha gamma", "delta epsilon", "delta zeta", "noise words here"]
    X = FakeEncoder(dimension=16).encode(texts)
    summaries = describe_clusters(X, [0, 0, 1, 1, -1], texts, list("abcde"), min_df=1)
    assert [(s.id, s.terms[0]) for s in summaries] == [(0, "alpha"), (1, "delta")]
    with pytest.raises(InvalidInput):
        describe_clusters(X, [0, 0, 1], texts, list("abcde"))


def test_class_tfidf_prefers_distinctive_terms():
    texts = ["cat cat dog", "cat mouse", "dog bone", "dog ball the and"]
    order, vocab, weights = class_tfidf(texts, [0, 0, 1, 1])
    assert order == [0, 1] and "the" not in vocab and "and" not in vocab
    assert top_terms(weights, vocab, 1) == [["cat"], ["dog"]]
    assert tokenize("The COVID-19 study of p53 in 2019, 19th") == ["covid-19", "study", "p53"]
    # A plural and its singular count as one term, shown in the singular.
    order, vocab, weights = class_tfidf(["stem cells", "cell cells", "glass brain", "brain neurons"], [0, 0, 1, 1])
    assert "cells" not in vocab and "glass" in vocab
    assert top_terms(weights, vocab, 1) == [["cell"], ["brain"]]


def test_bad_input_and_params_raise_domain_errors(corpus):
    _, X, _ = corpus
    with pytest.raises(InvalidInput):
        ClusterModel(algorithm="spectral").fit(X)
    with pytest.raises(InvalidInput):
        ClusterModel(k=500).fit(X)
    with pytest.raises(InvalidInput):
        ClusterModel(k="ten").fit(X)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        ClusterModel(k=2).fit(np.array([[np.nan, 1.0], [1.0, 0.0]]))
    with pytest.raises(InvalidInput):
        ClusterModel(k=2).fit(np.ones(5))
    with pytest.raises(Conflict):
        ClusterModel().predict(X)
    with pytest.raises(DimensionMismatch):
        ClusterModel(k=3).fit(X).predict(np.ones((2, 5)))


def test_progress_and_cancellation(corpus):
    _, X, _ = corpus
    stages: list[tuple[str, float]] = []
    ClusterModel(k_range=(2, 4)).fit(X, progress=lambda done, stage: stages.append((stage, done)))
    assert [s for s, _ in stages if s == "choose-k"] == ["choose-k"] * 3
    assert stages[-1] == ("done", 1.0)
    model = ClusterModel(k=3).fit(X)
    before = model.labels_.copy()
    calls = iter(range(100))
    with pytest.raises(JobCancelled):  # stop at the second check: after k-means, before the silhouette
        model.fit(X[:30], should_stop=lambda: next(calls) >= 1)
    np.testing.assert_array_equal(model.labels_, before)  # a cancelled fit leaves the last one intact
