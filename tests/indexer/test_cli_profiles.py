"""`latent profiles event|get|delete|recommend` through the real entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import CliResult, invoke
from helpers.topics import topic_docs

from latent.config import get_settings
from latent.records import DocumentInput
from latent.store.store import Store

Latent = Callable[..., CliResult]


@pytest.fixture
def latent(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Latent:
    home = tmp_path / "home"
    with Store(get_settings(home=home, model="fake")) as store:
        store.create_collection("t").upsert(
            [DocumentInput(id=d["id"], text=d["text"], title=d["title"]) for d in topic_docs()]
        )
    monkeypatch.setenv("LATENT_HOME", str(home))
    monkeypatch.setenv("LATENT_MODEL", "fake")
    return lambda *args: invoke(capsys, monkeypatch, *args)


def test_events_profile_recommend_and_forget(latent: Latent) -> None:
    liked = latent("profiles", "event", "ann", "-c", "t", "--id", "A0", "--id", "A1", "--kind", "like", "--json")
    assert liked.code == 0, liked.err
    assert liked.json()["recorded"] == 2
    assert latent("profiles", "event", "ann", "-c", "t", "--id", "B0", "--kind", "dislike").code == 0
    profile = latent("profiles", "get", "ann", "-c", "t", "--json").json()
    assert profile["count"] == 3 and profile["counts"] == {"like": 2, "dislike": 1}
    recs = latent("profiles", "recommend", "ann", "-c", "t", "-k", "4", "--json").json()
    ids = [h["id"] for h in recs["hits"]]
    assert ids and all(i[0] == "A" for i in ids) and not {"A0", "A1", "B0"} & set(ids)
    assert recs["hits"][0]["explanation"]["positive"][0]["events"][0]["kind"] == "like"
    table = latent("profiles", "recommend", "ann", "-c", "t", "-k", "2")
    assert table.code == 0 and "+A" in table.out
    assert latent("profiles", "delete", "ann", "-c", "t", "--json").json() == {"deleted": 3}
    assert latent("profiles", "get", "ann", "-c", "t").code == 1


def test_bad_events_are_refused_whole(latent: Latent) -> None:
    unknown = latent("profiles", "event", "bo", "-c", "t", "--id", "A0", "--id", "Z9")
    assert unknown.code == 1 and "Z9" in unknown.err
    assert latent("profiles", "event", "bo", "-c", "t", "--id", "A0", "--kind", "teleport").code == 2
    assert latent("profiles", "get", "bo", "-c", "t").code == 1
