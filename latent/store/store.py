"""The store: opens the database (upgrading its schema), creates and opens collections."""

from __future__ import annotations

import re
import shutil
import threading
from dataclasses import replace
from pathlib import Path

from sqlalchemy import delete, func, select

from latent.config import Settings
from latent.embedder import Encoder, encoder_identity, load_encoder
from latent.embedder.agreement import (
    SAMPLE_TEXTS,
    AgreedEncoder,
    AgreementReport,
    backend_agreement,
    even_sample,
)
from latent.embedder.choice import resolve_backend
from latent.embedder.serving import ServingEncoders
from latent.errors import CollectionNotFound, Conflict, InvalidInput, NoEncoder
from latent.records import CollectionInfo
from latent.store import reads, schema  # noqa: F401  (registers every table on the one MetaData)
from latent.store.alias_models import RESOLVE, aliases_of, is_alias, resolve_row
from latent.store.byo import check_existing, check_metric, new_dimension
from latent.store.collection import Collection
from latent.store.db import make_engine, migrate, session_factory
from latent.store.models import ChunkRow, CollectionRow, DocumentRow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def _check_query_backend(backend: str | None) -> None:
    """Fail at start-up, not on the first query (nor after a collection was created), on a misspelt backend."""
    from latent.embedder.onnx import BACKENDS

    if backend and backend not in ("torch", *BACKENDS):
        raise InvalidInput(
            f"unknown query backend {backend!r}; choose torch or one of {', '.join(BACKENDS)}",
            code="invalid_query_backend",
            details={"query_backend": backend},
        )


