"""TextVAE on synthetic clustered unit vectors: quality, operations, reproducibility, persistence, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latent.errors import Conflict, DimensionMismatch, InvalidInput, NotFound
from latent.jobs import JobCancelled
from latent.vae import TextVAE

DIM = 32
CLUSTERS = 6


def make_clusters(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors around CLUSTERS centres, each varying in its own 3-d subspace (a small latent fits)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    bases = rng.standard_normal((CLUSTERS, 3, DIM)) / np.sqrt(DIM)
    labels = rng.integers(CLUSTERS, size=n)
    coords = rng.standard_normal((n, 3)) * 0.8
    x = centres[labels] + np.einsum("nk,nkd->nd", coords, bases[labels]) + 0.02 * rng.standard_normal((n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), labels, centres.astype(np.float32)


def small_vae(**overrides: object) -> TextVAE:
    params = dict(latent_dim=8, hidden_dim=64, epochs=40, batch_size=64, kl_warmup_epochs=5, lr=3e-3, random_state=0)
    params.update(overrides)
    return TextVAE(**params)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return make_clusters(600)


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> TextVAE:
    x, _, _ = data
    reports: list[tuple[float, str]] = []
    model = small_vae().fit(x, progress=lambda done, message: reports.append((done, message)))
    model.test_reports = reports  # type: ignore[attr-defined]
    return model


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_fit_reaches_quality_bar_and_reports_metrics(fitted: TextVAE) -> None:
    m = fitted.metrics_
    assert m["val_recon_cosine"] > 0.9
    assert m["n_val"] == 60 and m["n_train"] == 540
    assert 1 <= m["active_units"] <= 8
    assert 0.0 <= m["self_retrieval_top1"] <= 1.0
    assert m["kl"] > 0 and m["training_seconds"] > 0
    assert fitted.dimension_ == DIM


def test_progress_called_once_per_epoch_and_the_figures_kept_in_history(fitted: TextVAE) -> None:
    reports = fitted.test_reports  # type: ignore[attr-defined]
    assert [done for done, _ in reports] == pytest.approx([e / 40 for e in range(1, 41)])  # (fraction, message)
    assert reports[0][1].startswith("epoch 1/40 loss ") and "val_recon_cosine" in reports[-1][1]
    history = fitted.history_
    assert [r["epoch"] for r in history] == list(range(1, 41))
    assert set(history[0]) == {"epoch", "epochs", "loss", "recon_cosine", "kl", "val_recon_cosine"}
    assert all(r["epochs"] == 40 for r in history)
    assert history[-1]["val_recon_cosine"] > history[0]["val_recon_cosine"]


def test_encode_decode_shapes_and_unit_length(fitted: TextVAE, data) -> None:
    x, _, _ = data
    mu, sigma = fitted.encode(x[:5])
    assert mu.shape == sigma.shape == (5, 8) and mu.dtype == np.float32
    assert (sigma > 0).all()
    out = fitted.decode(mu)
    assert out.shape == (5, DIM) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolation_ends_nearest_its_endpoints(fitted: TextVAE, data, method: str) -> None:
    x, labels, _ = data
    a = x[np.flatnonzero(labels == 0)[0]]
    b = x[np.flatnonzero(labels == 1)[0]]
    path = fitted.interpolate(a, b, steps=7, method=method)
    assert path.shape == (7, DIM)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-5)
    assert cos(path[0], a) > cos(path[0], b)
    assert cos(path[-1], b) > cos(path[-1], a)
    # The middle of the path is between the two: closer to b than the start is, closer to a than the end is.
    assert cos(path[3], b) > cos(path[0], b) and cos(path[3], a) > cos(path[-1], a)
    if method == "slerp":
        np.testing.assert_allclose(path[0], a, atol=1e-6)
        np.testing.assert_allclose(path[-1], b, atol=1e-6)


def test_sampling_is_reproducible_with_a_seed(fitted: TextVAE, data) -> None:
    first = fitted.sample(20, seed=3)
    np.testing.assert_array_equal(first, fitted.sample(20, seed=3))
    assert not np.allclose(first, fitted.sample(20, seed=4))
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    anchor = data[0][0]
    around = fitted.sample(20, seed=3, anchor=anchor, temperature=0.5)
    far = fitted.sample(20, seed=3)
    assert np.mean(around @ anchor) > np.mean(far @ anchor)
    still = fitted.sample(2, seed=1, anchor=anchor, temperature=0.0)
    np.testing.assert_allclose(still, np.repeat(fitted.reconstruct(anchor), 2, axis=0), atol=1e-6)


def test_observation_noise_draws_around_the_decoded_mean(fitted: TextVAE) -> None:
    means = fitted.sample(200, seed=2)
    noisy = fitted.sample(200, seed=2, observation_noise=True)
    np.testing.assert_array_equal(noisy, fitted.sample(200, seed=2, observation_noise=True))
    np.testing.assert_allclose(np.linalg.norm(noisy, axis=1), 1.0, atol=1e-5)
    cosines = (noisy * means).sum(axis=1)
    assert 0.3 < cosines.mean() < 0.999
    assert fitted.diversity(noisy) < fitted.diversity(means)


def test_prior_samples_cover_the_clusters(fitted: TextVAE, data) -> None:
    _, _, centres = data
    samples = fitted.sample(300, seed=0)
    nearest = np.argmax(samples @ centres.T, axis=1)
    assert len(np.unique(nearest)) == CLUSTERS
    assert fitted.diversity(samples) < 0.9


def test_arithmetic_with_an_attribute_direction_moves_towards_it(fitted: TextVAE, data) -> None:
    x, labels, centres = data
    direction = fitted.attribute_direction(x[labels == 2], x[labels == 3])
    assert direction.shape == (8,)
    start = x[np.flatnonzero(labels == 3)[0]]
    moved = fitted.arithmetic([(1.0, start)], offset=direction)
    before = fitted.reconstruct(start)[0]
    assert cos(moved, centres[2]) > cos(before, centres[2]) + 0.2
    assert cos(moved, centres[3]) < cos(before, centres[3])
    # Weighted terms: a - b + b decodes to a's reconstruction.
    other = x[np.flatnonzero(labels == 4)[0]]
    np.testing.assert_allclose(fitted.arithmetic([(1.0, start), (-1.0, other), (1.0, other)]), before, atol=1e-5)


def test_elbo_and_plausibility_rank_data_above_noise(fitted: TextVAE, data) -> None:
    x, _, _ = data
    rng = np.random.default_rng(9)
    noise = rng.standard_normal((50, DIM)).astype(np.float32)
    real, fake = fitted.elbo(x[:50]), fitted.elbo(noise)
    assert real.shape == (50,) and np.isfinite(real).all()
    np.testing.assert_array_equal(real, fitted.elbo(x[:50]))  # deterministic
    assert real.mean() > fake.mean()
    pct_real, pct_fake = fitted.plausibility_percentile(real), fitted.plausibility_percentile(fake)
    assert ((pct_real >= 0) & (pct_real <= 100)).all()
    assert np.median(pct_real) > 20 and np.median(pct_fake) < 5


def test_diversity_is_mean_pairwise_cosine() -> None:
    assert TextVAE.diversity(np.eye(4)) == pytest.approx(0.0, abs=1e-7)
    assert TextVAE.diversity(np.ones((3, 5))) == pytest.approx(1.0, abs=1e-6)
    v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert TextVAE.diversity(v) == pytest.approx((0 + 2 * np.sqrt(0.5)) / 3, abs=1e-6)


def test_save_load_round_trip_gives_identical_outputs(fitted: TextVAE, data, tmp_path: Path) -> None:
    x, _, _ = data
    path = tmp_path / "models" / "vae.pt"
    fitted.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["vae.pt"]  # no temp file left behind
    loaded = TextVAE.load(path)
    assert loaded.get_params() == fitted.get_params()
    assert loaded.metrics_ == fitted.metrics_ and loaded.history_ == fitted.history_
    for got, want in zip(loaded.encode(x[:20]), fitted.encode(x[:20]), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(loaded.sample(10, seed=5), fitted.sample(10, seed=5))
    np.testing.assert_array_equal(loaded.elbo(x[:10]), fitted.elbo(x[:10]))
    np.testing.assert_array_equal(loaded.interpolate(x[0], x[1], 4), fitted.interpolate(x[0], x[1], 4))
    fitted.save(path)  # overwriting an existing file works too
    assert TextVAE.load(path).dimension_ == DIM


def test_same_random_state_gives_the_same_model(data) -> None:
    x, _, _ = data
    a = small_vae(epochs=3).fit(x[:200])
    b = small_vae(epochs=3).fit(x[:200])
    np.testing.assert_array_equal(a.encode(x[:10])[0], b.encode(x[:10])[0])
    c = small_vae(epochs=3, random_state=1).fit(x[:200])
    assert not np.array_equal(a.encode(x[:10])[0], c.encode(x[:10])[0])


def test_fit_without_a_validation_split_measures_on_the_training_data(data) -> None:
    x, _, _ = data
    model = small_vae(epochs=2, val_fraction=0.0, prior="gaussian").fit(x[:100])
    assert model.metrics_["n_val"] == 0 and model.metrics_["n_train"] == 100
    assert model.metrics_["self_retrieval_queries"] == 100
    assert model.sample(3, seed=0).shape == (3, DIM)


def test_should_stop_cancels_and_leaves_the_model_unfitted(data) -> None:
    x, _, _ = data
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    model = small_vae(epochs=10)
    with pytest.raises(JobCancelled) as info:
        model.fit(x[:200], should_stop=stop)
    assert info.value.details == {"epoch": 2, "epochs": 10}
    assert not model.is_fitted
    with pytest.raises(Conflict):
        model.encode(x[:1])


def test_bad_input_raises_domain_errors(fitted: TextVAE, data) -> None:
    x, _, _ = data
    with pytest.raises(DimensionMismatch) as info:
        fitted.encode(np.ones((2, DIM + 1), dtype=np.float32))
    assert info.value.details["expected"] == DIM
    with pytest.raises(DimensionMismatch):
        fitted.decode(np.zeros((1, 3)))
    with pytest.raises(DimensionMismatch):
        fitted.interpolate(x[0], np.ones(DIM + 2), steps=3)
    for steps in (0, -1, 1, 2.5):
        with pytest.raises(InvalidInput):
            fitted.interpolate(x[0], x[1], steps=steps)
    with pytest.raises(InvalidInput):
        fitted.interpolate(x[0], x[1], steps=3, method="cubic")
    with pytest.raises(InvalidInput):
        fitted.encode(np.full((1, DIM), np.nan))
    with pytest.raises(InvalidInput):
        fitted.encode(np.zeros((1, DIM)))
    with pytest.raises(InvalidInput):
        fitted.sample(0)
    with pytest.raises(InvalidInput):
        fitted.sample(3, temperature=-1.0)
    with pytest.raises(InvalidInput):
        fitted.arithmetic([])
    with pytest.raises(InvalidInput):
        fitted.arithmetic([(1.0, x[0])], offset=np.ones(3))
    with pytest.raises(InvalidInput):
        fitted.plausibility_percentile([float("nan")])
    with pytest.raises(InvalidInput):
        TextVAE(latent_dim=0).fit(x)
    with pytest.raises(InvalidInput):
        TextVAE(prior="flat").fit(x)
    with pytest.raises(InvalidInput):
        TextVAE().fit(x[:2])
    with pytest.raises(InvalidInput):
        TextVAE().set_params(depth=3)


def test_load_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        TextVAE.load(tmp_path / "absent.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(InvalidInput):
        TextVAE.load(junk)
    import torch

    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(InvalidInput):
        TextVAE.load(other)
    future = tmp_path / "future.pt"
    torch.save({"format": "latent-text-vae", "version": 99}, future)
    with pytest.raises(InvalidInput, match="version"):
        TextVAE.load(future)


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, latent.vae; assert 'torch' not in sys.modules, 'torch imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)
