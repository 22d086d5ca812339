"""The staff KPI: vaccination coverage by infection (the calendar's vaccines against it) and age group, from
our own data: the people whose vaccinations this service holds (read or imported at least once), their
СЭМД 170 and register records, assessed by the calendar on the day asked.

Per (age group, infection): ``people`` to whom the calendar gives the infection's series at that age (it has
a dose for them that is not "not applicable"), ``vaccinated`` (at least one dose recorded), ``overdue``
(a dose overdue by the calendar), ``coverage`` = vaccinated / people.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select

from backend.vaccination.calendar import load_calendar
from backend.vaccination.engine import Status
from backend.vaccination.models import VaccinationRegisterState
from backend.vaccination.service.records import assess, vaccinations_of

if TYPE_CHECKING:
    from backend.runtime import Runtime

#: (label, from age, to age exclusive) in years.
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("до 1 года", 0, 1),
    ("1–2 года", 1, 3),
    ("3–6 лет", 3, 7),
    ("7–17 лет", 7, 18),
    ("18–59 лет", 18, 60),
    ("60 лет и старше", 60, 200),
)


@dataclass(frozen=True)
class CoverageRow:
    age_group: str
    infection: str
    infection_name: str
    people: int
    vaccinated: int
    overdue: int

    @property
    def coverage(self) -> float:
        return round(self.vaccinated / self.people, 4) if self.people else 0.0


def age_group(born: date, on: date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return next(label for label, low, high in AGE_GROUPS if low <= age < high)


async def coverage(runtime: Runtime, on: date) -> list[CoverageRow]:
    calendar = load_calendar()
    async with runtime.sessionmaker() as session:
        ids = list(await session.scalars(select(VaccinationRegisterState.patient_id)))
    people: dict[tuple[str, str], int] = defaultdict(int)
    vaccinated: dict[tuple[str, str], int] = defaultdict(int)
    overdue: dict[tuple[str, str], int] = defaultdict(int)
    for data in (await vaccinations_of(runtime, ids)).values():
        if data.patient.birth_date > on:
            continue
        group = age_group(data.patient.birth_date, on)
        assessment = assess(data, on)
        for infection in {i.infection for i in assessment.items}:
            items = assessment.for_infection(infection)
            if all(i.status is Status.NOT_APPLICABLE for i in items if i.status is not Status.DONE) and not any(
                i.status is Status.DONE for i in items
            ):
                continue
            key = (group, infection)
            people[key] += 1
            vaccinated[key] += any(i.status is Status.DONE for i in items)
            overdue[key] += any(i.status is Status.OVERDUE for i in items)
    order = {label: n for n, (label, _, _) in enumerate(AGE_GROUPS)}
    names = {i.code: i.name for i in calendar.infections}
    return [
        CoverageRow(group, infection, names[infection], people[(group, infection)], vaccinated[(group, infection)],
                    overdue[(group, infection)])
        for group, infection in sorted(people, key=lambda k: (order[k[0]], names[k[1]]))
    ]  # fmt: skip
