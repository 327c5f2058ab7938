"""VAE operation latency over HTTP (interpolate, sample, bridge) next to plain vector search, one run.

Indexes SciFact (or its first --limit documents; an existing collection is reused), starts
`uvicorn service.main:create_app` on a free port, trains a VAE through `POST …/vae` (a job, polled), then
sends interpolate (5 steps, slerp and lerp, random stored-id pairs), sample (n=10, seeded) and bridge (k=10)
requests. The baseline in the same run: /search with a precomputed query vector (k=5, FAISS only); every
figure is also given as a ratio to it. All sides take turns on blocks of requests.

    .venv/bin/python bench/vae_http.py --limit 500
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommend import interleaved, start_server  # noqa: E402
from search import free_port, index_collection  # noqa: E402

from bench._common import add_server_arguments, print_table, write_results  # noqa: E402


def train_over_http(http: Any, name: str, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """POST …/vae and poll the job until it ends; the model's row and the wall time."""
    start = time.perf_counter()
    r = http.post(f"/v1/collections/{name}/vae", json={"params": params})
    if r.status_code != 202:
        raise SystemExit(f"training request failed: {r.status_code} {r.text}")
    job_id = r.json()["id"]
    while True:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        print(f"\r[{job['progress'] * 100:5.1f}%] {job['message'][:90]:<90}", end="", file=sys.stderr)
        time.sleep(0.5)
    print(file=sys.stderr)
    if job["status"] != "succeeded":
        raise SystemExit(f"training job {job['status']}: {job['error']}")
    seconds = time.perf_counter() - start
    models = http.get(f"/v1/collections/{name}/vae").json()["data"]
    return next(m for m in models if m["id"] == job["result"]["model_id"]), seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(parser, collection=False)
    parser.add_argument("--requests", type=int, default=60, help="requests per measurement")
    parser.add_argument("--epochs", type=int, default=40, help="VAE training epochs")
    parser.add_argument("--latent-dim", type=int, default=64, help="VAE latent size")
    parser.add_argument("--hidden-dim", type=int, default=512, help="VAE hidden size")
    parser.add_argument("--seed", type=int, default=0, help="seed of the endpoint draws")
    args = parser.parse_args(argv)

    import httpx

    from latent.config import force_offline, get_settings

    force_offline()
    settings = get_settings(home=args.home, model=args.model)
    home = settings.home.resolve()
    name = "scifact" if args.limit is None else f"scifact-{args.limit}"
    indexed = index_collection(home, settings.model, name, args.limit, args.data)
    print(f"{indexed['documents']} documents in {name!r} ({indexed['seconds']} s)", file=sys.stderr)

    from latent.store.store import Store

    with Store(settings) as store:
        ids, vectors = store.collection(name).all_document_vectors()
    rng = random.Random(args.seed)
    pairs = [tuple(rng.sample(ids, 2)) for _ in range(args.requests)]
    query_vectors = [vectors[rng.randrange(len(ids))].tolist() for _ in range(args.requests)]
    seeds = list(range(args.requests))

    port = free_port()
    server = start_server(home, settings.model, port)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)
    base = f"/v1/collections/{name}"
    try:
        params = {
            "latent_dim": args.latent_dim,
            "hidden_dim": args.hidden_dim,
            "epochs": args.epochs,
            "random_state": 0,
        }
        model, train_seconds = train_over_http(http, name, params)
        print(
            f"trained model {model['id']} in {train_seconds:.1f} s: val_recon_cosine "
            f"{model['metrics']['val_recon_cosine']:.3f}",
            file=sys.stderr,
        )

        def ok(path: str, body: dict[str, Any]) -> bool:
            return http.post(f"{base}{path}", json=body).status_code == 200

        sides = {
            "search (vector, k=5)": (lambda v: ok("/search", {"vector": v, "k": 5}), query_vectors),
            "interpolate 5 steps slerp": (
                lambda p: ok("/vae/interpolate", {"start": p[0], "end": p[1], "steps": 5, "method": "slerp"}),
                pairs,
            ),
            "interpolate 5 steps lerp": (
                lambda p: ok("/vae/interpolate", {"start": p[0], "end": p[1], "steps": 5, "method": "lerp"}),
                pairs,
            ),
            "sample n=10": (lambda s: ok("/vae/sample", {"n": 10, "seed": s}), seeds),
            "bridge k=10": (lambda p: ok("/vae/bridge", {"start": p[0], "end": p[1], "k": 10}), pairs),
        }
        measured = interleaved(sides, 1)
    finally:
        http.close()
        server.terminate()
        server.wait(timeout=30)

    baseline = measured["search (vector, k=5)"]["p50_ms"]
    rows = [{"endpoint": k, **v, "p50_vs_search": v["p50_ms"] / baseline} for k, v in measured.items()]
    os.environ.setdefault("COLUMNS", "170")
    print_table(f"VAE over HTTP, {indexed['documents']} SciFact docs, concurrency 1", rows)
    print(
        f"training over HTTP: {train_seconds:.1f} s; errors: {sum(r['errors'] for r in rows)}; "
        "the machine may be shared: treat the figures as noisy"
    )
    payload = {
        "config": {
            "documents": indexed["documents"],
            "requests": args.requests,
            "model": settings.model,
            "vae_params": params,
            "cpus": os.cpu_count(),
        },
        "training": {"seconds": train_seconds, "metrics": model["metrics"]},
        "rows": rows,
    }
    print(f"wrote {write_results('vae_http', payload)}")
    return payload


if __name__ == "__main__":
    main()
