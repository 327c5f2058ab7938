"""`latent jobs list|get|cancel` from another process than the server that runs the job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.cli import run
from helpers.server import serving
from helpers.topics import topic_docs

from latent.config import get_settings
from latent.records import DocumentInput
from latent.store.store import Store

ENDLESS = {"epochs": 100_000, "latent_dim": 4, "hidden_dim": 16, "batch_size": 8, "prior": "gaussian"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with Store(get_settings(home=home, model="fake")) as store:
        store.create_collection("t").upsert(
            [DocumentInput(id=d["id"], text=d["text"], title=d["title"]) for d in topic_docs()]
        )
    return home


@pytest.fixture
def http(home: Path) -> Iterator[httpx.Client]:
    from service.main import create_app

    with serving(create_app(get_settings(home=home, model="fake"))) as url, httpx.Client(base_url=url) as client:
        yield client


def wait_for(http: httpx.Client, job_id: str, statuses: tuple[str, ...], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


def test_cancel_from_the_cli_stops_a_job_running_in_the_server(home: Path, http: httpx.Client) -> None:
    started = http.post("/v1/collections/t/vae", json=ENDLESS)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    running = wait_for(http, job_id, ("running",))
    wait_for_epochs = time.monotonic() + 30
    while "epoch" not in running["message"] and time.monotonic() < wait_for_epochs:
        time.sleep(0.1)
        running = http.get(f"/v1/jobs/{job_id}").json()

    listed = run(home, "jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(j["id"], j["status"]) for j in json.loads(listed.stdout)] == [(job_id, "running")]
    shown = run(home, "jobs", "get", job_id)
    assert shown.returncode == 0 and "running" in shown.stdout

    cancelled = run(home, "jobs", "cancel", job_id, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    asked = time.monotonic()
    final = wait_for(http, job_id, ("cancelled", "failed", "succeeded"), seconds=30)
    assert final["status"] == "cancelled"
    # the server's worker noticed: training stops (the message stops changing) and no model is stored
    last = http.get(f"/v1/jobs/{job_id}").json()["message"]
    time.sleep(1.5)
    assert http.get(f"/v1/jobs/{job_id}").json()["message"] == last
    assert time.monotonic() - asked < 30
    assert http.get("/v1/collections/t/vae").json()["count"] == 0
    again = run(home, "jobs", "cancel", job_id)
    assert again.returncode == 1 and "already cancelled" in again.stderr


def test_jobs_commands_on_unknown_ids_and_collections(home: Path) -> None:
    missing = run(home, "jobs", "get", "0" * 32)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert run(home, "jobs", "list", "-c", "nope").returncode == 1
    empty = run(home, "jobs", "list", "-c", "t", "--json")
    assert empty.returncode == 0 and empty.stdout.strip() == "[]"
