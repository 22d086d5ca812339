"""The statement counter of the N+1 guard (tests/support/statements.py) sees every path to the database,
on both dialects: one statement per item, on any path, grows with the items and fails the guard."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Table, bindparam, select

from backend.core.db import HotStatement, insert_all
from backend.identity.models import Patient
from backend.runtime import Runtime
from tests.support.statements import counting_statements

pytestmark = pytest.mark.dialect

PATIENTS: Table = Patient.__table__  # type: ignore[assignment]
INSERT = HotStatement(insert_all(PATIENTS))
BORN = HotStatement(select(PATIENTS.c.birth_date).where(PATIENTS.c.id == bindparam("id")))


def _patient(patient_id: uuid.UUID) -> dict[str, object]:
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    values: dict[str, object] = {column.name: None for column in PATIENTS.c}
    values.update(
        id=patient_id,
        last_name="Петрова",
        first_name="Анна",
        birth_date=date(1980, 5, 17),
        sex="F",
        oms_policy=f"{uuid.uuid4().int % 10**16:016d}",
        created_at=at,
        updated_at=at,
    )
    return values


async def _hot_in_a_unit(runtime: Runtime, ids: list[uuid.UUID]) -> None:
    """The first one begins the transaction (on asyncpg through the adapter), the rest run on the driver."""
    async with runtime.sessionmaker() as session, session.begin():
        for patient_id in ids:
            assert await BORN.first(session, {"id": patient_id}) is not None


async def _hot_alone(runtime: Runtime, ids: list[uuid.UUID]) -> None:
    """Each in autocommit on the driver (on asyncpg)."""
    for patient_id in ids:
        assert await BORN.alone(runtime.sessionmaker, {"id": patient_id})


async def _orm(runtime: Runtime, ids: list[uuid.UUID]) -> None:
    async with runtime.sessionmaker() as session:
        for patient_id in ids:
            assert await session.scalar(select(Patient.birth_date).where(Patient.id == patient_id)) is not None


async def _read_sessions(runtime: Runtime, ids: list[uuid.UUID]) -> None:
    """The DataLoaders' sessions: autocommit on PostgreSQL."""
    for patient_id in ids:
        async with runtime.reads() as session:
            assert await session.scalar(select(Patient.birth_date).where(Patient.id == patient_id)) is not None


PATHS: dict[str, Callable[[Runtime, list[uuid.UUID]], Awaitable[None]]] = {
    "hot statement in a unit of work": _hot_in_a_unit,
    "hot statement alone": _hot_alone,
    "ORM session": _orm,
    "read session": _read_sessions,
}


@pytest.mark.parametrize("path", sorted(PATHS))
async def test_a_statement_per_item_is_counted_on_every_path(path: str, runtime: Runtime) -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    async with runtime.sessionmaker() as session, session.begin():
        await INSERT.many(session, [_patient(i) for i in ids])
    await PATHS[path](runtime, ids[:1])  # warm-up: the pool's connections and the driver's prepared statements
    counts = []
    for items in (ids[:1], ids):
        with counting_statements(runtime) as seen:
            await PATHS[path](runtime, items)
        counts.append(len(seen))
    assert counts == [1, 3], f"{path}: statements for 1 and 3 items: {counts}"


async def test_a_batch_is_one_statement_and_transaction_control_is_not_counted(runtime: Runtime) -> None:
    """``HotStatement.many`` is one executemany (asyncpg pipelines it); BEGIN and COMMIT are not counted."""
    async with runtime.sessionmaker() as session, session.begin():  # warm-up: the engine's first connect
        await INSERT.rows(session, _patient(uuid.uuid4()))
    with counting_statements(runtime) as seen:
        async with runtime.sessionmaker() as session, session.begin():
            await INSERT.many(session, [_patient(uuid.uuid4()) for _ in range(4)])
            await INSERT.rows(session, _patient(uuid.uuid4()))
    assert len(seen) == 2, seen
    assert all(sql.lstrip().upper().startswith("INSERT") for sql in seen), seen