class Store:
    """One per process: shares the engine, the encoders and the open collections between threads."""

    def __init__(self, settings: Settings):
        _check_query_backend(settings.query_backend)
        self.settings = settings
        self.serving = ServingEncoders(settings)
        settings.home.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.resolved_database_url)
        migrate(self.engine)
        self.sessions = session_factory(self.engine)
        self.dialect = self.engine.dialect.name
        self._open: dict[str, Collection] = {}
        self._lock = threading.RLock()
        self._agreements: dict[tuple[str, str, str], AgreementReport] = {}  # (model, reference, candidate)
        self._agreement_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> Store:
        return cls(settings)

    def close(self) -> None:
        """Persist every index that is behind, then release the database."""
        with self._lock:
            for collection in self._open.values():
                collection.vectors.persist()
            self._open.clear()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- collections -------------------------------------------------------------------------
    def encoder(self, model: str | None = None, backend: str | None = None) -> Encoder:
        """The process-wide encoder for (model, backend): what documents are written with."""
        return load_encoder(self.settings, model=model, backend=backend)

    def query_encoder(self, model: str | None = None, backend: str | None = None) -> Encoder:
        """The same encoder for query texts: behind this store's query-vector cache and batcher."""
        if model == "":  # a collection without a model (bring-your-own vectors)
            raise NoEncoder("this collection has no encoder: its vectors come from you", details={})
        return self.serving.wrap(self.encoder(model, backend))

    def create_collection(
        self,
        name: str,
        model: str | None = None,
        index: str | None = None,
        backend: str | None = None,
        exist_ok: bool = False,
        dimension: int | None = None,
        metric: str | None = None,
    ) -> Collection:
        """A new collection (or, with `exist_ok`, the existing one). A `dimension` and no `model` makes a
        collection without an encoder: its documents bring their own vectors (`latent.store.byo`)."""
        if not _NAME.match(name or ""):
            raise InvalidInput(
                f"invalid collection name {name!r}: use letters, digits, '_', '-', '.', at most 128 characters",
                code="invalid_collection_name",
                details={"name": name},
            )
        name = self._unaliased(name, exist_ok)
        model_name = "" if dimension is not None and not model else encoder_identity(model or self.settings.model)
        check_metric(metric or "cosine")
        with self._lock, self.sessions() as s, s.begin():
            row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is not None:
                if not exist_ok:
                    raise Conflict(
                        f"collection {name!r} already exists", code="collection_exists", details={"name": name}
                    )
                if model and row.model != model_name:
                    raise Conflict(
                        f"collection {name!r} was built with model {row.model!r}, not {model_name!r}; "
                        "a collection never mixes vectors of two models",
                        code="model_mismatch",
                        details={"collection": row.model, "requested": model_name},
                    )
                check_existing(row, dimension, metric)
            else:
                encoder = self.encoder(model_name, backend) if model_name else None
                dim = new_dimension(dimension, encoder)
                from latent.index.factory import create_index, spec_with_metric

                spec = index or self.settings.index
                create_index(spec_with_metric(spec, metric or "cosine"), dim)  # a bad spec fails before any row
                row = CollectionRow(
                    name=name,
                    model=model_name,
                    backend=resolve_backend(backend or self.settings.backend, model_name) if encoder else "",
                    dimension=dim,
                    metric=metric or "cosine",
                    index_spec=spec,
                    chunk_tokens=(self.settings.chunk_tokens or (encoder.max_seq_length - encoder.special_tokens))
                    if encoder
                    else 0,
                    chunk_overlap=self.settings.chunk_overlap if encoder else 0,
                    seq=0,
                    index_info={},
                )
                s.add(row)
        return self.collection(name)

    def _unaliased(self, name: str, exist_ok: bool) -> str:
        """A name to create: an alias's name means its collection when it may exist, else 409 alias_exists."""
        with self.sessions() as s:
            if not is_alias(s, name):
                return name
            row = resolve_row(s, name)
        if not exist_ok or row is None:
            raise Conflict(
                f"{name!r} is an alias; a collection may not take its name",
                code="alias_exists",
                details={"alias": name},
            )
        return row.name

    def collection(self, name: str) -> Collection:
        """The open collection named `name`, or the one the alias `name` points at; raises CollectionNotFound.

        The one place an alias is resolved: one query reads the alias and its collection together, so a
        caller sees the collection before or after a switch, never a mix.

        Every call looks the name up (one indexed query, no lock), so a collection another process
        dropped or re-created is noticed on the next request; the open object is reused while the row is
        the same one: same id and creation time (SQLite may give a dropped collection's id to the next).
        """
        found = list(reads.run(self.engine, RESOLVE, name=name))
        found = [r for r in found if r.name == name] or found  # a collection's own name wins over an alias
        identity = (found[0].id, found[0].created_at) if found else None
        name = found[0].name if found else name
        cached = self._open.get(name)
        if identity is None:
            if cached is not None:
                with self._lock:
                    if self._open.get(name) is cached:
                        del self._open[name]
            raise CollectionNotFound(name)
        if cached is not None and (cached.id, cached.created_at) == tuple(identity):
            return cached
        return self._open_collection(name)

    def _open_collection(self, name: str) -> Collection:
        """Open (load the encoder, the index) and cache a collection; once, whichever thread gets here first."""
        with self._lock:
            with self.sessions() as s:
                row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is None:
                self._open.pop(name, None)
                raise CollectionNotFound(name)
            cached = self._open.get(name)
            if cached is not None and (cached.id, cached.created_at) == (row.id, row.created_at):
                return cached  # another thread opened it meanwhile
            collection = Collection(
                row,
                self.sessions,
                self.encoder(row.model, row.backend) if row.model else None,  # no model: vectors come with documents
                self.index_path(row),
                self.lock_path(row),
                self.dialect,
                self.settings.max_filter_depth,
                self.settings.checkpoint_seconds,
                self.settings.faiss_threads,
            )
            collection.dir = self.collection_dir(row)
            query_backend = self.query_backend_for(row.backend) if row.model else None
            if query_backend is not None:
                key = (row.id, row.model, row.backend, query_backend)
                collection.query_encoder = AgreedEncoder(
                    collection.encoder,
                    query_backend,
                    self.settings.query_backend_min_cosine,
                    lambda: self._measure_agreement(*key),
                    row.name,
                )
            if collection.has_encoder:
                collection.query_encoder = self.serving.wrap(collection.query_encoder)
            self._open[name] = collection
            return collection

    def list_collections(self) -> list[CollectionInfo]:
        with self.sessions() as s:
            rows = s.scalars(select(CollectionRow).order_by(CollectionRow.name)).all()
            docs = dict(
                s.execute(select(DocumentRow.collection_id, func.count()).group_by(DocumentRow.collection_id)).all()
            )
            chunks = dict(
                s.execute(select(ChunkRow.collection_id, func.count()).group_by(ChunkRow.collection_id)).all()
            )
        return [
            CollectionInfo(
                name=r.name,
                model=r.model,
                backend=r.backend,
                dimension=r.dimension,
                metric=r.metric,
                index=r.index_spec,
                documents=int(docs.get(r.id, 0)),
                chunks=int(chunks.get(r.id, 0)),
                chunk_tokens=r.chunk_tokens,
                chunk_overlap=r.chunk_overlap,
                created_at=r.created_at,
                index_stats=dict(r.index_info or {}),
                query_backend=self.query_backend_for(r.backend),
                backend_agreement=self._agreements.get((r.model, r.backend, self.query_backend_for(r.backend) or "")),
            )
            for r in rows
        ]

    # ----- query backend ----------------------------------------------------------------------
    def query_backend_for(self, backend: str) -> str | None:
        """The backend that encodes queries of a collection built with `backend`, when it is another one."""
        wanted = self.settings.query_backend
        return wanted if wanted and wanted != backend else None

    def _measure_agreement(
        self, collection_id: int, model: str, reference: str, candidate: str
    ) -> tuple[Encoder, AgreementReport]:
        """Load the candidate encoder and compare it with the reference, once per (model, pair) and store."""
        encoder = self.encoder(model, candidate)
        key = (model, reference, candidate)
        with self._agreement_lock:
            report = self._agreements.get(key)
            if report is None:
                texts = self._sample_texts(collection_id)
                report = backend_agreement(self.encoder(model, reference), encoder, texts, SAMPLE_TEXTS)
                # The names the collection and the settings use (a test's fake encoder calls itself 'fake').
                report = replace(report, reference=reference, candidate=candidate)
                self._agreements[key] = report
        return encoder, report

    def _sample_texts(self, collection_id: int, n: int = SAMPLE_TEXTS, max_chars: int = 2000) -> list[str]:
        """Up to n stored documents (title and text) spread evenly over the collection; the demo
        calibration texts when it is empty."""
        with self.sessions() as s:
            ids = s.scalars(
                select(DocumentRow.id).where(DocumentRow.collection_id == collection_id).order_by(DocumentRow.id)
            ).all()
            picked = even_sample(list(ids), n)
            rows = s.execute(
                select(DocumentRow.title, DocumentRow.text).where(DocumentRow.id.in_(picked)).order_by(DocumentRow.id)
            ).all()
        texts = [f"{title} {text}".strip()[:max_chars] for title, text in rows]
        if any(t for t in texts):
            return texts
        from latent.embedder.ov_quantize import calibration_texts

        return [t[:max_chars] for t in calibration_texts(n)]

    def drop_collection(self, name: str) -> None:
        with self._lock:
            with self.sessions() as s:
                row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
                if row is None:
                    row = resolve_row(s, name)  # via an alias: refused below, since the alias points at it
                aliases = aliases_of(s, row.id) if row is not None else []
            if row is None:
                raise CollectionNotFound(name)
            if aliases:
                raise Conflict(
                    f"collection {row.name!r} is the target of alias {', '.join(map(repr, aliases))}: "
                    "point the alias elsewhere or delete it first",
                    code="collection_has_aliases",
                    details={"collection": row.name, "aliases": aliases},
                )
            name = row.name
            collection = self.collection(name)
            with collection.writer.hold():
                with self.sessions() as s, s.begin():
                    # Delete documents first so the FTS triggers fire; the rest cascades.
                    s.execute(delete(DocumentRow).where(DocumentRow.collection_id == row.id))
                    s.execute(delete(CollectionRow).where(CollectionRow.id == row.id))
                self._open.pop(name, None)
                self.index_path(row).unlink(missing_ok=True)
                shutil.rmtree(self.collection_dir(row), ignore_errors=True)

    # ----- paths -------------------------------------------------------------------------------
    def collection_dir(self, row: CollectionRow) -> Path:
        """Per-collection files (maps, VAE checkpoints); the id keeps a re-created name apart."""
        return self.settings.home / "collections" / f"{row.name}-{row.id}"

    def index_path(self, row: CollectionRow) -> Path:
        return self.settings.indexes_dir / f"{row.name}-{row.id}.faiss"

    def lock_path(self, row: CollectionRow) -> Path:
        return self.settings.indexes_dir / f"{row.name}-{row.id}.lock"
