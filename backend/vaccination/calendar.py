"""The vaccination calendar as versioned data: the JSON files in ``calendar/``, loaded and validated here.

A calendar file (``calendar/1122n-2021.json``: order № 1122н of 06.12.2021, appendices 1 and 2) holds the
infections, vaccines (with their НСИ code of book 1.2.643.5.1.13.13.11.1078 where known), risk groups and
*series*: one schedule of doses against one infection, with alternative variants chosen by risk group, sex
or the age at which the series starts. Every dose and periodic rule cites the clause it comes from. What the
authors assumed where the order is silent is listed in the file's ``assumptions``.

Ages and intervals are ISO 8601 durations limited to years, months, weeks and days (``P4M15D``); they are
added to a date calendar-wise (a month after 31 January is 28/29 February).
"""

from __future__ import annotations

import calendar as _pycalendar
import re
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.functional_validators import BeforeValidator

CALENDAR_DIR = Path(__file__).parent / "calendar"
CURRENT_CALENDAR = "1122n-2021"

_DURATION = re.compile(r"^P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?$")


class CalendarDataError(Exception):
    """A calendar file is missing or does not pass validation."""


class Age(BaseModel):
    """A calendar duration: years, months, weeks, days (``P1Y6M``, ``P4M15D``, ``P45D``)."""

    model_config = ConfigDict(frozen=True)

    years: int = 0
    months: int = 0
    days: int = 0
    text: str

    @classmethod
    def parse(cls, value: str) -> Age:
        match = _DURATION.match(value)
        if match is None or value == "P":
            raise ValueError(f"not a duration of years/months/weeks/days: {value!r}")
        years, months, weeks, days = (int(match.group(g) or 0) for g in ("y", "m", "w", "d"))
        return cls(years=years, months=months, days=weeks * 7 + days, text=value)

    def after(self, start: date) -> date:
        """``start`` plus this duration (months first, the day clamped to the month's end)."""
        month_index = start.year * 12 + (start.month - 1) + self.years * 12 + self.months
        year, month = divmod(month_index, 12)
        day = min(start.day, _pycalendar.monthrange(year, month + 1)[1])
        return date(year, month + 1, day) + timedelta(days=self.days)

    def approx_days(self) -> int:
        """For ordering checks only: the duration in days, a month taken as 30 and a year as 365."""
        return self.years * 365 + self.months * 30 + self.days

    def __str__(self) -> str:
        return self.text


def _age(value: object) -> object:
    if isinstance(value, str):
        return Age.parse(value)
    return value


AgeField = Annotated[Age, BeforeValidator(_age)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Citation(_Strict):
    """Where a rule comes from: appendix (1 national, 2 epidemic, 3 procedure), row of its table, a note."""

    appendix: Literal[1, 2, 3]
    row: str | None
    note: str | None
    text: str = Field(min_length=1)

    def reference(self, order_short: str) -> str:
        parts = [order_short, f"приложение № {self.appendix}"]
        if self.row:
            parts.append(f"строка {self.row}")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)


