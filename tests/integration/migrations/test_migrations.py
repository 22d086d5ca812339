"""One Alembic history that upgrades and downgrades on PostgreSQL and SQLite, matches the models, and
keeps the audit log append-only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from backend.core.db import create_engine
from backend.models import Base
from backend.runtime import Runtime
from tests.conftest import (
    DIALECT,
    TEST_DB,
    _drop_postgres_database,
    _postgres_url,
    _recreate_postgres_database,
    run_alembic,
)

pytestmark = pytest.mark.dialect


@pytest.fixture
async def scratch_url(tmp_path: Path) -> AsyncIterator[str]:
    if DIALECT == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"{TEST_DB}_scratch"
    await _recreate_postgres_database(name)
    yield _postgres_url(name)
    await _drop_postgres_database(name)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    await asyncio.to_thread(run_alembic, scratch_url, "upgrade", "head")
    assert {"audit_events", "outbox_messages", "alembic_version"} <= await _tables(scratch_url)
    await asyncio.to_thread(run_alembic, scratch_url, "downgrade", "base")
    assert await _tables(scratch_url) <= {"alembic_version"}
    await asyncio.to_thread(run_alembic, scratch_url, "upgrade", "head")
    assert "audit_events" in await _tables(scratch_url)


async def test_models_and_migrations_do_not_drift(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync_conn: compare_metadata(
                MigrationContext.configure(sync_conn, opts={"compare_type": True}), Base.metadata
            )
        )
    assert diff == [], f"models differ from migrations, write a migration: {diff}"


async def test_audit_log_is_append_only(runtime: Runtime) -> None:
    event_id = uuid.uuid4()
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_events (id, at, actor_kind, channel, action, outcome, details) "
                "VALUES (:id, CURRENT_TIMESTAMP, 'system', 'system', 'probe', 'ok', '{}')"
            ),
            {"id": event_id.hex if DIALECT == "sqlite" else event_id},
        )
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement))
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(text("SELECT action FROM audit_events"))).scalars().all() == ["probe"]


async def test_clinic_hours_migration_keeps_the_directory(scratch_url: str) -> None:
    """0018_clinic_hours adds the hub card's e-mail and hours to organisations that exist, and takes them away
    again without losing the organisation (on either dialect, SQLite in batch mode)."""
    await asyncio.to_thread(run_alembic, scratch_url, "upgrade", "0017_attachment_extras")
    district, organisation = uuid.uuid4(), uuid.uuid4()

    def key(value: uuid.UUID) -> str:
        return value.hex if DIALECT == "sqlite" else str(value)

    engine = create_engine(scratch_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO districts (id, upstream_id, name, active, synced_at)"
                    " VALUES (:id, 'd-1', 'Тестовый округ', TRUE, CURRENT_TIMESTAMP)"
                ),
                {"id": key(district)},
            )
            await conn.execute(
                text(
                    "INSERT INTO medical_organisations (id, upstream_id, name, short_name, district_id, active,"
                    " search_text, synced_at) VALUES (:id, '1001', 'ГП № 1', 'ГП № 1', :d, TRUE, '', CURRENT_TIMESTAMP)"
                ),
                {"id": key(organisation), "d": key(district)},
            )
        await asyncio.to_thread(run_alembic, scratch_url, "upgrade", "0018_clinic_hours")
        async with engine.begin() as conn:
            before = (
                await conn.execute(text("SELECT email, work_time, opening_hours FROM medical_organisations"))
            ).one()
            await conn.execute(text("UPDATE medical_organisations SET work_time = 'Пн-Пт 08:00-20:00'"))
        assert tuple(before) == (None, None, None)
        await asyncio.to_thread(run_alembic, scratch_url, "downgrade", "0017_attachment_extras")
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("medical_organisations")}
            )
            names = (await conn.execute(text("SELECT upstream_id, name FROM medical_organisations"))).all()
        assert not {"email", "work_time", "opening_hours"} & columns
        assert [tuple(n) for n in names] == [("1001", "ГП № 1")]
    finally:
        await engine.dispose()
