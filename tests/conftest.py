"""Shared fixtures: settings and stores on a temp home (fake encoder), the real model once per session,
and a throw-away PostgreSQL server for the `postgres` tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from latent.config import Settings, get_settings
from latent.store.store import Store

REAL_MODEL = "all-MiniLM-L6-v2"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on a temp home with the deterministic fake encoder; keyword overrides on top."""

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("home", tmp_path / "home")
        overrides.setdefault("model", "fake")
        return get_settings(**overrides)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def open_store(settings: Settings) -> Iterator[Callable[..., Store]]:
    """Opens stores (default: `settings`) and closes every one of them at the end of the test."""
    opened: list[Store] = []

    def open_(s: Settings | None = None) -> Store:
        store = Store.open(s or settings)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:
    return open_store()


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The bundled all-MiniLM-L6-v2; one home for the session so the encoder cache loads it once."""
    return get_settings(home=tmp_path_factory.mktemp("real-home"), model=REAL_MODEL, batch_size=32)


@pytest.fixture(scope="module")
def single_threaded_faiss() -> Iterator[None]:
    """FAISS's OpenMP threads spin-wait; on a busy 2-core box one thread trains PQ several times faster."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX/OpenVINO export cache for the session (LATENT_MODEL_CACHE): each backend exports once."""
    return tmp_path_factory.mktemp("model-exports")


@pytest.fixture
def small_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenVINO int8 calibrates on 48 texts instead of 200: same code path, a quarter of the time."""
    import latent.embedder.ov_quantize as ov_quantize

    monkeypatch.setattr(ov_quantize, "CALIBRATION_TEXTS", 48)


@pytest.fixture(scope="session")
def real_store(real_settings: Settings) -> Iterator[Store]:
    """One store with the real model for every `slow` test (each uses its own collection names)."""
    store = Store.open(real_settings)
    store.encoder()  # load the model now, once
    yield store
    store.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL 15 server for the whole session (skips, with the reason, where none can run)."""
    from helpers import postgres

    try:
        server = postgres.start()
    except postgres.Unavailable as exc:
        pytest.skip(f"no PostgreSQL for congruence tests: {exc}")
    yield server
    server.stop()


_db_numbers = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database(f"latent_test_{next(_db_numbers)}")
