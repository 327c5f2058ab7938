"""Alembic environment: the URL comes from Latent's settings; batch mode so SQLite can alter tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from latent.store.schema import metadata

target_metadata = metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    # The FTS5 virtual table and its shadow tables live outside the ORM on purpose.
    return not (type_ == "table" and name and name.startswith("documents_fts"))


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=include_object,
        compare_type=True,
    )


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        from latent.config import get_settings

        url = get_settings().resolved_database_url
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_migrations()
