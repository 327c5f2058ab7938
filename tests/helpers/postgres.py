"""A throw-away PostgreSQL 15 server for tests: initdb under a temp dir, a free port, trust auth."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Unavailable(Exception):
    """Why no server could be started (the fixture turns it into a skip)."""


@dataclass
class PostgresServer:
    root: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:  # initdb refuses to run as root
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)


def _ensure_binaries() -> None:
    if (PG_BIN / "initdb").exists():
        return
    if os.geteuid() != 0:
        raise Unavailable(f"PostgreSQL 15 is not installed ({PG_BIN} missing) and we are not root to install it")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}")
    if not (PG_BIN / "initdb").exists():
        raise Unavailable(f"apt-get installed postgresql but {PG_BIN} is still missing (another major version?)")


def start() -> PostgresServer:
    """initdb + pg_ctl start; raises Unavailable with the reason when that cannot work here."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise Unavailable("psycopg is not installed: pip install 'psycopg[binary]'") from exc
    _ensure_binaries()
    if os.geteuid() == 0:
        import pwd

        if shutil.which("runuser") is None:
            raise Unavailable("running as root without runuser: cannot start PostgreSQL as the postgres user")
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise Unavailable("running as root but there is no 'postgres' user to run the server as") from exc
    root = Path(tempfile.mkdtemp(prefix="latent-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = _free_port()
    try:
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(root / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
                # Throw-away data: speed over durability.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-w",
                "start",
            ]
        )
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"PostgreSQL did not start: {exc.stderr.strip()[-300:]} {log[-300:]}") from exc
    return PostgresServer(root, port)
