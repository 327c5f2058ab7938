"""What every `latent` command shares: settings from the global options, the exit codes, output helpers.

Exit codes, for every command: 0 ok, 1 the job failed (including "not found"), 2 usage error (invalid
input, from typer's option parsing or from Latent's InvalidInput), 130 interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from latent.config import Settings, get_settings
from latent.errors import InvalidInput, LatentError
from latent.store.store import Store

USAGE = 2
FAILED = 1
INTERRUPTED = 130

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")]
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]


def settings_for(ctx: typer.Context | None, **extra: Any) -> Settings:
    """Settings from the environment with the main command's global options (ctx.obj) and `extra` on top."""
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, Settings):
        return obj.model_copy(update=extra) if extra else obj
    return get_settings(**{**(obj if isinstance(obj, dict) else {}), **extra})


def open_store(ctx: typer.Context, **extra: Any) -> Store:
    return Store.open(settings_for(ctx, **extra))


def exit_code_for(exc: LatentError) -> int:
    """The one mapping from Latent's errors to exit codes (see the module docstring)."""
    return USAGE if isinstance(exc, InvalidInput) else FAILED


def fail(message: str, code: int = FAILED) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def exit_codes() -> Iterator[None]:
    """Domain errors become one line on stderr and the exit code `exit_code_for` gives them."""
    try:
        yield
    except LatentError as exc:
        raise fail(exc.message, exit_code_for(exc)) from None


def emit(data: Any, as_json: bool, table: list[list[Any]] | None = None, headers: list[str] | None = None) -> None:
    """`data` as JSON, or `table` under `headers` as a rich table."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
        return
    if table is not None and headers is not None:
        from rich.console import Console
        from rich.table import Table

        t = Table(*headers)
        for row in table:
            t.add_row(*[str(c) for c in row])
        Console().print(t)


def count_lines(source: str) -> int | None:
    """Records in a JSONL file (for the progress bar), None for any other source or a huge file."""
    p = Path(source)
    if p.is_file() and p.suffix.lower() in (".jsonl", ".ndjson") and p.stat().st_size < 2_000_000_000:
        with open(p, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    return None
