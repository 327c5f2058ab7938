"""UMAP maps: seeded, new points placed without moving old ones, refits aligned, quality measured, saved."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from latent.errors import Conflict, DimensionMismatch, InvalidInput, NotFound
from latent.jobs import JobCancelled
from latent.maps.align import displacement, procrustes
from latent.maps.model import LatentMap, quality

# UMAP fits cost ~1 s each here after numba's one-off compile: the tests share fits where they can.


def patches(per_cluster: int = 80, dim: int = 32, seed: int = 0, draw: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three far-apart clusters, each a flat 2-D patch in `dim` dimensions (so 2-D can keep neighbourhoods).

    `seed` fixes the clusters, `draw` the points sampled from them.
    """
    shape = np.random.default_rng(seed)
    centres = shape.standard_normal((3, dim)) * 4
    planes = [np.linalg.qr(shape.standard_normal((dim, 2)))[0].T for _ in range(3)]
    rng = np.random.default_rng(1000 + draw)
    rows, truth = [], []
    for c in range(3):
        spread = rng.uniform(-1, 1, (per_cluster, 2)) @ planes[c]
        rows.append(centres[c] + spread + 0.01 * rng.standard_normal((per_cluster, dim)))
        truth += [c] * per_cluster
    return np.vstack(rows).astype(np.float32), np.array(truth)


def sheet(n: int, draw: int = 0, dim: int = 32) -> np.ndarray:
    """A connected curved 2-D sheet in `dim` dimensions: its overall orientation on a map is arbitrary."""
    lift = np.random.default_rng(0).standard_normal((6, dim))
    rng = np.random.default_rng(1000 + draw)
    u, v = rng.uniform(0, 3, n), rng.uniform(0, 1, n)
    features = np.stack([u, v, np.sin(2 * u), np.cos(2 * u), u * v, np.sin(3 * v)], axis=1)
    return (features @ lift + 0.01 * rng.standard_normal((n, dim))).astype(np.float32)


