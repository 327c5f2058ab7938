"""Deployment start-up: the schema upgrade, the bootstrap admin key, and whether a public bind is safe.

A fresh deployment has no API key, and with none the service accepts every request, so it refuses any
address but localhost. Two ways in keep that safety: a bootstrap admin key from the environment or a
secret file (stored hashed on start, like any key `latent keys create` makes), or an explicit opt-in for
a private network without keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from latent.auth import ApiKeyInfo, ApiKeys
from latent.config import Settings
from latent.errors import InvalidInput

log = logging.getLogger("latent.bootstrap")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
BOOTSTRAP_KEY_NAME = "bootstrap"
NO_AUTH_WARNING = (
    "!!! LATENT_ALLOW_NO_AUTH is set and no API key exists: {host} accepts EVERY request from anyone who can "
    "reach it (reads, writes, deletes). Only do this on a private network; set LATENT_ADMIN_KEY_FILE instead."
)


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """What `latent migrate` reports: the database (password hidden) and its revision before and after."""

    database: str
    previous: str | None
    revision: str | None
    head: str | None

    @property
    def upgraded(self) -> bool:
        return self.previous != self.revision


def migrate_database(settings: Settings) -> MigrationResult:
    """Upgrade the configured database to the newest schema (a no-op when current), as a one-shot job."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from latent.store.db import alembic_config, make_engine, migrate

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            previous = MigrationContext.configure(conn).get_current_revision()
        migrate(engine)
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return MigrationResult(make_url(url).render_as_string(hide_password=True), previous, revision, head)


def configured_admin_key(settings: Settings) -> str | None:
    """The bootstrap key from LATENT_ADMIN_KEY_FILE or LATENT_ADMIN_KEY, None when neither is set."""
    from_env = settings.admin_key.get_secret_value().strip() if settings.admin_key is not None else ""
    path = settings.admin_key_file
    if path is None:
        return from_env or None
    try:
        from_file = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"cannot read the admin key file {path} (LATENT_ADMIN_KEY_FILE): {exc}",
            code="invalid_admin_key",
            details={"path": str(path)},
        ) from exc
    if not from_file:
        raise InvalidInput(f"the admin key file {path} is empty", code="invalid_admin_key", details={"path": str(path)})
    if from_env and from_env != from_file:
        raise InvalidInput(
            "LATENT_ADMIN_KEY and LATENT_ADMIN_KEY_FILE hold different keys: set only one",
            code="invalid_admin_key",
        )
    return from_file


def bootstrap_admin_key(settings: Settings, sessions: sessionmaker) -> ApiKeyInfo | None:
    """Store the configured bootstrap key as an admin key (once, whatever the restarts and replicas)."""
    key = configured_admin_key(settings)
    if key is None:
        return None
    info, created = ApiKeys(sessions).ensure(key, "admin", name=BOOTSTRAP_KEY_NAME)
    if created:
        log.info("stored the bootstrap admin key lk_%s_… (id %s)", info.prefix, info.id)
    elif not info.active:
        log.warning("the bootstrap admin key lk_%s_… was revoked and stays revoked; rotate the secret", info.prefix)
    return info


def check_bind(settings: Settings, keys: ApiKeys) -> str | None:
    """Refuse a non-local address while no key exists, unless opted out; returns the warning to show, if any."""
    if settings.host in LOCAL_HOSTS or keys.active():
        return None
    if settings.allow_no_auth:
        warning = NO_AUTH_WARNING.format(host=settings.host)
        log.warning(warning)
        return warning
    raise InvalidInput(
        f"refusing to bind {settings.host} with no API key: every request would be accepted. "
        "Create one first (latent keys create --scope admin), give the service one to store "
        "(LATENT_ADMIN_KEY or LATENT_ADMIN_KEY_FILE), or, on a private network only, opt out with "
        "LATENT_ALLOW_NO_AUTH=1 / --allow-no-auth",
        code="no_api_key",
        details={"host": settings.host},
    )
