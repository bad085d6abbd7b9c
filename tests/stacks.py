"""What a suite's own deployment (devstack.local_stack) runs on: a scratch PostgreSQL database and a scratch Redis
DB. Shared by the end-to-end (tests/e2e) and browser (tests/browser) suites, each wrapping these in its fixtures.

Neither ever touches pytest-django's test database or the Redis DB of REDIS_URL itself (the in-process tests' own).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

_redis_dbs_in_use: set[tuple[str, int]] = set()  # (server, db) of the stacks running in this test process


def _pg_admin_url(url: str) -> str:
    """DATABASE_URL as a libpq URL pointing at the maintenance database `postgres`."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, "/postgres", parts.query, ""))


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name), parts.query, ""))


@contextlib.contextmanager
def scratch_database(url: str, *, prefix: str) -> Iterator[str | None]:
    """A fresh database `<prefix>_<random>` on the PostgreSQL server of `url` (DATABASE_URL), dropped on exit;
    None when `url` is not PostgreSQL (the stack then uses a SQLite file in its workdir)."""
    if not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    import psycopg

    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = _pg_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_redis(url: str) -> Iterator[str | None]:
    """REDIS_URL with the DB number moved up by one (flushed on entry and exit), or None when `url` is empty (the
    stack then uses kombu's filesystem broker). While another stack of this process holds that DB (e.g. `pytest
    tests/e2e tests/browser`: the e2e stack lives for the whole session), the next one up is taken instead: two
    stacks' workers on one broker would take each other's tasks."""
    if not url:
        yield None
        return
    import redis

    parts = urlsplit(url)
    base = int((parts.path or "/0").lstrip("/") or 0)
    candidates = [(base + step) % 16 for step in range(1, 16)]
    db = next(db for db in candidates if (parts.netloc, db) not in _redis_dbs_in_use)
    ours = urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))
    _redis_dbs_in_use.add((parts.netloc, db))
    client = redis.Redis.from_url(ours)
    try:
        client.flushdb()
        yield ours
    finally:
        client.flushdb()
        client.close()
        _redis_dbs_in_use.discard((parts.netloc, db))
