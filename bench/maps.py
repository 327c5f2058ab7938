"""Maps and clustering on SciFact embeddings: UMAP fit/transform cost and faithfulness, k-means and HDBSCAN.

Baselines measured in the same run: a 2-D PCA map (quality and time ratios) and sklearn's KMeans
(time ratio against FAISS k-means at the same k). A refit on the corpus plus held-out documents measures
how far shared points move: a fresh layout as is, Procrustes-aligned, and warm-started + aligned.

    .venv/bin/python bench/maps.py --limit 2000
    .venv/bin/python bench/maps.py --embeddings vectors.npy      # rows in corpus order

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

from bench._common import SCIFACT, doc_text, embeddings_for, load_corpus, print_table, write_results  # noqa: E402


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def bench_maps(X: np.ndarray, held: np.ndarray, ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    import umap
    from sklearn.decomposition import PCA

    from latent.maps.align import displacement
    from latent.maps.model import LatentMap, quality

    def warm_up() -> None:
        # numba compiles UMAP's kernels on first use; compile both neighbour paths (NNDescent and
        # exact) on throw-away maps so that compile time is in no measured figure.
        LatentMap(random_state=0).fit(X[:1200]).transform(held[:10])
        umap.UMAP(metric="cosine", random_state=0, n_jobs=1).fit(X[:300]).transform(held[:10])

    _, jit = timed(warm_up)
    latent_map, fit_s = timed(LatentMap(random_state=42, sample=args.sample).fit, X)
    placed, transform_s = timed(latent_map.transform, held)
    # Baseline: umap-learn with its defaults (exact neighbours below 4,096 points), same parameters.
    plain, plain_fit_s = timed(
        umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=42, n_jobs=1).fit, X
    )
    _, plain_transform_s = timed(plain.transform, held)
    umap_quality = quality(X, latent_map.embedding_, sample=args.quality_sample)
    pca_coords, pca_s = timed(lambda: PCA(n_components=2, random_state=0).fit_transform(X))
    pca_quality = quality(X, pca_coords, sample=args.quality_sample)
    out: dict[str, Any] = {
        "jit_warmup_s": jit,
        "fit_points": len(X),
        "umap_fit_s": fit_s,
        "transform_points": len(held),
        "transform_docs_per_s": len(held) / transform_s,
        "umap_learn_fit_s": plain_fit_s,
        "umap_learn_transform_docs_per_s": len(held) / plain_transform_s,
        "fit_speedup_vs_umap_learn": plain_fit_s / fit_s,
        "transform_speedup_vs_umap_learn": plain_transform_s / transform_s,
        "umap_learn_quality": quality(X, plain.embedding_, sample=args.quality_sample).as_dict(),
        "umap": umap_quality.as_dict(),
        "pca_fit_s": pca_s,
        "pca": pca_quality.as_dict(),
        "trustworthiness_ratio_vs_pca": umap_quality.trustworthiness / pca_quality.trustworthiness,
        "knn_preservation_ratio_vs_pca": umap_quality.knn_preservation / pca_quality.knn_preservation,
    }
    if not args.no_refit:
        X2 = np.vstack([X, held])
        ids2 = ids[: len(X)] + [f"held-{i}" for i in range(len(held))]
        fresh, fresh_s = timed(LatentMap(random_state=7, sample=args.sample).fit, X2)
        rotated = LatentMap(random_state=7, sample=args.sample).refit(
            X2, ids[: len(X)], latent_map.embedding_, ids2, warm_start=False
        )
        warm, warm_s = timed(
            LatentMap(random_state=7, sample=args.sample).refit,
            X2,
            ids[: len(X)],
            latent_map.embedding_,
            ids2,
        )
        out["refit"] = {
            "points": len(X2),
            "fresh_fit_s": fresh_s,
            "warm_refit_s": warm_s,
            "unaligned": displacement(fresh.embedding_[: len(X)], latent_map.embedding_).as_dict(),
            "procrustes": rotated.displacement_.as_dict(),
            "warm_start": warm.displacement_.as_dict(),
            "warm_start_quality": warm.quality(X2, sample=args.quality_sample).as_dict(),
        }
    del placed
    return out


def bench_clusters(X: np.ndarray, texts: list[str], ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    from latent.clustering.model import ClusterModel, cosine_silhouette, describe_clusters
    from latent.vectors import unit_rows

    units = unit_rows(X)
    kmeans, kmeans_s = timed(ClusterModel(k=args.k).fit, X)
    sk_labels, sk_s = timed(lambda: KMeans(args.k, n_init=3, random_state=0).fit_predict(units))
    auto, auto_s = timed(ClusterModel(k=None, k_range=tuple(args.k_range)).fit, X)
    summaries, describe_s = timed(describe_clusters, X, kmeans.labels_, texts, ids)
    out: dict[str, Any] = {
        "kmeans": {"k": args.k, "fit_s": kmeans_s, "silhouette": kmeans.silhouette_},
        "sklearn_kmeans": {
            "k": args.k,
            "fit_s": sk_s,
            "silhouette": cosine_silhouette(units, sk_labels, 4000, 0),
        },
        "kmeans_time_ratio_vs_sklearn": kmeans_s / sk_s,
        "kmeans_auto": {
            "k_range": list(args.k_range),
            "fit_s": auto_s,
            "chosen_k": auto.n_clusters_,
            "silhouette": auto.silhouette_,
            "scores": auto.k_scores_,
        },
        "describe_s": describe_s,
        "labels": [{"id": s.id, "size": s.size, "label": s.label} for s in summaries[:8]],
    }
    for name, reduce in (("hdbscan", None), ("hdbscan_umap5", 5)):
        model, seconds = timed(
            ClusterModel(algorithm="hdbscan", min_cluster_size=args.min_cluster_size, reduce=reduce).fit, X
        )
        out[name] = {
            "reduce": reduce,
            "min_cluster_size": args.min_cluster_size,
            "fit_s": seconds,
            "clusters": model.n_clusters_,
            "noise_fraction": float(np.mean(model.labels_ < 0)),
            "silhouette": model.silhouette_,
        }
    return out


def quality_text(figures: dict[str, Any]) -> str:
    return f"trust {figures['trustworthiness']:.3f}, kNN@10 {figures['knn_preservation']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings", type=Path, help="a .npy of document vectors in corpus order")
    parser.add_argument("--data", type=Path, default=SCIFACT, help="folder holding corpus.jsonl")
    parser.add_argument("--limit", type=int, help="use the first N documents")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="encoder when no --embeddings is given")
    parser.add_argument("--held-out", type=float, default=0.1, help="fraction kept out of the fit and transformed")
    parser.add_argument("--sample", type=int, default=50_000, help="LatentMap sample (fit on at most this many)")
    parser.add_argument("--quality-sample", type=int, default=2000, help="points sampled for the quality figures")
    parser.add_argument("--k", type=int, default=20, help="k for the fixed-k k-means runs")
    parser.add_argument("--k-range", type=int, nargs=2, default=(2, 30), help="range searched for the best k")
    parser.add_argument("--min-cluster-size", type=int, default=15, help="HDBSCAN min_cluster_size")
    parser.add_argument("--no-refit", action="store_true", help="skip the refit-stability runs (3 more fits)")
    parser.add_argument("--threads", type=int, help="cap FAISS/BLAS/OpenMP threads (default: library defaults)")
    args = parser.parse_args()
    if args.threads:
        import faiss
        from threadpoolctl import threadpool_limits

        faiss.omp_set_num_threads(args.threads)
        threadpool_limits(args.threads)

    docs = load_corpus(args.data, args.limit)
    vectors = embeddings_for(docs, args.embeddings, args.model).astype(np.float32)
    texts = [doc_text(d) for d in docs]
    ids = [str(d["_id"]) for d in docs]
    n_held = max(10, int(len(docs) * args.held_out))
    X, held = vectors[:-n_held], vectors[-n_held:]

    maps = bench_maps(X, held, ids, args)
    clusters = bench_clusters(vectors, texts, ids, args)

    rows = [
        {"what": "UMAP fit", "points": maps["fit_points"], "seconds": maps["umap_fit_s"], "figure": ""},
        {
            "what": "UMAP transform",
            "points": maps["transform_points"],
            "seconds": maps["transform_points"] / maps["transform_docs_per_s"],
            "figure": f"{maps['transform_docs_per_s']:.0f} docs/s",
        },
        {
            "what": "umap-learn defaults fit (baseline)",
            "points": maps["fit_points"],
            "seconds": maps["umap_learn_fit_s"],
            "figure": f"LatentMap x{maps['fit_speedup_vs_umap_learn']:.1f} faster; "
            + quality_text(maps["umap_learn_quality"]),
        },
        {
            "what": "umap-learn defaults transform",
            "points": maps["transform_points"],
            "seconds": maps["transform_points"] / maps["umap_learn_transform_docs_per_s"],
            "figure": f"{maps['umap_learn_transform_docs_per_s']:.0f} docs/s; "
            f"LatentMap x{maps['transform_speedup_vs_umap_learn']:.1f} faster",
        },
        {
            "what": "UMAP quality",
            "points": maps["umap"]["sample"],
            "seconds": "",
            "figure": quality_text(maps["umap"]),
        },
        {
            "what": "PCA-2 quality (baseline)",
            "points": maps["pca"]["sample"],
            "seconds": maps["pca_fit_s"],
            "figure": quality_text(maps["pca"]),
        },
        {
            "what": "UMAP / PCA ratio",
            "points": "",
            "seconds": "",
            "figure": f"trust x{maps['trustworthiness_ratio_vs_pca']:.2f}, "
            f"kNN x{maps['knn_preservation_ratio_vs_pca']:.2f}",
        },
    ]
    if "refit" in maps:
        for kind in ("unaligned", "procrustes", "warm_start"):
            d = maps["refit"][kind]
            rows.append(
                {
                    "what": f"refit shift: {kind}",
                    "points": d["shared"],
                    "seconds": "",
                    "figure": f"median {d['relative_median']:.3f}, mean {d['relative_mean']:.3f} of spread",
                }
            )
    c = clusters
    rows += [
        {
            "what": f"k-means k={args.k} (FAISS)",
            "points": len(vectors),
            "seconds": c["kmeans"]["fit_s"],
            "figure": f"silhouette {c['kmeans']['silhouette']:.3f}",
        },
        {
            "what": f"k-means k={args.k} (sklearn, baseline)",
            "points": len(vectors),
            "seconds": c["sklearn_kmeans"]["fit_s"],
            "figure": f"silhouette {c['sklearn_kmeans']['silhouette']:.3f}, "
            f"FAISS/sklearn time x{c['kmeans_time_ratio_vs_sklearn']:.2f}",
        },
        {
            "what": f"k-means, k by silhouette {tuple(args.k_range)}",
            "points": len(vectors),
            "seconds": c["kmeans_auto"]["fit_s"],
            "figure": f"k={c['kmeans_auto']['chosen_k']}, silhouette {c['kmeans_auto']['silhouette']:.3f}",
        },
        {
            "what": "describe_clusters (c-TF-IDF)",
            "points": len(vectors),
            "seconds": c["describe_s"],
            "figure": "",
        },
    ]
    for name in ("hdbscan", "hdbscan_umap5"):
        h = c[name]
        sil = "n/a" if h["silhouette"] is None else f"{h['silhouette']:.3f}"
        rows.append(
            {
                "what": f"HDBSCAN mcs={h['min_cluster_size']} reduce={h['reduce']}",
                "points": len(vectors),
                "seconds": h["fit_s"],
                "figure": f"{h['clusters']} clusters, noise {h['noise_fraction']:.0%}, silhouette {sil}",
            }
        )
    print_table(f"Maps and clusters on SciFact ({len(vectors)} documents)", rows)
    for label in c["labels"]:
        print(f"  cluster {label['id']:>2} ({label['size']:>4} docs): {label['label']}")
    path = write_results(
        "maps",
        {
            "documents": len(vectors),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "maps": maps,
            "clusters": clusters,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
