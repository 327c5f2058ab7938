"""Every HTTP route has a CLI command (with --json): a new route without one fails here until it gets one."""

from __future__ import annotations

from pathlib import Path

import typer
from helpers.cli import run

from latent.config import get_settings

# (method, path) -> the `latent …` command that does the same through the core.
COMMANDS: dict[tuple[str, str], str] = {
    ("GET", "/v1/collections"): "collections",
    ("POST", "/v1/collections"): "create-collection",
    ("GET", "/v1/collections/{name}"): "info",
    ("DELETE", "/v1/collections/{name}"): "delete",
    ("PUT", "/v1/collections/{name}/documents"): "index",
    ("GET", "/v1/collections/{name}/documents"): "documents list",
    ("POST", "/v1/collections/{name}/documents/delete"): "documents delete",
    ("GET", "/v1/collections/{name}/documents/{doc_id}"): "documents get",
    ("DELETE", "/v1/collections/{name}/documents/{doc_id}"): "delete",
    ("POST", "/v1/collections/{name}/search"): "search",
    ("POST", "/v1/collections/{name}/search/batch"): "search-batch",
    ("GET", "/v1/collections/{name}/neighbors/{doc_id}"): "neighbors",
    ("POST", "/v1/embed"): "embed",
    ("POST", "/v1/embeddings"): "embed",
    ("POST", "/v1/tokenize"): "tokenize",
    ("GET", "/v1/jobs"): "jobs list",
    ("GET", "/v1/jobs/{job_id}"): "jobs get",
    ("DELETE", "/v1/jobs/{job_id}"): "jobs cancel",
    ("POST", "/v1/collections/{name}/recommend"): "recommend",
    ("POST", "/v1/collections/{name}/neighbors/batch"): "neighbors",
    ("POST", "/v1/collections/{name}/profiles/{user}/events"): "profiles event",
    ("GET", "/v1/collections/{name}/profiles/{user}"): "profiles get",
    ("DELETE", "/v1/collections/{name}/profiles/{user}"): "profiles delete",
    ("GET", "/v1/collections/{name}/profiles/{user}/recommendations"): "profiles recommend",
    ("POST", "/v1/collections/{name}/clusterings"): "cluster",
    ("GET", "/v1/collections/{name}/clusterings"): "clusterings list",
    ("GET", "/v1/collections/{name}/clusterings/{clustering_id}"): "clusterings get",
    ("GET", "/v1/collections/{name}/clusterings/{clustering_id}/clusters/{cluster}/documents"): "clusterings documents",
    ("POST", "/v1/collections/{name}/maps"): "map",
    ("GET", "/v1/collections/{name}/maps"): "maps list",
    ("GET", "/v1/collections/{name}/maps/{map_id}"): "maps get",
    ("GET", "/v1/collections/{name}/maps/{map_id}/points"): "maps points",
    ("POST", "/v1/collections/{name}/maps/{map_id}/project"): "maps project",
    ("POST", "/v1/collections/{name}/vae"): "train-vae",
    ("GET", "/v1/collections/{name}/vae"): "vae list",
    ("POST", "/v1/collections/{name}/vae/encode"): "vae encode",
    ("POST", "/v1/collections/{name}/vae/decode"): "vae decode",
    ("POST", "/v1/collections/{name}/vae/interpolate"): "vae interpolate",
    ("POST", "/v1/collections/{name}/vae/sample"): "vae sample",
    ("POST", "/v1/collections/{name}/vae/arithmetic"): "vae arithmetic",
    ("POST", "/v1/collections/{name}/vae/bridge"): "vae bridge",
    ("GET", "/v1/aliases"): "alias list",
    ("GET", "/v1/aliases/{alias}"): "alias get",
    ("PUT", "/v1/aliases/{alias}"): "alias set",
    ("DELETE", "/v1/aliases/{alias}"): "alias delete",
    ("POST", "/v1/collections/{name}/reindex"): "reindex",
}
# Infrastructure of a running server, not capabilities: a CLI process has no server to probe.
SERVER_ONLY = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}


def routes(tmp_path: Path) -> set[tuple[str, str]]:
    from service.main import create_app

    app = create_app(get_settings(home=tmp_path / "home", model="fake"))
    return {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}


def cli_commands() -> dict[str, typer.core.TyperCommand]:
    from indexer.cli import app

    found: dict[str, typer.core.TyperCommand] = {}

    def walk(group: object, prefix: str) -> None:
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            path = f"{prefix} {name}".strip()
            if hasattr(command, "commands"):
                walk(command, path)
            else:
                found[path] = command

    walk(typer.main.get_command(app), "")
    return found


def test_every_http_route_has_a_cli_command(tmp_path: Path) -> None:
    served = routes(tmp_path)
    unmapped = sorted(served - COMMANDS.keys() - SERVER_ONLY)
    assert not unmapped, f"routes without a CLI command (add one and a row to COMMANDS): {unmapped}"
    assert all(not path.startswith("/v1") for _, path in SERVER_ONLY)
    stale = sorted(COMMANDS.keys() - served)
    assert not stale, f"COMMANDS names routes the app no longer has: {stale}"


def test_every_mapped_command_exists_and_prints_json() -> None:
    commands = cli_commands()
    missing = sorted({c for c in COMMANDS.values() if c not in commands})
    assert not missing, f"no such CLI command: {missing}"
    without_json = sorted(c for c in set(COMMANDS.values()) if not any("--json" in p.opts for p in commands[c].params))
    assert not without_json, f"commands without --json: {without_json}"
    per_collection = {c for (_, path), c in COMMANDS.items() if "/collections/{name}" in path}
    without_collection = sorted(
        c for c in per_collection if not any("--collection" in p.opts for p in commands[c].params)
    )
    assert not without_collection, f"collection commands without --collection: {without_collection}"


def test_show_completion_prints_a_bash_script(tmp_path: Path) -> None:
    done = run(tmp_path / "data", "--show-completion", "bash")
    assert done.returncode == 0, done.stderr
    assert "_LATENT_COMPLETE=complete_bash" in done.stdout and "complete -o default -F" in done.stdout


def test_install_completion_writes_the_bash_script(tmp_path: Path) -> None:
    home = tmp_path / "user"
    home.mkdir()
    done = run(tmp_path / "data", "--install-completion", "bash", HOME=str(home), SHELL="/bin/bash")
    assert done.returncode == 0, done.stderr
    script = home / ".bash_completions" / "latent.sh"
    assert script.is_file() and "_LATENT_COMPLETE" in script.read_text()
    assert "latent.sh" in (home / ".bashrc").read_text()
