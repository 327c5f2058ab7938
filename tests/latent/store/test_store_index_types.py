"""Collections on approximate indexes: deletes stay gone, `check` agrees with SQL, recall is measured."""

from __future__ import annotations

import pytest

from latent.config import get_settings
from latent.records import DocumentInput
from latent.search import SearchOptions, search
from latent.store.check import check_store
from latent.store.store import Store


@pytest.mark.parametrize("spec", ["hnsw", "ivf-pq:pq_m=16,nlist=4,nbits=4,train_size=200", "auto"])
def test_index_type_collection_is_consistent(tmp_path, spec: str) -> None:
    store = Store.open(get_settings(home=tmp_path, model="fake"))
    try:
        c = store.create_collection("c", index=spec)
        c.upsert([DocumentInput(id=f"d{i}", text=f"word{i % 50} other{i % 7} thing{i}") for i in range(300)])
        c.delete(["d3", "d53"])
        c.checkpoint()
        hits = search(c, "word3 other3", options=SearchOptions(k=5))
        assert hits and "d3" not in {h.id for h in hits}
        (report,) = check_store(store, "c")
        assert report.ok, report.problems
        assert report.vectors == report.chunks == 298
        assert 0.0 <= c.info().index_stats["recall@10"] <= 1.0
    finally:
        store.close()
