"""API keys: create (the plain key is shown once), list, revoke, and verify a presented key's scope.

Keys look like `lk_<12 hex prefix>_<secret>`; SQL keeps the prefix (to find the row), a random salt and
HMAC-SHA256(salt, secret), so a leaked database does not leak usable keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from latent.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from latent.store.auth_models import ApiKeyRow
from latent.store.base import utcnow

SCOPES = ("read", "write", "admin")  # each scope includes the ones before it
KEY_PREFIX = "lk_"
_PREFIX_CHARS = 12
# What `create` produces (a 43-character secret); a key chosen outside Latent must match it, secret >= 32.
WELL_FORMED_KEY = re.compile(r"lk_[0-9a-f]{12}_[A-Za-z0-9_-]{32,256}")


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: int
    prefix: str
    scope: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The only time the plain key exists outside its holder's hands."""

    key: str
    info: ApiKeyInfo


def validate_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidInput(
            f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}",
            code="invalid_scope",
            details={"scope": scope, "allowed": list(SCOPES)},
        )
    return scope


def scope_allows(have: str, need: str) -> bool:
    """read < write < admin: a key may do what its scope or any lower scope allows."""
    return SCOPES.index(have) >= SCOPES.index(validate_scope(need))


def check_scope(granted: str, required: str) -> None:
    """Forbidden (403 insufficient_scope) unless a key of scope `granted` may act at `required`."""
    if not scope_allows(granted, required):
        raise Forbidden(
            f"a {granted!r} key cannot do this; it needs scope {required!r}",
            code="insufficient_scope",
            details={"scope": granted, "required": required},
        )


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def _split(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    head = len(KEY_PREFIX) + _PREFIX_CHARS
    if not key.startswith(KEY_PREFIX) or len(key) <= head + 1 or key[head] != "_":
        return None
    return key[len(KEY_PREFIX) : head], key[head + 1 :]


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.prefix, row.scope, row.name, row.created_at, row.revoked_at)