def nearest_cluster(coords: np.ndarray, embedding: np.ndarray, truth: np.ndarray) -> np.ndarray:
    centres = np.array([embedding[truth == c].mean(axis=0) for c in range(3)])
    return np.argmin(((coords[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return patches()


@pytest.fixture(scope="module")
def fitted(data) -> LatentMap:
    return LatentMap(n_neighbors=15, random_state=42).fit(data[0])


def test_fit_is_seeded_and_separates_clusters(data, fitted):
    X, truth = data
    assert fitted.embedding_.shape == (len(X), 2) and fitted.embedding_.dtype == np.float32
    again = LatentMap(n_neighbors=15, random_state=42).fit(X)
    np.testing.assert_array_equal(again.embedding_, fitted.embedding_)
    assert (nearest_cluster(fitted.embedding_, fitted.embedding_, truth) == truth).all()


def test_transform_places_new_points_without_moving_old_ones(data, fitted):
    X, truth = data
    before = fitted.embedding_.copy()
    fresh, fresh_truth = patches(per_cluster=10, draw=1)  # new points from the same clusters
    placed = fitted.transform(fresh)
    assert placed.shape == (len(fresh), 2)
    np.testing.assert_array_equal(fitted.embedding_, before)
    np.testing.assert_array_equal(fitted.transform(fresh), placed)
    assert (nearest_cluster(placed, fitted.embedding_, truth) == fresh_truth).all()
    assert fitted.transform(np.zeros((0, X.shape[1]))).shape == (0, 2)


def test_refit_aligns_to_previous_layout():
    X = sheet(240)
    previous = LatentMap(random_state=42).fit(X).embedding_
    ids = [f"d{i}" for i in range(len(X))]
    extra = sheet(30, draw=1)  # new documents
    keep = np.arange(0, len(X), 2)  # half the old documents stay
    X2 = np.vstack([X[keep], extra])
    ids2 = [ids[i] for i in keep] + [f"n{i}" for i in range(len(extra))]

    unaligned = LatentMap(random_state=7).fit(X2)
    rotated = LatentMap(random_state=7).refit(X2, ids, previous, ids2, warm_start=False)
    warm = LatentMap(random_state=7).refit(X2, ids, previous, ids2)

    before = displacement(unaligned.embedding_[: len(keep)], previous[keep])
    assert rotated.displacement_.shared == warm.displacement_.shared == len(keep)
    for aligned in (rotated, warm):
        assert aligned.displacement_.relative_median < 0.5 * before.relative_median
        assert aligned.displacement_.relative_median < 0.4
    # Starting from the old positions keeps shared points closer still, without hurting the map.
    assert warm.displacement_.relative_median <= rotated.displacement_.relative_median
    assert warm.quality(X2).trustworthiness >= 0.95
    # Without a warm start the aligned layout is the fresh one moved by one similarity transform,
    # which is never farther off (in squared distance) than the fresh layout itself.
    np.testing.assert_allclose(rotated.embedding_, rotated.alignment_.apply(unaligned.embedding_), atol=1e-3)
    squared = lambda m: float(((m.embedding_[: len(keep)] - previous[keep]) ** 2).sum())  # noqa: E731
    assert squared(rotated) <= squared(unaligned)
    # Points placed later land in the aligned frame too.
    np.testing.assert_allclose(
        rotated.transform(extra[:5]), rotated.alignment_.apply(unaligned.transform(extra[:5])), atol=1e-3
    )


def test_refit_without_shared_points_keeps_fresh_layout(data):
    X, _ = data
    refitted = LatentMap(random_state=3).refit(X[:40], ["x", "y"], np.zeros((2, 2)), [f"d{i}" for i in range(40)])
    assert refitted.alignment_ is None and refitted.displacement_.shared == 0
    with pytest.raises(InvalidInput):
        LatentMap().refit(X[:40], ["a"], np.zeros((2, 2)), [f"d{i}" for i in range(40)])
    with pytest.raises(InvalidInput):
        LatentMap().refit(X[:40], [], np.zeros((0, 2)), ["same"] * 40)


def test_procrustes_recovers_a_known_similarity_transform():
    rng = np.random.default_rng(0)
    source = rng.standard_normal((50, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    target = 2.5 * source @ rotation + np.array([3.0, -1.0])
    alignment = procrustes(source, target)
    np.testing.assert_allclose(alignment.apply(source), target, atol=1e-5)
    assert alignment.scale == pytest.approx(2.5) and alignment.as_dict()["reflected"] is True


def test_quality_is_high_for_a_good_map_and_low_for_a_random_one(data, fitted):
    X, _ = data
    good = fitted.quality(X)
    noise = quality(X, np.random.default_rng(0).standard_normal((len(X), 2)))
    for figure in (good, noise):
        assert 0.0 <= figure.trustworthiness <= 1.0 and 0.0 <= figure.knn_preservation <= 1.0
    assert good.trustworthiness >= 0.9 and good.knn_preservation >= 0.5
    assert noise.trustworthiness < 0.6 and noise.knn_preservation < 0.15
    assert good.k == 10 and good.sample == len(X)
    sampled = quality(X, fitted.embedding_, sample=60)
    assert sampled.sample == 60 and sampled.trustworthiness >= 0.8
    with pytest.raises(InvalidInput):
        quality(X, fitted.embedding_[:10])


def test_sampled_fit_places_the_rest_with_transform(data):
    X, truth = data
    stages: list[str] = []
    sampled = LatentMap(sample=120, batch_size=50, random_state=1).fit(
        X, progress=lambda done, stage: stages.append(stage)
    )
    assert len(sampled.sample_index_) == 120 and sampled.embedding_.shape == (len(X), 2)
    assert stages == ["umap-fit", "umap-transform", "umap-transform", "umap-transform", "done"]
    assert (nearest_cluster(sampled.embedding_, sampled.embedding_, truth) == truth).all()
    assert sampled.quality(X).trustworthiness >= 0.85


def test_save_and_load_round_trip(data, fitted, tmp_path):
    X, _ = data
    path = fitted.save(tmp_path / "maps" / "m1.pkl")
    assert [p.name for p in path.parent.iterdir()] == ["m1.pkl"]  # no temp file left behind
    loaded = LatentMap.load(path)
    np.testing.assert_array_equal(loaded.embedding_, fitted.embedding_)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.transform(X[:5] + 0.01), fitted.transform(X[:5] + 0.01))
    with pytest.raises(NotFound):
        LatentMap.load(tmp_path / "missing.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(InvalidInput):
        LatentMap.load(tmp_path / "junk.pkl")
    (tmp_path / "other.pkl").write_bytes(pickle.dumps({"format": "something-else"}))
    with pytest.raises(InvalidInput):
        LatentMap.load(tmp_path / "other.pkl")


def test_bad_input_raises_domain_errors(data, fitted):
    X, _ = data
    with pytest.raises(InvalidInput):
        LatentMap().fit(X[:3])
    with pytest.raises(InvalidInput):
        LatentMap(metric="no-such-metric").fit(X)
    with pytest.raises(InvalidInput):
        LatentMap(n_neighbors=1).fit(X)
    with pytest.raises(DimensionMismatch):
        fitted.transform(np.ones((2, 5)))
    with pytest.raises(Conflict):
        LatentMap().transform(X)
    with pytest.raises(JobCancelled):
        LatentMap().fit(X, should_stop=lambda: True)
