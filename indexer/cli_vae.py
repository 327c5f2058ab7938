"""`latent train-vae` and `latent vae list|encode|decode|sample|interpolate|arithmetic|bridge`: the text VAE."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from indexer.cli_common import CollectionOpt, JsonOpt, emit, exit_codes, settings_for
from latent.errors import InvalidInput
from latent.jobs import JobCancelled, run_inline
from latent.store.collection import Collection
from latent.store.store import Store

app = typer.Typer(
    help="A collection's text VAE: list models, encode/decode, sample, interpolate, arithmetic, bridge.",
    no_args_is_help=True,
)

ModelOpt = Annotated[int | None, typer.Option("--model", help="Model id (`latent vae list`); newest by default.")]
KOpt = Annotated[int, typer.Option("-k", help="Real neighbours shown per generated point.")]


@contextmanager
def _collection(ctx: typer.Context, name: str) -> Iterator[Collection]:
    """Open the store and the collection; domain errors become exit codes (2 bad input, 1 otherwise)."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        yield store.collection(name)


def _endpoint(id_: str | None, text: str | None, name: str) -> Any:
    from latent.vae.runs import Endpoint

    if (id_ is None) == (text is None):
        raise InvalidInput(f"give exactly one of --{name} (a stored id) or --{name}-text", details={"argument": name})
    return Endpoint(id=id_) if id_ is not None else Endpoint(text=text)


def _echo_progress() -> Callable[[float, str], None]:
    def echo(fraction: float, message: str) -> None:
        sys.stderr.write(f"\r[{fraction * 100:5.1f}%] {message[:100]:<100}")
        sys.stderr.flush()
        if fraction >= 1.0:
            sys.stderr.write("\n")

    return echo


def _print_points(points: list[dict[str, Any]], extra: str | None = None) -> None:
    head = f"{extra:>6}  " if extra else ""
    typer.echo(f"{head}{'novelty':>7}  {'pctl':>5}  nearest documents (cosine)")
    for p in points:
        near = ", ".join(f"{n['id']} ({n['cosine']:.2f})" for n in p["neighbors"][:3])
        lead = f"{p[extra]:>6.2f}  " if extra else ""
        typer.echo(f"{lead}{p['novelty']:>7.3f}  {p['plausibility']['percentile']:>5.1f}  {near}")


