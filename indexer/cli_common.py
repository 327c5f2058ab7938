"""What every `latent` subcommand module shares: settings built from the global options."""

from __future__ import annotations

import typer

from latent.config import Settings, get_settings


def settings_for(ctx: typer.Context | None) -> Settings:
    """Settings from the environment with the main command's global options (ctx.obj) on top."""
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, Settings):
        return obj
    return get_settings(**obj) if isinstance(obj, dict) else get_settings()
