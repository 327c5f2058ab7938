"""`latent keys`: create, list and revoke API keys (the service needs one per client once any exists)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from indexer.cli_common import JsonOpt, exit_codes, settings_for
from latent.auth import SCOPES, ApiKeyInfo, ApiKeys
from latent.store.store import Store

app = typer.Typer(name="keys", help="Create, list and revoke API keys.", no_args_is_help=True)

ScopeOption = Annotated[str, typer.Option("--scope", help=f"What the key may do: {' < '.join(SCOPES)}.")]


def _info_dict(info: ApiKeyInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "prefix": info.prefix,
        "scope": info.scope,
        "name": info.name,
        "created_at": info.created_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
    }


@app.command("create")
def create(
    ctx: typer.Context,
    scope: ScopeOption = "read",
    name: Annotated[str, typer.Option("--name", help="A label to recognise the key by.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once: only its salted hash is stored."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        created = ApiKeys(store.sessions).create(scope, name)
    if as_json:
        typer.echo(json.dumps({"key": created.key, **_info_dict(created.info)}))
        return
    typer.echo(created.key)
    typer.echo(
        f"id {created.info.id}, scope {created.info.scope}: store this key now, it is not shown again",
        err=True,
    )


@app.command("list")
def list_keys(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys (id, prefix, scope, name); the secrets themselves are never stored."""
    with Store(settings_for(ctx)) as store:
        infos = ApiKeys(store.sessions).list(include_revoked=all_keys)
    if as_json:
        typer.echo(json.dumps([_info_dict(i) for i in infos]))
        return
    if not infos:
        typer.echo("no API keys: the service accepts every request (keep it on 127.0.0.1)", err=True)
        return
    for i in infos:
        state = f"revoked {i.revoked_at:%Y-%m-%d %H:%M}" if i.revoked_at else "active"
        typer.echo(f"{i.id}\tlk_{i.prefix}_…\t{i.scope}\t{state}\t{i.name}")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The key's id, its prefix, or the key itself.")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key at once: requests carrying it get 401."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        info = ApiKeys(store.sessions).revoke(key)
    if as_json:
        typer.echo(json.dumps(_info_dict(info)))
    else:
        typer.echo(f"revoked key {info.id} (lk_{info.prefix}_…, scope {info.scope})")