def train_vae(
    ctx: typer.Context,
    collection: CollectionOpt,
    latent_dim: Annotated[int | None, typer.Option(help="Latent size.")] = None,
    hidden_dim: Annotated[int | None, typer.Option(help="Hidden layer size of encoder and decoder.")] = None,
    beta: Annotated[float | None, typer.Option(help="Weight of the KL term.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="random_state of the training.")] = None,
    params: Annotated[
        str | None, typer.Option(help='Other TextVAE parameters as JSON, e.g. \'{"prior": "gaussian"}\'.')
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a text VAE on the collection's document vectors (progress on stderr); prints the model's metrics.

    Exit codes: 0 ok, 1 the collection does not exist or training failed, 2 invalid parameters.
    """
    from latent.vae import runs as vae_runs

    try:
        extra = json.loads(params) if params else {}
    except json.JSONDecodeError as exc:
        typer.echo(f"error: --params is not valid JSON: {exc.msg}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(extra, dict):
        typer.echo("error: --params must be a JSON object", err=True)
        raise typer.Exit(2)
    given = {
        "latent_dim": latent_dim,
        "hidden_dim": hidden_dim,
        "beta": beta,
        "epochs": epochs,
        "random_state": seed,
    }
    extra.update({k: v for k, v in given.items() if v is not None})
    with _collection(ctx, collection) as coll:
        try:
            result = run_inline(vae_runs.train_job(coll, extra), echo=_echo_progress())
        except JobCancelled:
            typer.echo("\ncancelled", err=True)
            raise typer.Exit(1) from None
        info = next(m for m in vae_runs.list_models(coll) if m.id == result["model_id"])
    if as_json:
        emit({"model_id": info.id, "params": info.params, "metrics": info.metrics}, True)
        return
    typer.echo(f"model {info.id} trained on {collection!r}")
    for key in ("val_recon_cosine", "kl", "active_units", "self_retrieval_top1", "training_seconds"):
        if key in info.metrics:
            typer.echo(f"  {key:<20} {info.metrics[key]}")


@app.command()
def sample(
    ctx: typer.Context,
    collection: CollectionOpt,
    n: Annotated[int, typer.Option("-n", help="How many samples.")] = 5,
    seed: Annotated[int | None, typer.Option(help="The same seed gives the same samples.")] = None,
    anchor: Annotated[str | None, typer.Option(help="Sample around this stored document id.")] = None,
    anchor_text: Annotated[str | None, typer.Option(help="Sample around this text.")] = None,
    temperature: Annotated[float, typer.Option(help="Spread, 0–10.")] = 1.0,
    k: KOpt = 5,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate embeddings from the VAE's prior (or around an anchor), each grounded in real documents."""
    from latent.vae import runs as vae_runs

    with _collection(ctx, collection) as coll:
        info, vae = vae_runs.load_model(coll, model)
        point = _endpoint(anchor, anchor_text, "anchor") if anchor or anchor_text else None
        vectors = vae_runs.sample(coll, vae, n, seed, point, temperature)
        body = {
            "samples": vae_runs.ground(coll, vae, vectors, k),
            "diversity": vae_runs.diversity(coll, info, vectors),
        }
    if as_json:
        emit(body, True)
        return
    _print_points(body["samples"])
    d = body["diversity"]
    typer.echo(
        f"diversity: mean pairwise cosine {d['mean_pairwise_cosine']} "
        f"(real documents {d['real_mean_pairwise_cosine']}), clusters touched {d['clusters_touched']}"
    )


@app.command()
def interpolate(
    ctx: typer.Context,
    collection: CollectionOpt,
    start: Annotated[str | None, typer.Option(help="Start: a stored document id.")] = None,
    end: Annotated[str | None, typer.Option(help="End: a stored document id.")] = None,
    start_text: Annotated[str | None, typer.Option(help="Start: a text.")] = None,
    end_text: Annotated[str | None, typer.Option(help="End: a text.")] = None,
    steps: Annotated[int, typer.Option(help="Points, both ends included (2–100).")] = 5,
    method: Annotated[str, typer.Option(help="slerp (on the sphere) | lerp (in latent space).")] = "slerp",
    k: KOpt = 5,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Points from one document or text to another, each grounded in its nearest real documents."""
    from latent.vae import runs as vae_runs

    with _collection(ctx, collection) as coll:
        _, vae = vae_runs.load_model(coll, model)
        a, b = _endpoint(start, start_text, "start"), _endpoint(end, end_text, "end")
        t, vectors = vae_runs.interpolate(coll, vae, a, b, steps, method)
        points = [{**p, "t": float(x)} for p, x in zip(vae_runs.ground(coll, vae, vectors, k), t, strict=True)]
    if as_json:
        emit({"steps": points}, True)
        return
    _print_points(points, extra="t")


@app.command()
def bridge(
    ctx: typer.Context,
    collection: CollectionOpt,
    start: Annotated[str | None, typer.Option(help="Start: a stored document id.")] = None,
    end: Annotated[str | None, typer.Option(help="End: a stored document id.")] = None,
    start_text: Annotated[str | None, typer.Option(help="Start: a text.")] = None,
    end_text: Annotated[str | None, typer.Option(help="End: a text.")] = None,
    k: Annotated[int, typer.Option("-k", help="Longest path (documents).")] = 10,
    method: Annotated[str, typer.Option(help="lerp | slerp.")] = "lerp",
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A reading path: the real documents along the way from one idea to another, in order."""
    from latent.vae import runs as vae_runs

    with _collection(ctx, collection) as coll:
        _, vae = vae_runs.load_model(coll, model)
        a, b = _endpoint(start, start_text, "start"), _endpoint(end, end_text, "end")
        path = vae_runs.bridge(coll, vae, a, b, k, method)
    if as_json:
        emit({"path": path}, True)
        return
    typer.echo(f"{'t':>5}  {'cosine':>6}  {'id':<24}  title")
    for p in path:
        typer.echo(f"{p['t']:>5.2f}  {p['cosine']:>6.3f}  {p['id']:<24}  {(p['title'] or '')[:60]}")


def _json_option(text: str | None, option: str) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{option} is not valid JSON: {exc.msg}", details={"option": option}) from None


@app.command("list")
def list_models(ctx: typer.Context, collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """Trained models of the collection, newest first, with their metrics."""
    from latent.vae import runs as vae_runs

    with _collection(ctx, collection) as coll:
        infos = vae_runs.list_models(coll)
    data = [{"id": m.id, "params": m.params, "metrics": m.metrics, "created_at": m.created_at} for m in infos]
    rows = [
        [m.id, m.params.get("latent_dim"), m.metrics.get("val_recon_cosine"), f"{m.created_at:%Y-%m-%d %H:%M}"]
        for m in infos
    ]
    emit(data, as_json, rows, ["id", "latent_dim", "val_recon_cosine", "created"])


@app.command()
def encode(
    ctx: typer.Context,
    collection: CollectionOpt,
    texts: Annotated[list[str] | None, typer.Option("--text", help="A text to encode (repeatable).")] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="A stored document id (repeatable).")] = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Posterior mean μ and standard deviation σ of texts or stored documents. Exit 2: give --text or --id."""
    from latent.vae import runs as vae_runs
    from latent.vae.runs import Endpoint

    with _collection(ctx, collection) as coll:
        if bool(texts) == bool(ids):
            raise InvalidInput("give --text (repeatable) or --id (repeatable), not both")
        points = [Endpoint(text=t) for t in texts or []] + [Endpoint(id=i) for i in ids or []]
        _, vae = vae_runs.load_model(coll, model)
        mu, sigma = vae_runs.encode(coll, vae, points)
    rows = [[p.text or p.id, f"{float((s**2).mean()) ** 0.5:.3f}"] for p, s in zip(points, sigma, strict=True)]
    emit({"mu": mu.tolist(), "sigma": sigma.tolist()}, as_json, rows, ["input", "rms sigma"])


@app.command()
def decode(
    ctx: typer.Context,
    collection: CollectionOpt,
    z: Annotated[str, typer.Option("--z", help="Latent points as JSON: a list of lists of latent_dim numbers.")],
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Unit embeddings for latent points (`--json` prints them; the table shows their first values)."""
    from latent.vae import runs as vae_runs

    with _collection(ctx, collection) as coll:
        points = _json_option(z, "--z")
        _, vae = vae_runs.load_model(coll, model)
        vectors = vae_runs.decode(vae, points)
    rows = [[i, ", ".join(f"{v:.3f}" for v in vec[:4]) + ", …"] for i, vec in enumerate(vectors)]
    emit({"vectors": vectors.tolist()}, as_json, rows, ["point", "embedding"])


@app.command()
def arithmetic(
    ctx: typer.Context,
    collection: CollectionOpt,
    plus: Annotated[list[str] | None, typer.Option("--plus", help="Add a stored document (repeatable).")] = None,
    minus: Annotated[list[str] | None, typer.Option("--minus", help="Subtract a stored document.")] = None,
    plus_text: Annotated[list[str] | None, typer.Option("--plus-text", help="Add a text (repeatable).")] = None,
    minus_text: Annotated[list[str] | None, typer.Option("--minus-text", help="Subtract a text.")] = None,
    plus_filter: Annotated[
        list[str] | None,
        typer.Option("--plus-filter", help="Add the attribute direction of a filter (JSON, e.g. '{\"year\": 2020}')."),
    ] = None,
    minus_filter: Annotated[
        list[str] | None, typer.Option("--minus-filter", help="Subtract the attribute direction of a filter.")
    ] = None,
    k: KOpt = 5,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Decode a signed sum of documents, texts and attribute directions, grounded in real documents."""
    from latent.vae import runs as vae_runs
    from latent.vae.runs import Endpoint, Term

    with _collection(ctx, collection) as coll:
        terms = [Term(sign=1.0, endpoint=Endpoint(id=i)) for i in plus or []]
        terms += [Term(sign=-1.0, endpoint=Endpoint(id=i)) for i in minus or []]
        terms += [Term(sign=1.0, endpoint=Endpoint(text=t)) for t in plus_text or []]
        terms += [Term(sign=-1.0, endpoint=Endpoint(text=t)) for t in minus_text or []]
        terms += [Term(sign=1.0, filter=_json_option(f, "--plus-filter")) for f in plus_filter or []]
        terms += [Term(sign=-1.0, filter=_json_option(f, "--minus-filter")) for f in minus_filter or []]
        if not terms:
            raise InvalidInput("give at least one term: --plus, --minus, --plus-text, … (repeatable)")
        _, vae = vae_runs.load_model(coll, model)
        vector = vae_runs.arithmetic(coll, vae, terms)[None, :]
        point = vae_runs.ground(coll, vae, vector, k)[0]
    if as_json:
        emit(point, True)
        return
    _print_points([point])
