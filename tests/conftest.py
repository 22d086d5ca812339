"""Test harness: real PostgreSQL and Redis by default, SQLite with MZ_TEST_DIALECT=sqlite.

* MZ_TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres) names the server;
  the suite creates and migrates its own database ``mz_test_<pid>`` there, empties the tables between
  tests, and drops it at the end.
* MZ_TEST_REDIS_URL (default: a db number 1–15 picked by the process id): flushed between tests.
* Under pytest-xdist (``-n 4``, as ``make test`` runs it) every worker has its own database and Redis db.
* MZ_TEST_DIALECT=sqlite runs the tests marked ``dialect`` on SQLite (a migrated template file copied
  for every test); tests marked ``postgres_only`` are skipped there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic import command
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from backend.cli import alembic_config
from backend.runtime import Runtime
from backend.settings import Settings, get_settings, load_settings

DIALECT = os.environ.get("MZ_TEST_DIALECT", "postgresql")
POSTGRES_SERVER_URL = os.environ.get("MZ_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
# Each run gets its own database and Redis db number, so parallel runs (developers, CI) never collide. Under
# pytest-xdist each worker (gw0, gw1…) is a process of its own, so it has its own database; its Redis db is the
# run's base db (MZ_TEST_REDIS_URL's, or one picked from the run's id) plus the worker's number.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def _redis_url() -> str:
    given = os.environ.get("MZ_TEST_REDIS_URL")
    if _WORKER is None:
        return given or f"redis://127.0.0.1:6379/{os.getpid() % 15 + 1}"
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    parts = urlsplit(given or "redis://127.0.0.1:6379")  # the db number is the URL's path
    base = int(parts.path.strip("/") or 0) if given else zlib.crc32(run.encode()) % 16
    return urlunsplit(parts._replace(path=f"/{(base + int(_WORKER.removeprefix('gw'))) % 16}"))


REDIS_URL = _redis_url()
TEST_DB = os.environ.get("MZ_TEST_DB_NAME", f"mz_test_{os.getpid()}")
if "MZ_TEST_DB_NAME" in os.environ and _WORKER:
    TEST_DB += f"_{_WORKER}"  # a given name is the run's: each worker has its own database


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DIALECT == "sqlite":
        skip = pytest.mark.skip(reason="needs PostgreSQL (row locks, concurrency)")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


def _postgres_url(database: str) -> str:
    return make_url(POSTGRES_SERVER_URL).set(database=database).render_as_string(hide_password=False)


def run_alembic(url: str, *args: str) -> None:
    """Run an Alembic command against ``url`` (in a thread: env.py runs its own event loop)."""
    config: Any = alembic_config(url)
    verb, *rest = args
    getattr(command, verb)(config, *rest)


async def _recreate_postgres_database(name: str) -> None:
    admin = create_async_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mz")


_TERMINATE = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
_DROP_LATER = """
import asyncio, sys
import asyncpg
async def main(dsn, name):
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def _drop_postgres_database(name: str) -> None:
    """Drop ``name`` without waiting for it: the database is renamed at once (its name is free again), and a
    detached process drops it. PostgreSQL's DROP DATABASE waits for a checkpoint, which after a test run's
    writes takes tens of seconds on a busy machine; nothing needs to wait for that."""
    gone = f"{name}_gone_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(_TERMINATE), {"n": name})
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                return
            await conn.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{gone}"'))
    finally:
        await admin.dispose()
    dsn = make_url(POSTGRES_SERVER_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-c", _DROP_LATER, dsn, gone],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
async def migrated_database(tmp_root: Path) -> AsyncIterator[str]:
    """The URL of a database migrated to head (PostgreSQL), or of the SQLite template file."""
    if DIALECT == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_root / 'template.db'}"
        await asyncio.to_thread(run_alembic, url, "upgrade", "head")
        yield url
        return
    await _recreate_postgres_database(TEST_DB)
    url = _postgres_url(TEST_DB)
    await asyncio.to_thread(run_alembic, url, "upgrade", "head")
    yield url
    await _drop_postgres_database(TEST_DB)


_TABLES_TO_KEEP = {"alembic_version"}


async def _empty_postgres(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            tables = [r[0] for r in rows if r[0] not in _TABLES_TO_KEEP]
            if tables:
                await conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(migrated_database: str, tmp_path: Path) -> AsyncIterator[str]:
    """A clean, migrated database for one test."""
    if DIALECT == "sqlite":
        template = Path(migrated_database.split(":///", 1)[1])
        target = tmp_path / "test.db"
        shutil.copyfile(template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    await _empty_postgres(migrated_database)
    yield migrated_database


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    yield REDIS_URL


def make_settings(database_url: str, redis_url: str | None = None, **overrides: Any) -> Settings:
    return load_settings(
        profile="test",
        database_url=database_url,
        redis_url=redis_url or "",
        log_json=True,
        **overrides,
    )


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return make_settings(database_url, redis_url)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(settings)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clear_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
