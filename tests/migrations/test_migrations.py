"""Migrations: upgrade an empty database, downgrade to base and back, and the ORM models agree with them."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from latent.store.db import alembic_config, make_engine, migrate

CORE_TABLES = {"collections", "documents", "chunks", "vector_deletions"}


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def autogenerate_diff(engine) -> list:
    """What `alembic revision --autogenerate` would write, using migrations/env.py's own configuration
    (its target metadata and its include_object, which leaves the FTS5 tables out)."""
    diffs: list = []

    def compare(_rev, context):
        diffs.extend(compare_metadata(context, context.opts["target_metadata"]))
        return []

    with engine.connect() as conn:
        cfg = alembic_config(conn)
        script = ScriptDirectory.from_config(cfg)
        with EnvironmentContext(cfg, script, fn=compare):
            script.run_env()
    return diffs


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    yield engine
    engine.dispose()


def test_upgrade_on_an_empty_sqlite_database(sqlite_engine):
    assert tables(sqlite_engine) == set()
    migrate(sqlite_engine)
    assert current_revision(sqlite_engine) == head_revision()
    assert CORE_TABLES <= tables(sqlite_engine)
    assert "documents_fts" in tables(sqlite_engine)  # FTS5 for sparse search lives outside the ORM
    migrate(sqlite_engine)  # a no-op when current
    assert current_revision(sqlite_engine) == head_revision()


def test_upgrade_downgrade_upgrade(sqlite_engine):
    migrate(sqlite_engine)
    with sqlite_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert tables(sqlite_engine) <= {"alembic_version"}
    assert current_revision(sqlite_engine) is None
    migrate(sqlite_engine)
    assert current_revision(sqlite_engine) == head_revision()
    assert CORE_TABLES <= tables(sqlite_engine)


def test_every_revision_steps_down_and_up(sqlite_engine):
    """Each migration's downgrade undoes exactly its upgrade."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for rev in revisions:
        with sqlite_engine.begin() as conn:
            command.upgrade(alembic_config(conn), rev)
        after_up = tables(sqlite_engine)
        with sqlite_engine.begin() as conn:
            command.downgrade(alembic_config(conn), "-1")
        with sqlite_engine.begin() as conn:
            command.upgrade(alembic_config(conn), rev)
        assert tables(sqlite_engine) == after_up, rev
        assert current_revision(sqlite_engine) == rev


def test_models_and_migrations_agree(sqlite_engine):
    migrate(sqlite_engine)
    diffs = autogenerate_diff(sqlite_engine)
    assert diffs == [], "ORM models and migrations disagree; write a migration:\n" + "\n".join(map(str, diffs))


def test_autogenerate_comparison_is_not_vacuous(sqlite_engine):
    migrate(sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_chunks_collection_seq"))
    diffs = autogenerate_diff(sqlite_engine)
    assert any(d[0] == "add_index" and d[1].name == "ix_chunks_collection_seq" for d in diffs), diffs


def test_the_store_upgrades_on_open(make_settings, open_store):
    store = open_store(make_settings())
    assert current_revision(store.engine) == head_revision()


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_and_no_diff(postgres_url):
    engine = make_engine(postgres_url)
    try:
        migrate(engine)
        assert current_revision(engine) == head_revision()
        assert CORE_TABLES <= tables(engine) and "documents_fts" not in tables(engine)
        assert autogenerate_diff(engine) == []
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert tables(engine) <= {"alembic_version"}
        migrate(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


FAILING_REVISION = '''"""A migration that fails half-way (test only)."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("documents", sa.Column("extra", sa.Integer(), nullable=True))
    raise RuntimeError("migration failed half-way")


def downgrade() -> None:
    pass
'''


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-database", "existing-database"])
def test_a_failed_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch, fresh):
    """SQLite DDL must run in one transaction: a failure (or a kill) mid-migration may not leave tables
    behind that the next upgrade trips over."""
    import shutil

    from latent.store import db

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        if not fresh:
            migrate(engine)
        before, head = tables(engine), head_revision()
        broken = tmp_path / "migrations"
        shutil.copytree(db.MIGRATIONS_DIR, broken, ignore=shutil.ignore_patterns("__pycache__"))
        (broken / "versions" / "9999_fails.py").write_text(FAILING_REVISION.format(head=head))
        monkeypatch.setattr(db, "MIGRATIONS_DIR", broken)
        with pytest.raises(RuntimeError, match="half-way"):
            migrate(engine)
        assert tables(engine) == before
        assert current_revision(engine) == (None if fresh else head)
        monkeypatch.undo()
        migrate(engine)  # the real migrations still apply cleanly
        assert current_revision(engine) == head
        with engine.connect() as conn:
            assert "extra" not in {c["name"] for c in inspect(conn).get_columns("documents")}
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_a_fresh_database(tmp_path):
    """Two processes opening a new store at once (say, the service and the indexer) must both succeed."""
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'c.db'}"
    engines = [make_engine(url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(migrate, engines))
        assert current_revision(engines[0]) == head_revision()
    finally:
        for e in engines:
            e.dispose()
