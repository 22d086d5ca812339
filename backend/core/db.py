"""SQLAlchemy 2 async: engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and dialect-neutral types.

SQLite is made honest: WAL, foreign keys on, a busy timeout, and transactions begun explicitly so
SAVEPOINTs and rollbacks behave as on PostgreSQL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, Uuid, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

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


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the driver; we emit BEGIN ourselves (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Deferred BEGIN: readers never wait, and a short write in a session of its own (an audit row, an
    # attempt counter) can run while a unit of work is open. The price is SQLite's single writer: two
    # units of work writing at once may see "database is locked" (the embedded profile is one user's
    # demo; PostgreSQL is what production and the concurrency tests run on).
    conn.exec_driver_sql("BEGIN")


#: A pooled connection idle for longer than this is pinged before it is handed out (see _ping_idle).
PING_AFTER_IDLE_S = 5.0


def _ping_idle(engine: AsyncEngine, after_s: float) -> None:
    """Pre-ping only the connections that sat idle in the pool for more than ``after_s`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout; on asyncpg that is three round trips (BEGIN,
    an empty statement, ROLLBACK) before each session's first statement, as much as a short read itself.
    What goes stale is a connection nobody used for a while (the server restarted, a proxy or firewall
    dropped it); one checked in a moment ago was just proven alive. A connection that dies while busy
    fails its statement, and SQLAlchemy then invalidates the pool, as it would with pre-ping too.
    Raising DisconnectionError from a checkout listener makes the pool replace the connection and retry.
    """
    dialect = engine.sync_engine.dialect

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= after_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    event.listen(engine.sync_engine, "checkin", on_checkin)
    event.listen(engine.sync_engine, "checkout", on_checkout)


def create_engine(
    database_url: str, *, pool_size: int = 10, echo: bool = False, ping_after_idle_s: float = PING_AFTER_IDLE_S
) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        _ensure_sqlite_dir(database_url)
        engine = create_async_engine(database_url, echo=echo, connect_args={"timeout": 5})
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
    _ping_idle(engine, ping_after_idle_s)
    return engine


def _ensure_sqlite_dir(database_url: str) -> None:
    from pathlib import Path

    path = database_url.split(":///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


class ReadOnlySession(Session):
    """A session that refuses to flush changes: the sessions of :func:`create_read_sessionmaker`."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a read session does not write; use a unit of work")
        super().flush(objects)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for one read statement each, such as a DataLoader batch.

    On PostgreSQL they run in autocommit, so a single SELECT is one round trip instead of three (BEGIN,
    the SELECT, ROLLBACK). One statement sees what a READ COMMITTED transaction would show it, so a
    single-statement read loses nothing; several statements in one such session see no common snapshot
    (use the ordinary sessionmaker for those). They never write. SQLite keeps its explicit transactions.
    """
    bind = engine if engine.dialect.name == "sqlite" else engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, sync_session_class=ReadOnlySession)
