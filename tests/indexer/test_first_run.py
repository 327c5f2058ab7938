"""`make run` on a fresh data home: the demo ends indexed, clustered (labelled) and mapped before the server starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.first_run import MAKEFILE, first_run, run_steps
from helpers.server import serving

from latent.config import get_settings


def test_run_target_fits_clusters_and_map_then_prints_the_urls() -> None:
    steps = run_steps()
    assert [s[0] for s in steps] == ["index", "cluster", "map"]
    assert all("--if-missing" in s for s in steps[1:]), "a rerun of make run must not refit"
    run_target = MAKEFILE.read_text(encoding="utf-8").split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "/ui?collection=$(COLLECTION)" in run_target and "/docs" in run_target


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("first-run") / "home"
    first_run(home)
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    from service.main import create_app

    with serving(create_app(get_settings(home=home, model="fake"))) as url:
        yield url


@pytest.mark.slow
def test_first_run_leaves_the_demo_clustered_with_labels_and_mapped(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.get("/readyz").status_code == 200
        docs = http.get("/v1/collections/demo").json()["documents"]
        clusterings = http.get("/v1/collections/demo/clusterings").json()
        maps = http.get("/v1/collections/demo/maps").json()
        assert clusterings["count"] == 1 and maps["count"] == 1
        clusters = clusterings["data"][0]["clusters"]
        assert len(clusters) >= 2 and all(c["label"].strip() for c in clusters)
        newest = maps["data"][0]
        assert newest["points"] == docs > 2000
        assert newest["clustering_id"] == clusterings["data"][0]["id"]
        points = http.get(f"/v1/collections/demo/maps/{newest['id']}/points", params={"limit": 50}).json()
        assert points["count"] == docs and all(p["cluster"] is not None for p in points["data"])


@pytest.mark.slow
def test_rerunning_make_run_does_not_refit(home: Path) -> None:
    again = first_run(home)
    assert "not refitting" in again[1].stderr and "not refitting" in again[2].stderr
    from latent.clustering.runs import list_clusterings
    from latent.maps.runs import list_maps
    from latent.store.store import Store

    with Store(get_settings(home=home, model="fake")) as store:
        demo = store.collection("demo")
        assert len(list_clusterings(demo)) == 1 and len(list_maps(demo)) == 1
