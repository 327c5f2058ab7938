"""What every `latent` subcommand module shares: settings built from the global options, exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from latent.config import Settings, get_settings
from latent.errors import InvalidInput, LatentError


def settings_for(ctx: typer.Context | None) -> Settings:
    """Settings from the environment with the main command's global options (ctx.obj) on top."""
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, Settings):
        return obj
    return get_settings(**obj) if isinstance(obj, dict) else get_settings()


@contextmanager
def exit_codes() -> Iterator[None]:
    """Domain errors become a message on stderr and an exit code: 2 invalid input, 1 any other failure."""
    try:
        yield
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except LatentError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
