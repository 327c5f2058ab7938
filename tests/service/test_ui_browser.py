"""The map page in headless Chromium (Debian's package, driven by Playwright): points drawn, search highlights,
and after `make run`'s steps on a fresh home, the labelled demo map on the very first load."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.first_run import first_run
from helpers.server import serving
from helpers.topics import topic_docs

from latent.clustering.runs import run_clustering
from latent.config import get_settings
from latent.maps.runs import fit_map
from latent.records import DocumentInput
from latent.store.store import Store

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium() -> None:
    """Install Debian's chromium when it is missing (needs root); skip with the reason otherwise."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("/usr/bin/chromium is missing and this test cannot install it (needs root and apt-get)")
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, timeout=600)
    if not CHROMIUM.exists():
        pytest.skip("`apt-get install -y chromium` did not provide /usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server over a small collection with a clustering and a fitted map."""
    from service.main import create_app

    settings = get_settings(home=tmp_path_factory.mktemp("ui") / "home", model="fake")
    with Store(settings) as store:
        collection = store.create_collection("demo")
        collection.upsert([DocumentInput(id=d["id"], text=d["text"], title=d["title"]) for d in topic_docs()])
        run_clustering(collection, {"algorithm": "kmeans", "k": 3})
        fit_map(collection, {"n_neighbors": 5})
    with serving(create_app(settings)) as url:
        yield url


def test_map_page_draws_points_and_highlights_search_hits(server: str) -> None:
    ensure_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server}/ui?collection=demo")
            page.wait_for_function("Number(document.body.dataset.points || 0) > 0", timeout=30_000)
            assert int(page.evaluate("document.body.dataset.points")) == len(topic_docs())
            page.fill("#query", "apple banana cherry")
            page.press("#query", "Enter")
            page.wait_for_function("Number(document.body.dataset.highlighted || 0) > 0", timeout=30_000)
            assert int(page.evaluate("document.body.dataset.highlighted")) > 0
            page.screenshot(path=str(ARTIFACTS / "ui.png"))
            assert not errors, errors
        finally:
            browser.close()
    assert (ARTIFACTS / "ui.png").stat().st_size > 0


@pytest.fixture(scope="module")
def first_run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`make run` on a fresh home: its steps (index the demo, cluster, map), then the server."""
    from service.main import create_app

    home = tmp_path_factory.mktemp("first-run-ui") / "home"
    first_run(home)
    with serving(create_app(get_settings(home=home, model="fake"))) as url:
        yield url


@pytest.mark.slow
def test_first_load_after_make_run_shows_the_labelled_demo_map(first_run_server: str) -> None:
    ensure_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    (clustering,) = httpx.get(f"{first_run_server}/v1/collections/demo/clusterings").json()["data"]
    labels = {c["label"] for c in clustering["clusters"]}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{first_run_server}/ui?collection=demo")
            page.wait_for_function("Number(document.body.dataset.points || 0) > 0", timeout=60_000)
            assert "No map of" not in page.inner_text("body")
            documents = httpx.get(f"{first_run_server}/v1/collections/demo").json()["documents"]
            assert int(page.evaluate("document.body.dataset.points")) == documents
            legend = page.locator("#cluster-list li .title").all_inner_texts()
            assert legend and set(legend) == labels, (legend, labels)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "ui-first-run.png"))
            assert not errors, errors
        finally:
            browser.close()
