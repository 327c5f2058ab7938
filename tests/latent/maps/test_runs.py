"""Stored maps (latent.maps.runs): a failed SQL write leaves nothing behind; writers place new documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.topics import topic_docs

from latent.config import get_settings
from latent.errors import DimensionMismatch
from latent.maps import runs
from latent.maps.project import project_ids, project_vectors
from latent.records import DocumentInput
from latent.store.store import Store


@pytest.fixture
def collection(tmp_path: Path):  # noqa: ANN201
    with Store(get_settings(home=tmp_path, model="fake")) as store:
        c = store.create_collection("topics")
        c.upsert([DocumentInput(id=d["id"], text=d["text"], title=d["title"]) for d in topic_docs()])
        yield c


def test_a_failed_sql_write_leaves_no_map_file(collection, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runs, "insert", fail)  # the map's points cannot be written
    with pytest.raises(RuntimeError, match="went away"):
        runs.fit_map(collection, {"n_neighbors": 5})
    assert runs.list_maps(collection) == []  # the row rolled back …
    maps_dir = Path(collection.dir) / "maps"
    assert not maps_dir.exists() or list(maps_dir.iterdir()) == []  # … and so did its file


def test_place_on_current_map_places_only_what_the_newest_map_lacks(collection) -> None:
    assert runs.place_on_current_map(collection) == 0  # no map yet: nothing to do
    map_id = runs.fit_map(collection, {"n_neighbors": 5})
    assert runs.place_on_current_map(collection) == 0  # every document is on it
    collection.upsert([DocumentInput(id="A-late", text="apple banana cherry grape mango melon", title="fruit")])
    before, _ = runs.map_points(collection, map_id, limit=1000)
    assert "A-late" not in {p.id for p in before}  # reading does not place it
    assert runs.place_on_current_map(collection) == 1
    after, total = runs.map_points(collection, map_id, limit=1000)
    assert total == len(before) + 1 and "A-late" in {p.id for p in after}
    # project_ids: a stored point is read back, not placed again; the vector check is the shared one
    np.testing.assert_allclose(
        project_ids(collection, ["A-late"], map_id)[0], next((p.x, p.y) for p in after if p.id == "A-late")
    )
    with pytest.raises(DimensionMismatch):
        project_vectors(collection, np.ones((1, collection.dimension + 1)), map_id)
