"""The partial unique indexes that guard against double booking, as the migrations made them, on both
dialects; and every partial index's condition (its WHERE) the same in the migrated database as in the
models (alembic's autogenerate comparison does not look at conditions).

A guard switched off (``WHERE status = 'visited'``, a dropped index, one column less, not unique) fails
here, whatever the hub does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import Index, text
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.core.db import Base
from backend.runtime import Runtime

pytestmark = pytest.mark.dialect

LIVE = frozenset({"booked", "cancel_pending"})


@dataclass(frozen=True)
class Guard:
    table: str
    columns: tuple[str, ...]
    unique: bool
    where: str  # the column the condition reads, with "in" and the states it admits


#: The guards, pinned: what the database must hold whatever the models or migrations say.
GUARDS: dict[str, tuple[Guard, frozenset[str]]] = {
    "uq_booking_appointments_live_slot": (Guard("booking_appointments", ("mo_id", "slot_id"), True, "status"), LIVE),
    "uq_booking_appointments_live_specialty": (
        Guard("booking_appointments", ("patient_id", "specialty_code"), True, "status"),
        LIVE,
    ),
    "uq_booking_holds_live_slot": (Guard("booking_holds", ("mo_id", "slot_id"), True, "status"), frozenset({"held"})),
}


@dataclass(frozen=True)
class Condition:
    """A partial index's condition reduced to what decides it, the same from either dialect's text:
    the columns it reads, the literals it admits, and whether it negates (NOT, <>, !=)."""

    columns: frozenset[str]
    literals: frozenset[str]
    negated: bool

    @classmethod
    def of(cls, sql: str, known_columns: set[str]) -> Condition:
        words = set(re.findall(r"[a-z_][a-z0-9_]*", re.sub(r"'[^']*'", " ", sql.lower())))
        return cls(
            columns=frozenset(words & known_columns),
            literals=frozenset(re.findall(r"'([^']*)'", sql)),
            negated=bool(re.search(r"\bnot\b|<>|!=", sql, re.IGNORECASE)),
        )


@dataclass(frozen=True)
class Found:
    table: str
    columns: tuple[str, ...]
    unique: bool
    where: str | None


async def _indexes(conn: AsyncConnection) -> dict[str, Found]:
    if conn.dialect.name == "postgresql":
        rows = await conn.execute(
            text(
                "SELECT c.relname, t.relname, i.indisunique, pg_get_expr(i.indpred, i.indrelid),"
                " ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o)"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o)"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
                " JOIN pg_namespace s ON s.oid = t.relnamespace WHERE s.nspname = current_schema()"
            )
        )
        return {name: Found(table, tuple(cols), unique, where) for name, table, unique, where, cols in rows}
    found: dict[str, Found] = {}
    rows = await conn.execute(
        text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    )
    for name, table, sql in rows.all():
        columns = tuple(r[2] for r in (await conn.execute(text(f'PRAGMA index_info("{name}")'))).all())
        match = re.search(r"\bWHERE\b(.*)$", sql, re.IGNORECASE | re.DOTALL)
        unique = bool(re.match(r"\s*CREATE\s+UNIQUE\b", sql, re.IGNORECASE))
        found[name] = Found(table, columns, unique, match.group(1).strip() if match else None)
    return found


def _columns_of(table: str) -> set[str]:
    return {c.name for c in Base.metadata.tables[table].columns}


async def test_the_double_booking_guards_are_in_the_database_as_pinned(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        indexes = await _indexes(conn)
    for name, (guard, states) in GUARDS.items():
        found = indexes.get(name)
        assert found is not None, f"guard index {name} is missing"
        assert (found.table, found.columns, found.unique) == (guard.table, guard.columns, guard.unique), name
        assert found.where is not None, f"{name} is no longer partial"
        condition = Condition.of(found.where, _columns_of(guard.table))
        assert condition == Condition(frozenset({guard.where}), states, negated=False), (name, found.where)


async def test_every_partial_index_has_the_condition_of_its_model(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        indexes = await _indexes(conn)
        dialect = conn.dialect
    partial = [
        index
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if isinstance(index, Index) and index.dialect_options[dialect.name].get("where") is not None
    ]
    assert {i.name for i in partial} >= set(GUARDS)
    for index in partial:
        assert index.name is not None and index.table is not None
        found = indexes.get(index.name)
        assert found is not None and found.where is not None, f"{index.name}: not partial in the database"
        model_where = str(
            index.dialect_options[dialect.name]["where"].compile(
                dialect=dialect, compile_kwargs={"literal_binds": True}
            )
        )
        known = _columns_of(index.table.name)
        assert Condition.of(found.where, known) == Condition.of(model_where, known), (
            index.name,
            found.where,
            model_where,
        )
