"""`latent export` → Parquet → `latent index FILE.parquet`, end to end through the CLI: the round trip keeps
ids, texts, metadata, spans and vectors, reuses the vectors without embedding when the encoder matches,
embeds when it does not, and a damaged file is a usage error (exit 2)."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import cli
from helpers.corpora import topical, write_jsonl

from latent.embedder.fake import FakeEncoder

N = 30
QUERIES = ["cell protein gene", "quantum energy wave", "patient dose therapy", "molecule catalyst acid"]


@pytest.fixture
def latent(tmp_path, capsys, monkeypatch):
    """`latent(*args, model=...)` runs the CLI in-process on a temp home (fake encoder by default)."""
    home = tmp_path / "home"

    def run(*args, model: str = "fake"):
        return cli.invoke(capsys, monkeypatch, "--home", home, "--model", model, *args)

    return run


@pytest.fixture
def encode_calls(monkeypatch) -> list[int]:
    """Texts the fake encoder embeds, per call: what proves an import did not embed again."""
    calls: list[int] = []
    original = FakeEncoder.encode

    def counting(self, texts, batch_size=None):
        calls.append(len(texts))
        return original(self, texts, batch_size)

    monkeypatch.setattr(FakeEncoder, "encode", counting)
    return calls


def _records(n: int = N) -> list[dict]:
    """Topical documents; some long enough for several chunks, metadata with nested values and unicode."""
    out = []
    for i, doc in enumerate(topical(n)):
        text = doc.text + (" " + " ".join(f"w{j}" for j in range(150)) if i % 5 == 0 else "")
        out.append({"_id": doc.id, "title": doc.title, "text": text, **doc.metadata, "nested": {"ü": [i, None]}})
    return out


@pytest.fixture
def source(latent, tmp_path) -> str:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", _records())
    done = latent("index", corpus, "-c", "src", "-q")
    assert done.code == 0, done.err
    return "src"


def _contents(home: Path, name: str, model: str = "fake") -> dict[str, tuple]:
    """Every document of a collection: (title, text, metadata, spans, vectors), read through the store."""
    from sqlalchemy import select

    from latent.config import get_settings
    from latent.store.models import ChunkRow, DocumentRow
    from latent.store.store import Store
    from latent.store.vectors import decode_vectors

    with Store.open(get_settings(home=home, model=model)) as store:
        coll = store.collection(name)
        docs = {d.id: d for d in coll.list_documents(limit=10_000)[0]}
        with coll.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, ChunkRow.char_start, ChunkRow.char_end, ChunkRow.vector)
                .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
                .where(DocumentRow.collection_id == coll.id)
                .order_by(DocumentRow.external_id, ChunkRow.ordinal)
            ).all()
        dim = coll.dimension
    spans: dict[str, list] = {}
    blobs: dict[str, list] = {}
    for ext, start, end, blob in rows:
        spans.setdefault(ext, []).append((start, end))
        blobs.setdefault(ext, []).append(blob)
    return {i: (d.title, d.text, d.metadata, spans[i], decode_vectors(blobs[i], dim)) for i, d in sorted(docs.items())}


def _search(latent, name: str) -> list[list[tuple[str, float]]]:
    out = []
    for q in QUERIES:
        found = latent("search", q, "-c", name, "-k", "10", "--json")
        assert found.code == 0, found.err
        out.append([(h["id"], round(h["score"], 5)) for h in found.json()["hits"]])
    return out


def test_round_trip_reuses_the_vectors_without_embedding(latent, source, tmp_path, encode_calls):
    out = tmp_path / "src.parquet"
    exported = latent("export", out, "-c", source, "--batch-docs", "7", "--json")
    assert exported.code == 0, exported.err
    summary = exported.json()
    assert (summary["documents"], summary["row_groups"], summary["model"]) == (N, 5, "fake")
    assert summary["chunks"] > N and summary["bytes"] == out.stat().st_size
    assert "exporting src" in exported.err  # progress on stderr, the summary alone on stdout

    encode_calls.clear()
    imported = latent("index", out, "-c", "copy", "-q", "--json")
    assert imported.code == 0, imported.err
    data = imported.json()
    assert data["indexed"] == N and data["chunks"] == summary["chunks"]
    assert data["vectors"] == {"reused": N, "embedded": 0, "stale": 0, "not_reused_because": None}
    assert data["source"]["model"] == "fake" and data["source"]["collection"] == "src"
    assert encode_calls == []  # nothing was embedded

    home = tmp_path / "home"
    before, after = _contents(home, "src"), _contents(home, "copy")
    assert list(before) == list(after)
    for doc_id, (title, text, metadata, spans, vectors) in before.items():
        title2, text2, metadata2, spans2, vectors2 = after[doc_id]
        assert (title2, text2, metadata2, spans2) == (title, text, metadata, spans)
        # planning re-normalises cosine vectors: float32 unit_rows of a unit vector moves at most 1 ulp
        np.testing.assert_allclose(vectors2, vectors, rtol=0, atol=1e-7)
    assert _search(latent, "copy") == _search(latent, source)

    again = latent("index", out, "-c", "copy", "-q", "--json").json()  # a re-run is a no-op
    assert (again["indexed"], again["unchanged"], again["vectors"]["reused"]) == (0, N, 0)

    second = tmp_path / "copy.parquet"  # a copy of a copy still reuses every vector
    assert latent("export", second, "-c", "copy", "-q").code == 0
    encode_calls.clear()
    data = latent("index", second, "-c", "copy2", "-q", "--json").json()
    assert data["vectors"] == {"reused": N, "embedded": 0, "stale": 0, "not_reused_because": None}
    assert encode_calls == []


def test_the_file_is_plain_parquet_for_arrow_and_pandas(latent, source, tmp_path):
    out = tmp_path / "src.parquet"
    assert latent("export", out, "-c", source, "-q").code == 0
    table = pq.read_table(out)
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert {meta[f"latent.{k}"] for k in ("model", "backend", "dimension", "metric")} >= {"fake", "64", "cosine"}
    assert meta["latent.version"] and meta["latent.collection"] == "src"
    assert table.schema.field("vectors").type == pa.list_(pa.list_(pa.float32(), 64))
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    row = table.slice(0, 1).to_pylist()[0]
    assert row["id"] == "doc-0" and json.loads(row["metadata"])["nested"] == {"ü": [0, None]}
    assert len(row["vectors"]) == len(row["chunks"]) > 1 and row["chunks"][0]["char_start"] == 0
    assert row["created_at"].tzinfo is not None and row["created_at"].utcoffset() == UTC.utcoffset(None)

    pd = pytest.importorskip("pandas", reason="pandas is not installed: the pandas half needs it")
    frame = pd.read_parquet(out)
    assert len(frame) == N and list(frame.columns[:4]) == ["id", "title", "text", "metadata"]
    assert np.stack(frame["vectors"][0]).shape == (len(row["chunks"]), 64)
    assert str(frame["updated_at"].dt.tz) == "UTC"


def test_another_model_embeds_again(latent, source, tmp_path, encode_calls):
    out = tmp_path / "src.parquet"
    assert latent("export", out, "-c", source, "-q").code == 0
    encode_calls.clear()
    imported = latent("index", out, "-c", "small", "-q", "--json", model="fake:32")
    assert imported.code == 0, imported.err
    data = imported.json()
    assert data["indexed"] == N and data["vectors"]["reused"] == 0 and data["vectors"]["embedded"] == N
    assert "fake on torch (64-d)" in data["vectors"]["not_reused_because"]
    assert sum(encode_calls) >= data["chunks"]
    listed = {c["name"]: c for c in latent("collections", "--json", model="fake:32").json()}
    assert listed["small"]["dimension"] == 32 and listed["small"]["documents"] == N

    table = latent("index", out, "-c", "small2", "-q", model="fake:32")  # the text summary says why, on stderr
    assert table.code == 0 and "0 from the file's vectors, 30 embedded" in table.out
    assert "vectors not reused" in table.err


def test_a_row_edited_after_the_export_is_embedded(latent, source, tmp_path, encode_calls):
    out = tmp_path / "src.parquet"
    assert latent("export", out, "-c", source, "-q").code == 0
    table = pq.read_table(out)
    texts = table.column("text").to_pylist()
    texts[3] = "an edited text about enzymes"
    edited = tmp_path / "edited.parquet"
    pq.write_table(table.set_column(2, "text", pa.array(texts)), edited)
    encode_calls.clear()
    data = latent("index", edited, "-c", "copy", "-q", "--json").json()
    assert data["vectors"] == {"reused": N - 1, "embedded": 1, "stale": 1, "not_reused_because": None}
    assert encode_calls == [1]
    hits = latent("search", "edited enzymes", "-c", "copy", "-k", "1", "--json").json()["hits"]
    assert hits[0]["id"] == "doc-3"


def test_any_parquet_file_is_a_source(latent, tmp_path):
    """Not an export: columns map like JSONL fields; a JSON-string or struct `metadata` column is the metadata."""
    path = tmp_path / "plain.parquet"
    table = pa.table(
        {
            "id": [1, 2, 3, 4],
            "title": ["Vitamin D", "Coffee", None, None],
            "text": ["vitamin supplements and fractures", "coffee and heart rhythm", "sleep and memory", ""],
            "metadata": ['{"year": 2020, "tags": ["a"]}', '{"year": 2021}', None, None],
            "score": [0.5, float("nan"), 1.5, 2.0],
        }
    )
    pq.write_table(table, path, row_group_size=2)
    done = latent("index", path, "-c", "plain", "-q", "--json")
    assert done.code == 0, done.err
    data = done.json()
    assert (data["indexed"], data["rejected"]) == (3, 1) and data["rejections"][0].startswith(f"{path}:4: ")
    assert data["vectors"]["embedded"] == 3 and "no Latent vectors" in data["vectors"]["not_reused_because"]
    hits = latent("search", "vitamin fractures", "-c", "plain", "-k", "1", "--json").json()["hits"]
    assert hits[0]["id"] == "1"
    stored = {i: (title, metadata) for i, (title, _, metadata, _, _) in _contents(tmp_path / "home", "plain").items()}
    assert stored == {
        "1": ("Vitamin D", {"year": 2020, "tags": ["a"], "score": 0.5}),
        "2": ("Coffee", {"year": 2021, "score": None}),  # NaN is no JSON number
        "3": ("", {"score": 1.5}),  # a null metadata cell is no metadata
    }

    mapped = tmp_path / "mapped.parquet"
    pq.write_table(pa.table({"key": ["x"], "body": ["gene protein"], "extra": ["e"], "meta": [{"lang": "en"}]}), mapped)
    done = latent("index", mapped, "-c", "mapped", "--id-field", "key", "--text-fields", "body", "-q", "--json")
    assert done.code == 0 and done.json()["indexed"] == 1
    assert _contents(tmp_path / "home", "mapped")["x"][2] == {"extra": "e", "meta": {"lang": "en"}}


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_file_is_a_usage_error(latent, source, tmp_path, damage):
    out = tmp_path / "src.parquet"
    assert latent("export", out, "-c", source, "-q").code == 0
    data = out.read_bytes()
    bad = tmp_path / "bad.parquet"
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not parquet at all" * 10, "empty": b""}[damage])
    done = latent("index", bad, "-c", "copy", "-q")
    assert done.code == 2
    assert f"error: {bad} is not a readable Parquet file" in done.err and "Traceback" not in done.err
    assert "copy" not in [c["name"] for c in latent("collections", "--json").json()]  # nothing was created


def test_export_errors(latent, source, tmp_path):
    missing = latent("export", tmp_path / "out.parquet", "-c", "nope")
    assert missing.code == 1 and "collection 'nope' does not exist" in missing.err
    no_dir = latent("export", tmp_path / "no" / "out.parquet", "-c", source)
    assert no_dir.code == 2 and "no such directory" in no_dir.err
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_a_collection_without_encoder_round_trips(latent, tmp_path, metric):
    """Bring-your-own vectors (model ""): the file's vectors are the only ones there are, and come back;
    under cosine the stored ones are the normalised given ones, and they re-import as they are."""
    from latent.config import get_settings
    from latent.records import DocumentInput, PrecomputedChunk
    from latent.store.store import Store
    from latent.vectors import unit_rows

    home = tmp_path / "home"
    rng = np.random.default_rng(0)
    vectors = 3 * rng.standard_normal((6, 8)).astype(np.float32)  # not unit length
    with Store.open(get_settings(home=home, model="fake")) as store:
        coll = store.create_collection("own", dimension=8, metric=metric)
        coll.upsert(
            [
                DocumentInput(id=f"v{i}", text=f"vector {i}", precomputed=(PrecomputedChunk(0, 8, vectors[i]),))
                for i in range(6)
            ]
        )
    out = tmp_path / "own.parquet"
    exported = latent("export", out, "-c", "own", "-q", "--json")
    assert exported.code == 0, exported.err
    assert (exported.json()["model"], exported.json()["metric"]) == ("", metric)
    data = latent("index", out, "-c", "own2", "-q", "--json").json()
    assert data["vectors"]["reused"] == 6 and data["model"] == ""
    listed = {c["name"]: c for c in latent("collections", "--json").json()}
    assert listed["own2"]["dimension"] == 8
    got = np.vstack([_contents(home, "own2")[f"v{i}"][4] for i in range(6)])
    if metric == "dot":
        np.testing.assert_array_equal(got, vectors)  # dot: stored as given
    else:
        np.testing.assert_allclose(got, unit_rows(vectors), rtol=0, atol=1e-7)

    table = pq.read_table(out)  # an edited text whose spans no longer fit: that row alone is refused
    texts = table.column("text").to_pylist()
    texts[2] = "v2"
    edited = tmp_path / "edited.parquet"
    pq.write_table(table.set_column(2, "text", pa.array(texts)), edited)
    data = latent("index", edited, "-c", "own3", "-q", "--json").json()
    assert (data["indexed"], data["rejected"]) == (5, 1) and "spans no longer fit" in data["rejections"][0]


def test_damage_in_the_middle_keeps_the_finished_batches(latent, source, tmp_path):
    out = tmp_path / "src.parquet"
    assert latent("export", out, "-c", source, "-q", "--batch-docs", "7").code == 0
    page = pq.ParquetFile(out).metadata.row_group(2).column(2).data_page_offset  # the third group's texts
    data = bytearray(out.read_bytes())
    data[page : page + 64] = b"\xff" * 64
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    done = latent("index", bad, "-c", "copy", "-q", "--batch-docs", "7")
    assert done.code == 2 and "is not a readable Parquet file after row 14" in done.err
    assert "Traceback" not in done.err
    listed = {c["name"]: c for c in latent("collections", "--json").json()}
    assert 7 <= listed["copy"]["documents"] < 14  # the batches written before the damage are kept