class ApiKeys:
    """API keys kept in the store's database; safe to share between threads."""

    def __init__(self, sessions: sessionmaker, cache_seconds: float = 0.0):
        """`cache_seconds`: how long an answer of `active()` is reused (a server asks it on every request)."""
        self.sessions = sessions
        self.cache_seconds = cache_seconds
        self._active: tuple[float, bool] | None = None

    def create(self, scope: str, name: str = "") -> CreatedKey:
        validate_scope(scope)
        if len(name) > 128:
            raise InvalidInput("key name longer than 128 characters", code="invalid_key_name")
        prefix, secret, salt = (
            secrets.token_hex(_PREFIX_CHARS // 2),
            secrets.token_urlsafe(32),
            secrets.token_hex(16),
        )
        row = ApiKeyRow(
            prefix=prefix,
            salt=salt,
            key_hash=_digest(salt, secret),
            scope=scope,
            name=name,
            created_at=utcnow(),
        )
        with self.sessions() as s, s.begin():
            s.add(row)
            s.flush()
            info = _info(row)
        self._active = None
        return CreatedKey(f"{KEY_PREFIX}{prefix}_{secret}", info)

    def ensure(self, key: str, scope: str, name: str = "") -> tuple[ApiKeyInfo, bool]:
        """Store a key chosen outside Latent (a deployment's bootstrap key) unless it is stored already.

        Idempotent across restarts and across processes starting at once: the prefix is unique, so the
        loser of a concurrent insert reads the winner's row back. A revoked key stays revoked. Returns
        (info, created); Conflict when the prefix is taken by a different secret.
        """
        validate_scope(scope)
        if not WELL_FORMED_KEY.fullmatch(key):
            raise InvalidInput(
                "an API key must look like lk_<12 hex digits>_<secret of 32+ letters, digits, '-' or '_'> "
                "(what `latent keys create` prints); make one with: "
                'echo "lk_$(openssl rand -hex 6)_$(openssl rand -hex 24)"',
                code="invalid_api_key_format",
            )
        prefix, secret = _split(key) or ("", "")
        for _ in range(2):
            with self.sessions() as s:
                row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
            if row is not None:
                if not hmac.compare_digest(row.key_hash, _digest(row.salt, secret)):
                    raise Conflict(
                        f"an API key with prefix {prefix} exists and holds another secret",
                        code="api_key_conflict",
                        details={"prefix": prefix},
                    )
                return _info(row), False
            salt = secrets.token_hex(16)
            row = ApiKeyRow(
                prefix=prefix, salt=salt, key_hash=_digest(salt, secret), scope=scope, name=name, created_at=utcnow()
            )
            try:
                with self.sessions() as s, s.begin():
                    s.add(row)
                    s.flush()
                    info = _info(row)
            except IntegrityError:
                continue  # another process stored it between our read and our insert: read it back
            self._active = None
            return info, True
        raise Conflict(f"could not store the API key with prefix {prefix}", code="api_key_conflict")

    def list(self, include_revoked: bool = True) -> list[ApiKeyInfo]:
        stmt = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if not include_revoked:
            stmt = stmt.where(ApiKeyRow.revoked_at.is_(None))
        with self.sessions() as s:
            return [_info(r) for r in s.scalars(stmt).all()]

    def revoke(self, key: int | str) -> ApiKeyInfo:
        """Revoke by numeric id or by prefix; revoking twice keeps the first revocation time."""
        text = str(key)
        if text.startswith(KEY_PREFIX):
            text = text[len(KEY_PREFIX) : len(KEY_PREFIX) + _PREFIX_CHARS]
        # A hex prefix can be all decimal digits (0.35% of keys): 12 characters always name a prefix
        # (a whole key is cut to its prefix above); a shorter or longer number is an id.
        by_id = text.isdigit() and len(text) != _PREFIX_CHARS
        clause = ApiKeyRow.id == int(text) if by_id else ApiKeyRow.prefix == text
        with self.sessions() as s, s.begin():
            row = s.scalar(select(ApiKeyRow).where(clause))
            if row is None:
                raise NotFound(
                    f"no API key with id or prefix {str(key)!r}",
                    code="key_not_found",
                    details={"key": str(key)},
                )
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            s.flush()
            info = _info(row)
        self._active = None
        return info

    def active(self) -> bool:
        """Whether any unrevoked key exists: with none, the service is open (and must stay on localhost)."""
        cached = self.cached_active()
        if cached is not None:
            return cached
        with self.sessions() as s:
            found = s.scalar(select(ApiKeyRow.id).where(ApiKeyRow.revoked_at.is_(None)).limit(1)) is not None
        self._active = (time.monotonic(), found)
        return found

    def cached_active(self) -> bool | None:
        """The last `active()` answer while younger than `cache_seconds`, else None."""
        cached = self._active
        if cached is None or time.monotonic() - cached[0] >= self.cache_seconds:
            return None
        return cached[1]

    def verify(self, key: str) -> str:
        """The scope of a valid, unrevoked key; Unauthorized otherwise (one message for every failure)."""
        parts = _split(key)
        row = None
        if parts is not None:
            with self.sessions() as s:
                row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == parts[0]))
        if (
            row is None
            or row.revoked_at is not None
            or not hmac.compare_digest(row.key_hash, _digest(row.salt, parts[1]))
        ):
            raise Unauthorized("invalid or revoked API key", code="invalid_api_key")
        return row.scope

    def authorize(self, key: str | None, required: str) -> str | None:
        """The caller's scope if it may act at `required`; None when no key exists (open mode).

        Raises Unauthorized without a valid key and Forbidden when the key's scope is too low.
        """
        if key:
            try:
                scope = self.verify(key)
            except Unauthorized:
                if not self.active():
                    return None
                raise
        elif self.active():
            raise Unauthorized(
                "this service needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key'",
                code="missing_api_key",
            )
        else:
            return None
        check_scope(scope, required)
        return scope
