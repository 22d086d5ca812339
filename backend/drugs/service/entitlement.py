"""Entitlement: the person's categories in the registers, what each gives, validity, and the decision on the
social package (НСУ) for the year with its deadline.

The deadline: a federal beneficiary who wants drugs in kind, or money instead, for the next year files the
application with the Social Fund (СФР) **before 1 October** of the current year; the decision then holds
from 1 January and until changed (Федеральный закон от 17.07.1999 № 178-ФЗ «О государственной социальной
помощи», ст. 6.3). Regional categories have no НСУ: their drugs come from the regional budget
(Постановление Правительства РФ от 30.07.1994 № 890 and the regional programme).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from backend.drugs.problems import fail
from backend.drugs.service.base import patient_with_snils, today, upstream_problem
from integrations.llo import Benefit, BenefitLevel, LloError, NsuDecision

if TYPE_CHECKING:
    from backend.runtime import Runtime

NSU_LAW = "Федеральный закон № 178-ФЗ «О государственной социальной помощи», ст. 6.3"

#: What a category gives, as the person reads it.
_FEDERAL_GIVES = (
    "Бесплатные лекарства по рецепту врача из перечня для отдельных категорий граждан (распоряжение "
    "Правительства РФ от 12.10.2019 № 2406-р, приложение 2) в составе набора социальных услуг, если на этот год "
    "вы не заменили его деньгами."
)
_GIVES: dict[str, str] = {
    "R01": (
        "Бесплатные сахароснижающие препараты, инсулины и средства контроля уровня глюкозы по рецепту врача "
        "за счёт бюджета края (Постановление Правительства РФ № 890 и региональная программа)."
    ),
}


@dataclass(frozen=True)
class CategoryView:
    code: str
    code_system: str
    name: str
    level: str  # federal | regional
    gives: str
    valid_from: date
    valid_until: date | None
    active: bool


@dataclass(frozen=True)
class NsuView:
    """The НСУ: this year's decision, the next year's if made, and when the next decision is due."""

    year: int
    refused_this_year: bool | None
    next_year: int
    refused_next_year: bool | None
    deadline: date
    days_left: int
    law: str = NSU_LAW


@dataclass(frozen=True)
class Entitlement:
    beneficiary: bool
    categories: tuple[CategoryView, ...]
    nsu: NsuView | None
    address: str | None


def _decision(decisions: tuple[NsuDecision, ...], year: int) -> bool | None:
    found = next((d for d in decisions if d.year == year), None)
    return found.refused if found else None


def nsu_deadline(day: date) -> date:
    """The next 1 October on or after ``day`` (the last day to file is 30 September)."""
    this_year = date(day.year, 10, 1)
    return this_year if day < this_year else date(day.year + 1, 10, 1)


def _category(b: Benefit, day: date) -> CategoryView:
    gives = (
        _FEDERAL_GIVES if b.level is BenefitLevel.FEDERAL else _GIVES.get(b.code, "Лекарства по региональной льготе.")
    )
    active = b.valid_from <= day and (b.valid_until is None or day <= b.valid_until)
    return CategoryView(b.code, b.code_system, b.name, b.level.value, gives, b.valid_from, b.valid_until, active)


async def entitlement(runtime: Runtime, patient_id: uuid.UUID) -> Entitlement:
    async with runtime.sessionmaker() as session:
        patient = await patient_with_snils(session, patient_id)
    try:
        record = await runtime.adapters.llo.beneficiary(patient.snils or "")
    except LloError as exc:
        raise fail(upstream_problem(exc)) from None
    if record is None:
        return Entitlement(False, (), None, None)
    day = today(runtime)
    categories = tuple(_category(b, day) for b in record.benefits)
    nsu = None
    if any(b.level is BenefitLevel.FEDERAL for b in record.benefits):
        deadline = nsu_deadline(day)
        nsu = NsuView(
            year=day.year,
            refused_this_year=_decision(record.nsu, day.year),
            next_year=deadline.year + 1,
            refused_next_year=_decision(record.nsu, deadline.year + 1),
            deadline=deadline,
            days_left=(deadline - day).days,
        )
    return Entitlement(True, categories, nsu, record.address)
