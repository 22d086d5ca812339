"""Insured cases and their cost: the billed services of the patient (the TFOMS invoice registers), with totals
by year and by clinic, filters, and a case's detail with the disputes about it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from backend.insurance import problems as p
from backend.insurance.service.common import local_today, problem_of, register
from backend.insurance.service.policy import enp_of
from integrations.erzl import BilledService, CareKind, ErzlError

if TYPE_CHECKING:
    from backend.runtime import Runtime

#: How far back the history goes by default (and at most): the current year and the three before it.
YEARS_BACK = 3


@dataclass(frozen=True)
class Filters:
    year: int | None = None
    mo_oid: str | None = None
    care_kind: CareKind | None = None


@dataclass(frozen=True)
class Total:
    key: str  # the year, or the clinic's OID
    label: str  # «2024», or the clinic's name
    cases: int
    cost: Decimal


@dataclass(frozen=True)
class BilledHistory:
    services: list[BilledService]
    total: Decimal
    by_year: list[Total]
    by_clinic: list[Total]
    date_from: date
    date_to: date


def _period(runtime: Runtime, filters: Filters) -> tuple[date, date]:
    today = local_today(runtime)
    first_year = today.year - YEARS_BACK
    if filters.year is not None:
        if not first_year <= filters.year <= today.year:
            raise p.fail(p.InvalidInput.of("year", f"Сведения об услугах доступны за {first_year}–{today.year} годы."))
        return date(filters.year, 1, 1), min(date(filters.year, 12, 31), today)
    return date(first_year, 1, 1), today


async def services_of(runtime: Runtime, patient_id: uuid.UUID, date_from: date, date_to: date) -> list[BilledService]:
    enp = await enp_of(runtime, patient_id)
    try:
        return await register(runtime).billed_services(enp, date_from=date_from, date_to=date_to)
    except ErzlError as exc:
        raise p.fail(problem_of(exc)) from None


def totals(rows: Sequence[BilledService]) -> tuple[list[Total], list[Total]]:
    years: dict[int, list[BilledService]] = defaultdict(list)
    clinics: dict[str, list[BilledService]] = defaultdict(list)
    for row in rows:
        years[row.service_date.year].append(row)
        clinics[row.mo_oid].append(row)
    by_year = [
        Total(str(y), str(y), len(rs), sum((r.cost for r in rs), Decimal(0)))
        for y, rs in sorted(years.items(), reverse=True)
    ]
    by_clinic = sorted(
        (Total(oid, rs[0].mo_name, len(rs), sum((r.cost for r in rs), Decimal(0))) for oid, rs in clinics.items()),
        key=lambda t: (-t.cost, t.label),
    )
    return by_year, by_clinic


async def history(runtime: Runtime, patient_id: uuid.UUID, filters: Filters) -> BilledHistory:
    date_from, date_to = _period(runtime, filters)
    rows = await services_of(runtime, patient_id, date_from, date_to)
    if filters.mo_oid:
        rows = [r for r in rows if r.mo_oid == filters.mo_oid]
    if filters.care_kind is not None:
        rows = [r for r in rows if r.care_kind is filters.care_kind]
    by_year, by_clinic = totals(rows)
    return BilledHistory(
        services=rows,
        total=sum((r.cost for r in rows), Decimal(0)),
        by_year=by_year,
        by_clinic=by_clinic,
        date_from=date_from,
        date_to=date_to,
    )


async def find_case(runtime: Runtime, patient_id: uuid.UUID, case_id: str) -> BilledService:
    """One billed case of the patient (within the history's period); a typed problem when it is not theirs."""
    today = local_today(runtime)
    rows = await services_of(runtime, patient_id, date(today.year - YEARS_BACK, 1, 1), today)
    found = next((r for r in rows if r.case_id == case_id), None)
    if found is None:
        raise p.fail(p.CaseNotFound.default())
    return found
