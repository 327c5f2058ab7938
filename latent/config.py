"""One typed settings object, read from `LATENT_*` environment variables and CLI flags."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def force_offline() -> None:
    """Forbid every hub download: models must be local folders or installed packages."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


force_offline()

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Everything Latent can be configured with; `LATENT_<FIELD>` sets a field."""

    model_config = SettingsConfigDict(env_prefix="LATENT_", extra="ignore")

    home: Path = Field(Path(".latent"), description="Data home: SQLite file, FAISS indexes, models.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata store (default: SQLite file in the data home)."
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: 'all-MiniLM-L6-v2' (bundled package) or a local sentence-transformers folder.",
    )
    backend: str = Field(
        "auto",
        description="Encoder backend for new collections: auto | torch | onnx | onnx-int8 | openvino | openvino-int8. "
        "auto picks openvino-int8 where the CPU has int8 dot-product instructions (VNNI/AMX), else the fastest "
        "fp32 backend installed (openvino > onnx > torch); existing collections keep the backend they recorded.",
    )
    query_backend: str | None = Field(
        None,
        description="Encoder backend for query texts when it differs from the one a collection was built with; "
        "allowed only if their vectors agree (mean cosine >= query_backend_min_cosine on a sample of the "
        "collection's texts).",
    )
    query_backend_min_cosine: float = Field(
        0.98,
        ge=-1.0,
        le=1.0,
        description="Least mean cosine, over the sample, between the collection's and the query backend's vectors.",
    )
    model_cache: Path | None = Field(
        None, description="Where ONNX/OpenVINO exports of the model are kept (default: <home>/models); exported once."
    )
    device: str = Field("cpu", description="Torch device for the encoder.")
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per forward pass of the encoder.")
    threads: int | None = Field(None, description="Intra-op threads for inference (default: physical cores).")
    chunk_tokens: int | None = Field(
        None, description="Tokens per chunk (default: the model's max sequence length minus special tokens)."
    )
    chunk_overlap: int = Field(32, ge=0, description="Tokens shared by consecutive chunks of one document.")
    index: str = Field(
        "auto",
        description="Default index type of new collections: auto (exact below 50k vectors, then HNSW, then "
        "IVF-PQ past the memory budget) | flat | hnsw | ivf-pq.",
    )
    checkpoint_seconds: float = Field(
        30.0, description="How often a writer persists its FAISS file (SQL is committed every batch)."
    )
    host: str = Field("127.0.0.1", description="Address `latent serve` binds to.")
    port: int = Field(8000, description="Port `latent serve` listens on.")
    admin_key: SecretStr | None = Field(
        None, description="Bootstrap admin API key (lk_<12 hex>_<secret>), stored hashed when the service starts."
    )
    admin_key_file: Path | None = Field(
        None, description="File holding the bootstrap admin key (a Docker secret: /run/secrets/latent_admin_key)."
    )
    allow_no_auth: bool = Field(
        False, description="Let `latent serve` bind a non-local address with no API key (private networks only)."
    )
    max_body_bytes: int = Field(16 * 1024 * 1024, description="Largest HTTP request body accepted.")
    max_batch_documents: int = Field(1000, description="Most documents in one HTTP upsert.")
    max_k: int = Field(1000, description="Largest k a search may ask for.")
    max_query_chars: int = Field(10_000, description="Longest query text accepted.")
    max_filter_depth: int = Field(8, description="Deepest nesting of $and/$or/$not in a filter.")
    max_batch_texts: int = Field(
        256, ge=1, description="Most queries in one batch search, or texts in one embed or tokenize call."
    )
    auth_cache_seconds: float = Field(
        1.0, ge=0, description="How long the server reuses its check of whether any API key exists."
    )
    query_batch_wait_ms: float = Field(
        1.5,
        ge=0,
        le=50,
        description="Longest a query text waits for others to share its encoder call (0: no batching). "
        "A query alone never waits.",
    )
    query_batch_max: int = Field(32, ge=1, le=256, description="Most query texts coalesced into one encoder call.")
    query_cache_size: int = Field(
        10_000, ge=0, le=10_000_000, description="Query vectors kept, by (model, backend, text), LRU (0: no cache)."
    )
    faiss_threads: int = Field(
        1, ge=1, description="OpenMP threads per FAISS search (requests and batches already run in parallel)."
    )

    rate_limit_per_second: float = Field(
        0.0, ge=0, description="Requests a second each client (API key, else address) may make; 0 turns it off."
    )
    rate_limit_burst: int = Field(50, ge=1, description="Requests a client may make at once above its rate.")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'latent.db').resolve()}"

    @property
    def indexes_dir(self) -> Path:
        return self.home / "indexes"

    @property
    def models_dir(self) -> Path:
        return self.model_cache or self.home / "models"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (CLI flags, tests) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
