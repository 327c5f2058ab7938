"""The store: opens the database (upgrading its schema), creates and opens collections."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

from sqlalchemy import delete, func, select

from latent.config import Settings
from latent.embedder import Encoder, encoder_identity, load_encoder
from latent.errors import CollectionNotFound, Conflict, InvalidInput
from latent.store.collection import Collection
from latent.store.db import make_engine, migrate, session_factory
from latent.store.models import ChunkRow, CollectionRow, DocumentRow
from latent.store.records import CollectionInfo

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class Store:
    """One per process: shares the engine, the encoders and the open collections between threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.resolved_database_url)
        migrate(self.engine)
        self.sessions = session_factory(self.engine)
        self.dialect = self.engine.dialect.name
        self._open: dict[str, Collection] = {}
        self._lock = threading.RLock()

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
        return load_encoder(self.settings, model=model, backend=backend)

    def create_collection(
        self,
        name: str,
        model: str | None = None,
        index: str | None = None,
        backend: str | None = None,
        exist_ok: bool = False,
    ) -> Collection:
        if not _NAME.match(name or ""):
            raise InvalidInput(
                f"invalid collection name {name!r}: use letters, digits, '_', '-', '.', at most 128 characters",
                code="invalid_collection_name",
                details={"name": name},
            )
        model_name = encoder_identity(model or self.settings.model)
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
            else:
                encoder = self.encoder(model_name, backend)
                from latent.index.factory import create_index

                spec = index or self.settings.index
                create_index(spec, encoder.dimension)  # an unknown type or bad parameter fails before any row
                row = CollectionRow(
                    name=name,
                    model=model_name,
                    backend=backend or self.settings.backend,
                    dimension=encoder.dimension,
                    metric="cosine",
                    index_spec=spec,
                    chunk_tokens=self.settings.chunk_tokens or (encoder.max_seq_length - encoder.special_tokens),
                    chunk_overlap=self.settings.chunk_overlap,
                    seq=0,
                    index_info={},
                )
                s.add(row)
        return self.collection(name)

    def collection(self, name: str) -> Collection:
        with self._lock:
            cached = self._open.get(name)
            with self.sessions() as s:
                row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is None:
                self._open.pop(name, None)
                raise CollectionNotFound(name)
            if cached is not None and cached.id == row.id:
                return cached
            collection = Collection(
                row,
                self.sessions,
                self.encoder(row.model, row.backend),
                self.index_path(row),
                self.lock_path(row),
                self.dialect,
                self.settings.max_filter_depth,
                self.settings.checkpoint_seconds,
            )
            collection.dir = self.collection_dir(row)
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
            )
            for r in rows
        ]

    def drop_collection(self, name: str) -> None:
        with self._lock:
            with self.sessions() as s:
                row = s.scalar(select(CollectionRow).where(CollectionRow.name == name))
            if row is None:
                raise CollectionNotFound(name)
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
