"""Engine creation (SQLite WAL + foreign keys) and schema upgrade on open."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

import migrations
from latent.errors import InvalidInput

MIGRATIONS_DIR = Path(migrations.__file__).parent


def make_engine(url: str) -> Engine:
    """An engine tuned for many readers and one writer; SQLite gets WAL, FKs and a busy timeout."""
    try:
        make_url(url).get_dialect()
    except ArgumentError as exc:  # unparseable URL or unknown dialect/driver (the URL may hold a password)
        raise InvalidInput(f"invalid database URL: {exc}", code="invalid_database_url") from exc
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(connection=None):  # noqa: ANN001, ANN201
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every open (a no-op when current).

    On a SQLite file the whole upgrade is one BEGIN IMMEDIATE transaction: pysqlite would autocommit the
    DDL, so a failure or a kill mid-migration left tables the next upgrade tripped over, and two
    processes upgrading a new file at once raced each other.
    """
    from alembic import command

    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
        return
    ddl_engine = _sqlite_migration_engine(engine)
    try:
        with ddl_engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
    finally:
        ddl_engine.dispose()


def _sqlite_migration_engine(engine: Engine) -> Engine:
    ddl_engine = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 60})

    @event.listens_for(ddl_engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, so DDL is inside the transaction
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        # Off while migrating: batch mode recreates tables, and DROP TABLE with foreign keys on would
        # cascade-delete the rows of every child table.
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.close()

    @event.listens_for(ddl_engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock first: concurrent upgrades queue

    return ddl_engine


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
