"""Text VAE on SciFact embeddings: the quality goals, sample diversity and a beta / latent-size trade-off.

Trains on a seeded 90% of the documents and validates on the other 10%. Baselines measured in the same run:
PCA with the same latent size (the linear, closed-form counterpart; a Gaussian fitted in its space for
samples) and the same network trained "plain" (no input noise, dropout, free bits or warm-up; samples
decoded from N(0, I) without observation noise), each reported as a ratio or a gap.

Goals: validation reconstruction cosine >= 0.80, self-retrieval top-1 >= 0.90, prior-sample diversity
(mean pairwise cosine of 1,000 samples) within 0.05 of the real documents'.

    .venv/bin/python bench/vae.py                                  # ~15-25 min on 2 cores, grid included
    .venv/bin/python bench/vae.py --embeddings vectors.npy --grid 64:1,128:0.5

Without --embeddings, title + " " + text is encoded with the bundled model (~5 min for all 5,183
documents) and cached under /tmp/latent-bench/.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import SCIFACT, embeddings_for, load_corpus, print_table, write_results  # noqa: E402

N_SAMPLES = 1000


def sample_figures(samples: np.ndarray, corpus: np.ndarray, prefix: str) -> dict[str, float]:
    """Diversity of a sample set and how close its members come to real documents."""
    from latent.vae.ops import best_cosines, mean_pairwise_cosine

    return {
        f"{prefix}diversity": mean_pairwise_cosine(samples),
        f"{prefix}best_cosine": float(best_cosines(samples, corpus)[0].mean()),
    }


def bench_vae(params: dict[str, Any], train: np.ndarray, val: np.ndarray, corpus: np.ndarray) -> dict[str, Any]:
    """Fit one TextVAE and measure it; samples are 1,000 prior draws with seed 0."""
    from latent.vae import TextVAE

    model = TextVAE(**params)
    started = time.perf_counter()
    model.fit(train, validation=val)
    seconds = time.perf_counter() - started
    m = model.metrics_
    row = {
        "latent_dim": model.latent_dim,
        "beta": model.beta,
        "prior": model.prior,
        "train_s": seconds,
        "val_recon_cosine": m["val_recon_cosine"],
        "train_recon_cosine": m["train_recon_cosine"],
        "kl": m["kl"],
        "active_units": m["active_units"],
        "self_retrieval_top1": m["self_retrieval_top1"],
        "best_epoch": m["best_epoch"],
        "kappa": m["kappa"],
    }
    row |= sample_figures(model.sample(N_SAMPLES, seed=0), corpus, "sample_")
    row |= sample_figures(model.sample(N_SAMPLES, seed=0, observation_noise=True), corpus, "noisy_sample_")
    row["val_median_plausibility"] = float(np.median(model.plausibility_percentile(model.elbo(val))))
    return row


def bench_pca(
    k: int, train: np.ndarray, val: np.ndarray, corpus: np.ndarray, prior_kind: str, components: int
) -> dict[str, Any]:
    """PCA with k components: held-out reconstruction, self-retrieval, and samples in its space from a
    Gaussian fitted to the training coordinates and from the VAE's kind of sampling prior."""
    from latent.vae.ops import self_retrieval_rate
    from latent.vae.prior import fit_prior

    started = time.perf_counter()
    mean = train.mean(axis=0)
    _, s, vt = np.linalg.svd(train - mean, full_matrices=False)
    basis = vt[:k]
    seconds = time.perf_counter() - started
    recon = (val - mean) @ basis.T @ basis + mean
    recon /= np.linalg.norm(recon, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    scales = s[:k] / np.sqrt(len(train) - 1)
    samples = mean + (rng.standard_normal((N_SAMPLES, k)) * scales) @ basis
    samples = (samples / np.linalg.norm(samples, axis=1, keepdims=True)).astype(np.float32)
    # The VAE's sampling prior on PCA coordinates: tells what the non-linear decoder adds to samples.
    coords = (train - mean) @ basis.T
    prior = fit_prior(prior_kind, coords, np.zeros_like(coords), components, seed=0)
    z = prior.sample(rng.standard_normal((N_SAMPLES, k)).astype(np.float32), rng, 1.0)
    mixed = z @ basis + mean
    mixed = (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)
    return {
        "latent_dim": k,
        "train_s": seconds,
        "val_recon_cosine": float((recon * val).sum(axis=1).mean()),
        "self_retrieval_top1": self_retrieval_rate(recon.astype(np.float32), corpus, np.arange(len(val))),
        **sample_figures(samples, corpus, "sample_"),
        **sample_figures(mixed, corpus, f"{prior_kind}_prior_sample_"),
    }


def parse_grid(spec: str) -> list[tuple[int, float]]:
    if spec.strip().lower() in ("", "none"):
        return []
    grid = []
    for item in spec.split(","):
        latent, beta = item.split(":")
        grid.append((int(latent), float(beta)))
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings", type=Path, help="a .npy of document vectors in corpus order")
    parser.add_argument("--data", type=Path, default=SCIFACT, help="folder holding corpus.jsonl")
    parser.add_argument("--limit", type=int, help="use the first N documents")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="encoder when no --embeddings is given")
    parser.add_argument("--epochs", type=int, help="override the default number of epochs everywhere")
    parser.add_argument(
        "--grid",
        default="32:0.25,64:0.25,64:1,128:0.1,128:0.25,128:0.5,128:1,192:0.25",
        help="latent_dim:beta settings for the trade-off table ('none' to skip)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of every model")
    args = parser.parse_args()

    import os

    os.environ.setdefault("COLUMNS", "200")  # rich would wrap the wide tables at 80 columns when piped
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from latent.vae import TextVAE
    from latent.vae.ops import best_cosines, mean_pairwise_cosine

    docs = load_corpus(args.data, args.limit)
    vectors = embeddings_for(docs, args.embeddings, args.model)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    order = np.random.default_rng(args.seed).permutation(len(vectors))
    n_val = len(vectors) // 10
    # Corpus order puts the validation rows first, which is what bench_pca's self-retrieval positions assume.
    val, train = vectors[order[:n_val]], vectors[order[n_val:]]
    corpus = np.concatenate([val, train])
    base = {"random_state": args.seed} | ({"epochs": args.epochs} if args.epochs else {})
    defaults = TextVAE(**base).get_params()

    real = {
        "documents": len(vectors),
        "real_diversity": mean_pairwise_cosine(vectors),
        "real_val_best_cosine_to_train": float(best_cosines(val, train)[0].mean()),
    }
    print_table("SciFact embeddings", [real])

    main_row = bench_vae(base, train, val, corpus)
    plain_params = base | {"noise": 0.0, "dropout": 0.0, "free_bits": 0.0, "kl_warmup_epochs": 0}
    plain_params |= {"weight_decay": 0.0, "prior": "standard", "latent_dim": 64, "beta": 1.0}
    plain = bench_vae(plain_params, train, val, corpus)
    pca = bench_pca(int(defaults["latent_dim"]), train, val, corpus, defaults["prior"], defaults["prior_components"])
    kind = defaults["prior"]
    pca_prior = {
        "sample_diversity": pca[f"{kind}_prior_sample_diversity"],
        "sample_best_cosine": pca[f"{kind}_prior_sample_best_cosine"],
    }
    goals = {
        "val_recon_cosine>=0.80": main_row["val_recon_cosine"] >= 0.80,
        "self_retrieval_top1>=0.90": main_row["self_retrieval_top1"] >= 0.90,
        "diversity_gap<=0.05": abs(main_row["sample_diversity"] - real["real_diversity"]) <= 0.05,
    }
    ratios = {
        "recon_vs_pca": main_row["val_recon_cosine"] / pca["val_recon_cosine"],
        "recon_vs_plain": main_row["val_recon_cosine"] / plain["val_recon_cosine"],
        "diversity_gap": main_row["sample_diversity"] - real["real_diversity"],
        "plain_diversity_gap": plain["sample_diversity"] - real["real_diversity"],
        "pca_diversity_gap": pca["sample_diversity"] - real["real_diversity"],
        "best_cosine_vs_pca_prior": main_row["sample_best_cosine"] / pca_prior["sample_best_cosine"],
    }
    cols = ["train_s", "val_recon_cosine", "active_units", "self_retrieval_top1", "sample_diversity"]
    cols += ["sample_best_cosine", "noisy_sample_diversity", "kl"]
    named = [("TextVAE (defaults)", main_row), ("TextVAE plain", plain)]
    named += [(f"PCA-{pca['latent_dim']}", pca), (f"PCA-{pca['latent_dim']} + {kind} prior", pca_prior)]
    summary = [{"model": name} | {c: row.get(c, float("nan")) for c in cols} for name, row in named]
    print_table(f"TextVAE vs baselines ({len(train)} train / {len(val)} validation)", summary)
    print_table("Goals and ratios", [goals | ratios])

    grid = []
    for latent_dim, beta in parse_grid(args.grid):
        if latent_dim == defaults["latent_dim"] and beta == defaults["beta"]:
            grid.append(main_row)
            continue
        grid.append(bench_vae(base | {"latent_dim": latent_dim, "beta": beta}, train, val, corpus))
        print(f"  grid {latent_dim}:{beta} done", file=sys.stderr)
    grid_cols = ["latent_dim", "beta", "train_s", "val_recon_cosine", "kl", "active_units"]
    grid_cols += ["self_retrieval_top1", "sample_diversity", "sample_best_cosine", "noisy_sample_diversity"]
    print_table("beta / latent-size trade-off", [{c: row[c] for c in grid_cols} for row in grid])

    path = write_results(
        "vae",
        {
            "data": real,
            "split": {"train": len(train), "val": len(val), "seed": args.seed},
            "defaults": defaults,
            "textvae": main_row,
            "plain": plain | {"params": plain_params},
            "pca": pca,
            "goals": goals,
            "ratios": ratios,
            "grid": grid,
        },
    )
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
