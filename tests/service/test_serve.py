"""A real server process (what `latent serve` runs): uvicorn on a free port, searched over the network."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from latent_client import LatentClient

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "LATENT_HOME": str(tmp_path / "home"), "LATENT_MODEL": "fake"}
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited: {(tmp_path / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready: {(tmp_path / 'server.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_real_server_indexes_and_searches(server: str) -> None:
    with LatentClient(server) as api:
        assert api.health() == {"status": "ok"}
        api.create_collection("papers")
        result = api.upsert(
            "papers",
            [
                {
                    "id": "p1",
                    "title": "Folding",
                    "text": "protein folding and enzyme kinetics",
                    "metadata": {"y": 2020},
                },
                {
                    "id": "p2",
                    "title": "Stars",
                    "text": "galaxy formation and dark matter",
                    "metadata": {"y": 2021},
                },
                {
                    "id": "p3",
                    "title": "Trials",
                    "text": "clinical trial of a new therapy",
                    "metadata": {"y": 2022},
                },
            ],
        )
        assert (result.upserted, result.unchanged) == (3, 0)
        hits = api.search("papers", "enzyme protein", k=2, mode="hybrid").hits
        assert hits[0].id == "p1" and hits[0].rank == 1
        filtered = api.search("papers", "enzyme protein", k=3, filter={"y": {"$gte": 2021}}).hits
        assert sorted(h.id for h in filtered) == ["p2", "p3"]
        assert "latent_documents" in api.metrics()
