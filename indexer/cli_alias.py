"""`latent alias set|get|list|delete` and `latent reindex`: switch collections without downtime.

`reindex` exits 0 when it built (and switched, if asked), 1 when the gate kept the old collection,
130 when interrupted (run it again to resume: finished pages are skipped by content hash).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from indexer.cli_common import FAILED, INTERRUPTED, CollectionOpt, JsonOpt, emit, exit_codes, fail, settings_for
from latent.store.store import Store

app = typer.Typer(name="alias", help="Second names for collections, switched atomically.", no_args_is_help=True)

AliasArg = Annotated[str, typer.Argument(help="Alias name (letters, digits, '_', '-', '.').")]


def _alias_dict(record: Any) -> dict[str, Any]:
    out = {
        "name": record.name,
        "collection": record.collection,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }
    if record.previous is not None:
        out["previous"] = record.previous
    return out


def _show(records: list[Any], as_json: bool, single: bool = False) -> None:
    data = [_alias_dict(r) for r in records]
    if as_json:
        emit(data[0] if single else {"data": data, "count": len(data)}, True)
        return
    if not data:
        typer.echo("no aliases", err=True)
    for d in data:
        was = f" (was {d['previous']})" if "previous" in d else ""
        typer.echo(f"{d['name']} -> {d['collection']}{was}")


@app.command("set")
def set_(
    ctx: typer.Context,
    alias: AliasArg,
    collection: Annotated[str, typer.Argument(help="The collection it points at from now on.")],
    as_json: JsonOpt = False,
) -> None:
    """Create an alias or switch it to another collection (atomic: searches see one or the other)."""
    from latent.aliases import set_alias

    with exit_codes(), Store(settings_for(ctx)) as store:
        record = set_alias(store, alias, collection)
    _show([record], as_json, single=True)


@app.command("get")
def get(ctx: typer.Context, alias: AliasArg, as_json: JsonOpt = False) -> None:
    """Show the collection an alias points at."""
    from latent.aliases import get_alias

    with exit_codes(), Store(settings_for(ctx)) as store:
        record = get_alias(store, alias)
    _show([record], as_json, single=True)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List aliases and their collections."""
    from latent.aliases import list_aliases

    with exit_codes(), Store(settings_for(ctx)) as store:
        records = list_aliases(store)
    _show(records, as_json)


@app.command("delete")
def delete(ctx: typer.Context, alias: AliasArg, as_json: JsonOpt = False) -> None:
    """Delete an alias; its collection stays."""
    from latent.aliases import delete_alias

    with exit_codes(), Store(settings_for(ctx)) as store:
        record = delete_alias(store, alias)
    if as_json:
        emit({"deleted": record.name, "collection": record.collection}, True)
    else:
        typer.echo(f"deleted alias {record.name} (was -> {record.collection})")


def _progress_bar(enabled: bool, name: str) -> tuple[Callable[[float, str], None] | None, Any]:
    """A tqdm bar on stderr driven by the one progress callback (fraction, message)."""
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar = tqdm(
        total=1000,
        desc=f"reindexing into {name}",
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.5,
        bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
    )

    def progress(fraction: float, message: str) -> None:
        bar.n = int(fraction * 1000)
        bar.set_description_str(f"{name}: {message}", refresh=True)

    return progress, bar


def reindex(
    ctx: typer.Context,
    collection: CollectionOpt,
    into: Annotated[str, typer.Option("--into", help="The collection to build (created, or resumed if it exists).")],
    model: Annotated[
        str | None, typer.Option("--model", help="Model of the new collection (default: the old one's).")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend", help="Encoder backend of the new collection: torch|onnx|onnx-int8|openvino|openvino-int8."
        ),
    ] = None,
    index: Annotated[
        str | None, typer.Option("--index", help="Index spec of the new collection (default: the old one's).")
    ] = None,
    gate: Annotated[
        Path | None, typer.Option("--gate", help="BEIR folder (queries.jsonl, qrels/) to compare both collections on.")
    ] = None,
    margin: Annotated[
        float, typer.Option("--margin", min=0.0, max=1.0, help="Largest nDCG@10 drop the gate accepts.")
    ] = 0.01,
    alias: Annotated[str | None, typer.Option("--alias", help="Alias to switch to the new collection.")] = None,
    mode: Annotated[str, typer.Option(help="Search mode the gate evaluates: dense | sparse | hybrid.")] = "dense",
    split: Annotated[str, typer.Option(help="Qrels split file under qrels/ for the gate.")] = "test",
    batch_docs: Annotated[int, typer.Option(min=1, max=10_000, help="Documents per committed page.")] = 256,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-embed a collection's stored documents into another; gate on a BEIR folder, then switch an alias."""
    from latent.reindex import reindex as run_reindex

    progress, bar = _progress_bar(not quiet, into)
    try:
        with exit_codes(), Store(settings_for(ctx)) as store:
            report = run_reindex(
                store,
                collection,
                into,
                model=model,
                backend=backend,
                index=index,
                gate_folder=gate,
                margin=margin,
                alias=alias,
                split=split,
                mode=mode,
                batch_docs=batch_docs,
                progress=progress,
            )
    except KeyboardInterrupt:
        raise fail(
            "interrupted: finished pages are stored; run the same command again to resume", INTERRUPTED
        ) from None
    finally:
        if bar is not None:
            bar.close()
    data = report.as_dict()
    if as_json:
        emit(data, True)
    else:
        _print_report(data)
    if report.decision == "kept":
        raise typer.Exit(FAILED)


def _print_report(data: dict[str, Any]) -> None:
    b = data["build"]
    typer.echo(
        f"{b['target']}: {b['documents']} documents from {b['source']} ({b['embedded']} embedded, "
        f"{b['unchanged']} unchanged, {b['removed']} removed; {b['chunks']} chunks) in {b['seconds']:.1f}s "
        f"with {b['model']} on {b['backend']}, index {b['index']}"
    )
    g = data["gate"]
    if g is not None:
        typer.echo(
            f"gate on {g['folder']} ({g['queries']} queries, {g['mode']}): "
            f"{g['metric']} {b['source']} {g['current']:.4f}, "
            f"{b['target']} {g['candidate']:.4f}, delta {g['delta']:+.4f}, margin {g['margin']:g}: "
            f"{'passed' if g['passed'] else 'failed'}"
        )
    typer.echo(f"{data['decision']}: {data['reason']}")


def mount(parent: typer.Typer) -> None:
    """Register `latent alias …` and `latent reindex` on the main command."""
    parent.add_typer(app, name="alias")
    parent.command("reindex")(reindex)
