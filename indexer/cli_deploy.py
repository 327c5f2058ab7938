"""`latent serve` and `latent migrate`: the commands a deployment runs (docker-compose.yml's api and migrate).

Serving a non-local address is refused while no API key exists (every request would be accepted), unless
a bootstrap admin key is configured (LATENT_ADMIN_KEY or LATENT_ADMIN_KEY_FILE, stored hashed first) or the
operator opted into a keyless private network (--allow-no-auth / LATENT_ALLOW_NO_AUTH).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from indexer.cli_common import FAILED, JsonOpt, emit, exit_codes, fail, settings_for


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    allow_no_auth: Annotated[
        bool,
        typer.Option(
            "--allow-no-auth",
            help="Bind a non-local address with no API key: private networks only (env LATENT_ALLOW_NO_AUTH).",
        ),
    ] = False,
) -> None:
    """Run the HTTP service (OpenAPI docs at /docs); stores the bootstrap admin key first, if one is set."""
    import uvicorn

    from latent.bootstrap import LOCAL_HOSTS, bootstrap_admin_key, check_bind, configured_admin_key

    settings = settings_for(ctx, host=host, port=port, **({"allow_no_auth": True} if allow_no_auth else {}))
    with exit_codes():
        if settings.host not in LOCAL_HOSTS or configured_admin_key(settings) is not None:
            from latent.auth import ApiKeys
            from latent.store.store import Store

            with Store.open(settings) as store:
                bootstrap_admin_key(settings, store.sessions)
                warning = check_bind(settings, ApiKeys(store.sessions))
            if warning:
                typer.echo(warning, err=True)
    if allow_no_auth:
        os.environ["LATENT_ALLOW_NO_AUTH"] = "1"  # the app's lifespan repeats the warning in its log
    for key, value in (ctx.obj or {}).items():  # the app builds its settings from the environment
        if value is not None:
            os.environ[f"LATENT_{key.upper()}"] = str(value)
    from latent.embedder.choice import describe_backend

    typer.echo(
        f"serving on http://{settings.host}:{settings.port}  (docs: http://{settings.host}:{settings.port}/docs); "
        f"new collections embed with {settings.model} on {describe_backend(settings.backend, settings.model)}",
        err=True,
    )
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
    )


def migrate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Upgrade LATENT_DATABASE_URL to the newest schema (Alembic head) and print the revision."""
    from sqlalchemy.exc import OperationalError

    from latent.bootstrap import migrate_database

    with exit_codes():
        try:
            result = migrate_database(settings_for(ctx))
        except OperationalError as exc:  # unreachable server, bad credentials: the job failed, not the usage
            raise fail(f"cannot reach the database: {exc.orig or exc}", FAILED) from None
    data = {
        "database": result.database,
        "previous": result.previous,
        "revision": result.revision,
        "head": result.head,
        "upgraded": result.upgraded,
    }
    if as_json:
        emit(data, True)
        return
    change = f"upgraded from {result.previous or 'an empty database'}" if result.upgraded else "already current"
    typer.echo(f"{result.database}: schema at revision {result.revision} ({change})")
