"""SQLAlchemy 2 async: engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and dialect-neutral types.

SQLite is made honest: WAL, foreign keys on, a busy timeout, and transactions begun explicitly so
SAVEPOINTs and rollbacks behave as on PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, Uuid, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The fast paths live in backend.core.hot; their names stay importable from here.
from backend.core.hot import (
    _DRIVER_KEY,
    PING_AFTER_IDLE_S,
    HotStatement,
    ReadOnlySession,
    create_read_sessionmaker,
    detached,
    insert_all,
    insert_or_skip,
    ping_idle,
    prefixed,
    with_inserts,
)

__all__ = [
    "GUID",
    "PING_AFTER_IDLE_S",
    "_DRIVER_KEY",
    "Base",
    "HotStatement",
    "JSONType",
    "ReadOnlySession",
    "Timestamps",
    "UTCDateTime",
    "UUIDPrimaryKey",
    "create_engine",
    "create_read_sessionmaker",
    "create_sessionmaker",
    "detached",
    "insert_all",
    "insert_or_skip",
    "prefixed",
    "utcnow",
    "with_inserts",
]

# Constraint names are fixed so that Alembic (and batch mode on SQLite) can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every dialect (timestamptz on PostgreSQL, naive UTC text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
GUID = Uuid(as_uuid=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        datetime: UTCDateTime(),
        uuid.UUID: GUID,
        dict[str, Any]: JSONType,
    }


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# How long a writer waits for SQLite's one write lock. A unit of work holds it from its first write to its commit,
# hub calls included; on a loaded machine that has taken more than 5 s (the console's closeCall waited out a
# waitlist offer's transaction), so a writer waits up to 30 s before «database is locked».
SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the driver; we emit BEGIN ourselves (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Deferred BEGIN: readers never wait, and a short write in a session of its own (an audit row, an
    # attempt counter) can run while a unit of work is open. The price is SQLite's single writer: two
    # units of work writing at once may see "database is locked" (the embedded profile is one user's
    # demo; PostgreSQL is what production and the concurrency tests run on).
    conn.exec_driver_sql("BEGIN")


def create_engine(
    database_url: str, *, pool_size: int = 10, echo: bool = False, ping_after_idle_s: float = PING_AFTER_IDLE_S
) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        _ensure_sqlite_dir(database_url)
        engine = create_async_engine(database_url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    engine = create_async_engine(
        database_url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )
    ping_idle(engine, ping_after_idle_s)
    return engine


def _ensure_sqlite_dir(database_url: str) -> None:
    path = database_url.split(":///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
