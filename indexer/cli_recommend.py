"""`latent recommend` (documents like some examples and unlike others, explained) and `latent neighbors`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from indexer.cli_common import CollectionOpt, JsonOpt, emit, exit_codes, settings_for
from latent.errors import InvalidInput
from latent.limits import check_batch, check_search
from latent.recommend.runs import ExampleSpec, Recommendation, neighbors_many, recommend_documents
from latent.recommend.strategies import STRATEGIES
from latent.store.store import Store


def recommendation_dict(result: Recommendation) -> dict[str, Any]:
    return {
        "hits": [
            {"id": h.id, "score": h.score, "rank": h.rank, "title": h.title, "explanation": h.explanation}
            for h in result.hits
        ],
        "missing": result.missing,
        "diversity": result.diversity,
        "strategy": result.strategy,
    }


def explain(explanation: dict[str, list[dict[str, Any]]]) -> str:
    parts = [f"+{e['example']} ({e['similarity']:.2f})" for e in explanation["positive"][:2]]
    parts += [f"-{e['example']} ({e['similarity']:.2f})" for e in explanation["negative"]]
    return ", ".join(parts)


def recommend(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection name.")],
    positive: Annotated[
        list[str] | None,
        typer.Option("--positive", "-p", help="Stored document id to move towards (repeatable)."),
    ] = None,
    negative: Annotated[
        list[str] | None,
        typer.Option("--negative", "-n", help="Stored document id to move away from (repeatable)."),
    ] = None,
    positive_text: Annotated[
        list[str] | None, typer.Option("--positive-text", help="A text to move towards (repeatable).")
    ] = None,
    negative_text: Annotated[
        list[str] | None, typer.Option("--negative-text", help="A text to move away from (repeatable).")
    ] = None,
    strategy: Annotated[str, typer.Option(help=f"How examples combine: {' | '.join(STRATEGIES)}.")] = "average_vector",
    k: Annotated[int, typer.Option("-k", help="Number of hits.")] = 10,
    diversity: Annotated[float, typer.Option(help="0 = pure relevance … 1 = pure novelty (MMR).")] = 0.0,
    filter: Annotated[str | None, typer.Option(help="Metadata pre-filter as JSON, e.g. '{\"year\": 2020}'.")] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Document id never to return (repeatable).")
    ] = None,
    ignore_missing: Annotated[
        bool, typer.Option("--ignore-missing", help="Skip unknown ids (listed) instead of failing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")] = False,
) -> None:
    """Recommend documents from positive and negative examples; each hit says which examples explain it.

    Exit codes: 0 ok, 1 an example id or the collection does not exist, 2 invalid options.
    """
    pos = [ExampleSpec(id=i) for i in positive or []] + [ExampleSpec(text=t) for t in positive_text or []]
    neg = [ExampleSpec(id=i) for i in negative or []] + [ExampleSpec(text=t) for t in negative_text or []]
    with exit_codes():
        spec = parse_filter(filter)
        settings = settings_for(ctx)
        check_search(settings, k, 0, [*(positive_text or []), *(negative_text or [])])
        with Store(settings) as store:
            result = recommend_documents(
                store.collection(collection),
                pos,
                neg,
                k,
                strategy=strategy,
                filter=spec,
                exclude=exclude or [],
                diversity=diversity,
                missing="ignore" if ignore_missing else "error",
            )
    if as_json:
        emit(recommendation_dict(result), True)
        return
    if result.missing:
        typer.echo(f"skipped unknown ids: {', '.join(result.missing)}", err=True)
    typer.echo(f"{'rank':>4}  {'score':>8}  {'id':<24}  {'title':<40}  why")
    for h in result.hits:
        title = (h.title or "")[:40]
        typer.echo(f"{h.rank:>4}  {h.score:>8.4f}  {h.id:<24}  {title:<40}  {explain(h.explanation)}")


def parse_filter(text: str | None) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"--filter is not valid JSON: {exc}", code="invalid_filter") from None
    if not isinstance(value, dict):
        raise InvalidInput("--filter must be a JSON object", code="invalid_filter")
    return value


def neighbors(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Stored document ids (one or many).")],
    collection: CollectionOpt,
    k: Annotated[int, typer.Option("-k", help="Neighbours per document.")] = 10,
    filter: Annotated[str | None, typer.Option(help="Metadata pre-filter as JSON.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The k documents nearest each stored one ("more like these"), itself excluded; unknown ids are listed.

    Exit codes: 0 ok, 1 none of the ids exists (or no collection), 2 invalid options.
    """
    with exit_codes():
        settings = settings_for(ctx)
        check_batch(settings, len(ids), "ids")
        check_search(settings, k)
        spec = parse_filter(filter)
        with Store(settings) as store:
            results, missing = neighbors_many(store.collection(collection), ids, k, spec)
    data = {
        "results": [
            {"id": doc, "hits": [{"id": h.id, "score": h.score, "rank": h.rank, "title": h.title} for h in hits]}
            for doc, hits in results
        ],
        "missing": missing,
    }
    rows = [[doc, h.rank, f"{h.score:.4f}", h.id, (h.title or "")[:60]] for doc, hits in results for h in hits]
    emit(data, as_json, rows, ["document", "rank", "score", "neighbour", "title"])
    if missing:
        typer.echo(f"unknown ids: {', '.join(missing)}", err=True)
        if not results:
            raise typer.Exit(1)