class Infection(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    against: str  # «против кори»


class Vaccine(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    trade_names: tuple[str, ...] = ()
    infections: tuple[str, ...] = Field(min_length=1)
    nsi_code: str | None  # book 1.2.643.5.1.13.13.11.1078; null where not known for certain


class RiskGroup(_Strict):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    citation: Citation


class Condition(_Strict):
    """All given fields must hold. Start age: age at the series' first recorded dose, or on the date asked."""

    risk_groups: tuple[str, ...] = ()
    sex: Literal["female", "male"] | None = None
    age_from: AgeField | None = None
    age_until: AgeField | None = None
    start_age_from: AgeField | None = None
    start_age_until: AgeField | None = None


class Dose(_Strict):
    number: int = Field(ge=1)
    label: str
    age_from: AgeField  # the calendar's minimum age for this dose
    due_until: AgeField | None  # age when the dose becomes overdue (None: only the catch-up grace)
    max_age: AgeField | None  # from this age the dose is no longer in the calendar
    min_interval: AgeField | None  # after the previous dose of the series
    citation: Citation
    catch_up: Citation | None = None
    # Offered to a group rather than at an age (epidemic indications, influenza): due from the earliest
    # date with no end, never overdue.
    open_ended: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Dose:
        if self.number == 1 and self.min_interval is not None:
            raise ValueError("the first dose has no interval after a previous one")
        if self.number > 1 and self.min_interval is None:
            raise ValueError(f"dose {self.number} needs min_interval")
        if self.open_ended and self.due_until is not None:
            raise ValueError(f"dose {self.number}: an open-ended dose has no due_until")
        if self.due_until is not None and self.due_until.approx_days() <= self.age_from.approx_days():
            raise ValueError(f"dose {self.number}: due_until must be after age_from")
        if self.max_age is not None and self.max_age.approx_days() <= self.age_from.approx_days():
            raise ValueError(f"dose {self.number}: max_age must be after age_from")
        return self


class Periodic(_Strict):
    """Repeated after the series is complete: every ``every`` from the last dose, from ``min_age``."""

    label: str
    every: AgeField
    min_age: AgeField
    grace: AgeField
    citation: Citation


class Series(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    infection: str
    calendar: Literal["national", "epidemic"]
    title: str
    applies: tuple[Condition, ...]  # any one condition; empty: everyone
    doses: tuple[Dose, ...] = Field(min_length=1)
    periodic: Periodic | None

    @field_validator("doses")
    @classmethod
    def _numbered(cls, doses: tuple[Dose, ...]) -> tuple[Dose, ...]:
        if [d.number for d in doses] != list(range(1, len(doses) + 1)):
            raise ValueError("doses must be numbered 1, 2, … in order")
        return doses


class IndicationOnly(_Strict):
    infection: str
    citation: Citation


class Defaults(_Strict):
    catch_up_grace: AgeField


class Calendar(_Strict):
    id: str
    version: int = Field(ge=1)
    title: str
    order: str
    order_short: str
    appendices: dict[str, str]
    nsi_vaccine_book: str
    defaults: Defaults
    assumptions: tuple[str, ...]
    infections: tuple[Infection, ...]
    vaccines: tuple[Vaccine, ...]
    risk_groups: tuple[RiskGroup, ...]
    series: tuple[Series, ...]
    indication_only: tuple[IndicationOnly, ...]

    @model_validator(mode="after")
    def _references(self) -> Calendar:
        infections = {i.code for i in self.infections}
        risk_groups = {r.code for r in self.risk_groups}
        for kind, codes in (
            ("infection", [i.code for i in self.infections]),
            ("vaccine", [v.code for v in self.vaccines]),
            ("risk group", [r.code for r in self.risk_groups]),
            ("series", [s.id for s in self.series]),
        ):
            if len(codes) != len(set(codes)):
                raise ValueError(f"duplicate {kind} code")
        for vaccine in self.vaccines:
            if unknown := set(vaccine.infections) - infections:
                raise ValueError(f"vaccine {vaccine.code}: unknown infections {sorted(unknown)}")
        for series in self.series:
            if series.infection not in infections:
                raise ValueError(f"series {series.id}: unknown infection {series.infection}")
            for condition in series.applies:
                if unknown := set(condition.risk_groups) - risk_groups:
                    raise ValueError(f"series {series.id}: unknown risk groups {sorted(unknown)}")
        for entry in self.indication_only:
            if entry.infection not in infections:
                raise ValueError(f"indication_only: unknown infection {entry.infection}")
        return self

    def infection(self, code: str) -> Infection:
        return next(i for i in self.infections if i.code == code)

    def vaccine(self, code: str) -> Vaccine | None:
        return next((v for v in self.vaccines if v.code == code), None)

    def variants(self, infection: str) -> tuple[Series, ...]:
        """The series against ``infection`` in file order (the first that applies is used)."""
        return tuple(s for s in self.series if s.infection == infection)

    def cite(self, citation: Citation) -> str:
        return citation.reference(self.order_short)


def parse_calendar(text: str) -> Calendar:
    """A calendar from its JSON text; raises :class:`CalendarDataError` naming what is wrong."""
    try:
        return Calendar.model_validate_json(text)
    except ValidationError as exc:
        raise CalendarDataError(str(exc)) from exc


@cache
def load_calendar(name: str = CURRENT_CALENDAR) -> Calendar:
    """The calendar ``calendar/<name>.json`` (cached per process: the files are immutable versions)."""
    if not re.fullmatch(r"[a-z0-9.-]+", name):
        raise CalendarDataError(f"bad calendar name {name!r}")
    path = CALENDAR_DIR / f"{name}.json"
    if not path.is_file():
        raise CalendarDataError(f"no calendar file {path.name}")
    return parse_calendar(path.read_text(encoding="utf-8"))
