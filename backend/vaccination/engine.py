"""The calendar engine: for a person, their vaccinations and exemptions, and a date — what is done, due,
overdue, upcoming, exempt or no longer in the calendar, per infection and dose, each with the clause that
decides it.

Pure: no database, no clock, no I/O beyond reading the (cached) calendar file. The rules live in the data
(:mod:`backend.vaccination.calendar`); this module only walks them:

* Per infection, the first *series variant* whose conditions hold is used (risk groups, sex, age on the
  date asked, or the age at the series' first recorded dose — so a late start follows its catch-up scheme).
* The k-th recorded vaccination covering an infection (in date order; a combined vaccine counts for each
  of its infections; several records of one day count once) is dose k of its series. Records dated after
  the date asked are ignored. Records beyond the series are periodic revaccinations.
* A dose's earliest date is the later of the calendar's minimum age and the previous dose plus the minimal
  interval. It is due from then until its ``due_until`` age, or ``grace`` after the earliest date when the
  series runs late; then overdue (a catch-up) while the person is younger than its ``max_age``; from
  ``max_age`` on it is not in the calendar for this age. An exemption in force makes it exempt, and its end
  pushes the earliest date of a later dose.
* Doses after the next one are projected (upcoming, earliest date assuming each previous one is given at
  its own earliest date, never before the date asked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

from backend.vaccination.calendar import Age, Calendar, Citation, Condition, Dose, Periodic, Series, load_calendar
from backend.vaccination.problems import (
    ByIndicationOnly,
    ExemptionInForce,
    NotInCalendarForAge,
    SeriesComplete,
    TooEarlyForNextDose,
    UnknownInfection,
    UnknownRiskGroup,
    UnknownVaccine,
    russian_date,
)

Sex = Literal["female", "male"]


class Status(StrEnum):
    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"
    EXEMPT = "exempt"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Person:
    birth_date: date
    sex: Sex | None = None
    risk_groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VaccinationRecord:
    """One vaccination given. ``infections`` overrides the vaccine's own list (e.g. a vaccine not in the book)."""

    given_on: date
    vaccine: str | None = None  # a calendar vaccine code
    infections: tuple[str, ...] = ()
    dose_number: int | None = None  # as recorded; informational (the engine counts records in date order)
    trade_name: str | None = None


@dataclass(frozen=True)
class Exemption:
    """A medical exemption (медотвод) from ``start`` to ``end`` inclusive; ``end`` None: permanent."""

    start: date
    end: date | None
    infections: frozenset[str] | None = None  # None: every vaccination
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError("an exemption cannot end before it starts")

    def covers(self, infection: str, day: date) -> bool:
        in_period = self.start <= day and (self.end is None or day <= self.end)
        return in_period and (self.infections is None or infection in self.infections)


@dataclass(frozen=True)
class DoseStatus:
    infection: str
    infection_name: str
    series_id: str
    calendar: str  # "national" or "epidemic"
    dose_number: int  # within the series; periodic doses continue the numbering
    label: str
    periodic: bool
    status: Status
    done_on: date | None
    earliest: date | None  # for due/overdue/upcoming/exempt: the first date the dose may be given
    due_until: date | None  # for due/upcoming: the last day before it is overdue
    catch_up: bool  # the dose is late (overdue, or due on a catch-up scheme)
    exemption_until: date | None
    explanation: str  # Russian, for the patient
    citation: Citation
    reference: str  # «Приказ Минздрава России № 1122н, приложение № 1, строка 5»


@dataclass(frozen=True)
class Assessment:
    on: date
    calendar_id: str
    items: tuple[DoseStatus, ...]

    def with_status(self, *statuses: Status) -> tuple[DoseStatus, ...]:
        return tuple(item for item in self.items if item.status in statuses)

    def for_infection(self, infection: str) -> tuple[DoseStatus, ...]:
        return tuple(item for item in self.items if item.infection == infection)

    def next_for(self, infection: str) -> DoseStatus | None:
        """The first dose of the infection that is not done (None when nothing is pending)."""
        return next((i for i in self.for_infection(infection) if i.status is not Status.DONE), None)


@dataclass
class _Context:
    calendar: Calendar
    person: Person
    exemptions: Sequence[Exemption]
    on: date
    grace: Age
    items: list[DoseStatus] = field(default_factory=list)


def _age_at(birth: date, day: date, age: Age) -> bool:
    """Whether the person born on ``birth`` has reached ``age`` on ``day``."""
    return day >= age.after(birth)


def _holds(condition: Condition, person: Person, on: date, start: date) -> bool:
    birth = person.birth_date
    if not set(condition.risk_groups) <= person.risk_groups:
        return False
    if condition.sex is not None and person.sex != condition.sex:
        return False
    checks: list[tuple[Age | None, date, bool]] = [
        (condition.age_from, on, True),
        (condition.age_until, on, False),
        (condition.start_age_from, start, True),
        (condition.start_age_until, start, False),
    ]
    return all(age is None or _age_at(birth, day, age) == reached for age, day, reached in checks)


def select_series(calendar: Calendar, infection: str, person: Person, on: date, start: date) -> Series | None:
    """The variant of the infection's series that applies (first in file order), or None."""
    for series in calendar.variants(infection):
        if not series.applies or any(_holds(c, person, on, start) for c in series.applies):
            return series
    return None


def record_infections(calendar: Calendar, record: VaccinationRecord) -> frozenset[str]:
    """The infections a record covers; raises :class:`UnknownVaccine` / :class:`UnknownInfection`."""
    if record.infections:
        known = {i.code for i in calendar.infections}
        for code in record.infections:
            if code not in known:
                raise UnknownInfection(code)
        return frozenset(record.infections)
    if record.vaccine is None:
        raise UnknownVaccine("")
    vaccine = calendar.vaccine(record.vaccine)
    if vaccine is None:
        raise UnknownVaccine(record.vaccine)
    return frozenset(vaccine.infections)


def _exemption_on(ctx: _Context, infection: str, day: date) -> Exemption | None:
    covering = [e for e in ctx.exemptions if e.covers(infection, day)]
    if not covering:
        return None
    return max(covering, key=lambda e: e.end or date.max)


def _after_exemptions(ctx: _Context, infection: str, earliest: date) -> tuple[date | None, Exemption | None]:
    """``earliest`` moved past every exemption covering it (None if a permanent one does)."""
    blocking: Exemption | None = None
    for _ in range(len(ctx.exemptions) + 1):
        exemption = _exemption_on(ctx, infection, earliest)
        if exemption is None:
            return earliest, blocking
        blocking = exemption
        if exemption.end is None:
            return None, exemption
        earliest = exemption.end + timedelta(days=1)
    return earliest, blocking


def _against(ctx: _Context, infection: str) -> str:
    return ctx.calendar.infection(infection).against


def _item(
    ctx: _Context,
    series: Series,
    number: int,
    label: str,
    *,
    periodic: bool,
    status: Status,
    citation: Citation,
    explanation: str,
    done_on: date | None = None,
    earliest: date | None = None,
    due_until: date | None = None,
    catch_up: bool = False,
    exemption_until: date | None = None,
) -> DoseStatus:
    return DoseStatus(
        infection=series.infection,
        infection_name=ctx.calendar.infection(series.infection).name,
        series_id=series.id,
        calendar=series.calendar,
        dose_number=number,
        label=label,
        periodic=periodic,
        status=status,
        done_on=done_on,
        earliest=earliest,
        due_until=due_until,
        catch_up=catch_up,
        exemption_until=exemption_until,
        explanation=explanation.replace("г..", "г."),
        citation=citation,
        reference=ctx.calendar.cite(citation),
    )


@dataclass(frozen=True)
class _Pending:
    """A dose not done yet: its number and label, where its dates come from, and its clauses."""

    number: int
    label: str
    periodic: bool
    calendar_earliest: date  # by the calendar's age and the minimal interval only
    due_until_age: date | None
    limit: date | None  # max_age as a date
    grace: Age
    citation: Citation
    catch_up_citation: Citation | None
    first: bool  # the next dose (the others are projections)
    open_ended: bool = False


def _window(dose: _Pending) -> tuple[date | None, bool]:
    """The last day the dose is on time (None: never overdue) and whether the series runs late."""
    on_time = dose.due_until_age is not None and dose.calendar_earliest < dose.due_until_age
    late = dose.due_until_age is not None and not on_time
    due_until: date | None
    if dose.open_ended:
        due_until = None
    elif on_time and dose.due_until_age is not None:
        due_until = dose.due_until_age - timedelta(days=1)  # due_until is the age it becomes overdue
    else:
        due_until = dose.grace.after(dose.calendar_earliest)
    if dose.limit is not None:
        last = dose.limit - timedelta(days=1)
        due_until = last if due_until is None else min(due_until, last)
    return due_until, late


def _pending(ctx: _Context, series: Series, dose: _Pending) -> DoseStatus:
    """The status of a dose not done yet on ``ctx.on``."""
    what = f"«{dose.label}» {_against(ctx, series.infection)}"
    deciding = dose.catch_up_citation or dose.citation

    def item(
        status: Status,
        citation: Citation,
        explanation: str,
        *,
        earliest: date | None = None,
        due_until: date | None = None,
        catch_up: bool = False,
        exemption_until: date | None = None,
    ) -> DoseStatus:
        return _item(
            ctx,
            series,
            dose.number,
            dose.label,
            periodic=dose.periodic,
            status=status,
            citation=citation,
            explanation=explanation,
            earliest=earliest,
            due_until=due_until,
            catch_up=catch_up,
            exemption_until=exemption_until,
        )

    earliest, blocking = _after_exemptions(ctx, series.infection, dose.calendar_earliest)
    if dose.limit is not None and (ctx.on >= dose.limit or (earliest or dose.calendar_earliest) >= dose.limit):
        return item(
            Status.NOT_APPLICABLE,
            deciding,
            f"Прививка {what} не предусмотрена календарем с {russian_date(dose.limit)}: возраст для нее прошел. "
            "Обсудите с врачом, нужна ли она вам.",
        )
    due_until, late = _window(dose)
    citation = deciding if late else dose.citation

    in_force = _exemption_on(ctx, series.infection, ctx.on) if dose.first else None
    exemption = in_force or (blocking if earliest is None else None)
    if exemption is not None:
        after = None if exemption.end is None else max(dose.calendar_earliest, exemption.end + timedelta(days=1))
        until = "бессрочно" if exemption.end is None else f"до {russian_date(exemption.end)} включительно"
        return item(
            Status.EXEMPT,
            citation,
            f"Прививка {what} отложена: действует медицинский отвод {until}.",
            earliest=after,
            catch_up=due_until is not None and ctx.on > due_until,
            exemption_until=exemption.end,
        )
    assert earliest is not None  # None only under a permanent exemption, handled above
    if blocking is not None and due_until is not None:  # an exemption excuses the delay it caused
        due_until = max(due_until, dose.grace.after(earliest))
        if dose.limit is not None:
            due_until = min(due_until, dose.limit - timedelta(days=1))
    if not dose.first or ctx.on < earliest:
        reason = (
            f" (после медицинского отвода до {russian_date(blocking.end)})"
            if blocking is not None and blocking.end is not None
            else ""
        )
        return item(
            Status.UPCOMING,
            citation,
            f"Прививка {what} — не раньше {russian_date(earliest)}{reason}.",
            earliest=earliest,
            due_until=due_until,
            catch_up=late,
        )
    if due_until is None or ctx.on <= due_until:
        window = f"с {russian_date(earliest)}" + (f" по {russian_date(due_until)}" if due_until else "")
        return item(
            Status.DUE,
            citation,
            f"Пора сделать прививку {what}: {window}" + (" (догоняющая прививка)." if late else "."),
            earliest=earliest,
            due_until=due_until,
            catch_up=late,
        )
    deadline = f" — календарь допускает ее до {russian_date(dose.limit - timedelta(days=1))}." if dose.limit else "."
    return item(
        Status.OVERDUE,
        deciding,
        f"Прививка {what} просрочена: ее нужно было сделать не позднее {russian_date(due_until)}. "
        f"Запишитесь на нее как можно скорее{deadline}",
        earliest=earliest,
        due_until=due_until,
        catch_up=True,
    )


def _dose_earliest(person: Person, dose: Dose, previous: date | None) -> date:
    earliest = dose.age_from.after(person.birth_date)
    if previous is not None and dose.min_interval is not None:
        earliest = max(earliest, dose.min_interval.after(previous))
    return earliest


def _walk_series(ctx: _Context, series: Series, given: Sequence[date]) -> None:
    person = ctx.person
    previous: date | None = None
    first_pending = True
    for index, dose in enumerate(series.doses):
        if index < len(given):
            previous = given[index]
            ctx.items.append(
                _item(
                    ctx,
                    series,
                    dose.number,
                    dose.label,
                    periodic=False,
                    status=Status.DONE,
                    citation=dose.citation,
                    done_on=previous,
                    explanation=(
                        f"Сделано {russian_date(previous)}: {dose.label.lower()} {_against(ctx, series.infection)}."
                    ),
                )
            )
            continue
        item = _pending(
            ctx,
            series,
            _Pending(
                number=dose.number,
                label=dose.label,
                periodic=False,
                calendar_earliest=_dose_earliest(person, dose, previous),
                due_until_age=None if dose.due_until is None else dose.due_until.after(person.birth_date),
                limit=None if dose.max_age is None else dose.max_age.after(person.birth_date),
                grace=ctx.grace,
                citation=dose.citation,
                catch_up_citation=dose.catch_up,
                first=first_pending,
                open_ended=dose.open_ended,
            ),
        )
        ctx.items.append(item)
        first_pending = False
        if item.earliest is None or item.status is Status.NOT_APPLICABLE:
            return  # nothing can be projected after a permanent exemption or past the calendar's age
        previous = max(item.earliest, ctx.on)
    if first_pending and series.periodic is not None:
        _walk_periodic(ctx, series, series.periodic, given)


def _walk_periodic(ctx: _Context, series: Series, periodic: Periodic, given: Sequence[date]) -> None:
    number = len(series.doses)
    for extra in given[len(series.doses) :]:
        number += 1
        ctx.items.append(
            _item(
                ctx,
                series,
                number,
                periodic.label,
                periodic=True,
                status=Status.DONE,
                citation=periodic.citation,
                done_on=extra,
                explanation=(
                    f"Сделано {russian_date(extra)}: {periodic.label.lower()} {_against(ctx, series.infection)}."
                ),
            )
        )
    last = given[-1]
    earliest = max(periodic.every.after(last), periodic.min_age.after(ctx.person.birth_date))
    ctx.items.append(
        _pending(
            ctx,
            series,
            _Pending(
                number=number + 1,
                label=periodic.label,
                periodic=True,
                calendar_earliest=earliest,
                due_until_age=None,
                limit=None,
                grace=periodic.grace,
                citation=periodic.citation,
                catch_up_citation=None,
                first=True,
            ),
        )
    )


def _given_dates(calendar: Calendar, records: Iterable[VaccinationRecord], on: date) -> dict[str, list[date]]:
    given: dict[str, set[date]] = {}
    for record in records:
        covered = record_infections(calendar, record)
        if record.given_on > on:
            continue
        for infection in covered:
            given.setdefault(infection, set()).add(record.given_on)
    return {infection: sorted(days) for infection, days in given.items()}


def evaluate(
    person: Person,
    records: Iterable[VaccinationRecord],
    exemptions: Iterable[Exemption],
    on: date,
    *,
    calendar: Calendar | None = None,
) -> Assessment:
    """The person's vaccination status on ``on`` by the calendar (the current one by default)."""
    if on < person.birth_date:
        raise ValueError("the date asked is before the person's birth")
    calendar = calendar or load_calendar()
    known_groups = {r.code for r in calendar.risk_groups}
    for group in sorted(person.risk_groups):
        if group not in known_groups:
            raise UnknownRiskGroup(group)
    ctx = _Context(
        calendar=calendar,
        person=person,
        exemptions=tuple(exemptions),
        on=on,
        grace=calendar.defaults.catch_up_grace,
    )
    given = _given_dates(calendar, records, on)
    seen: set[str] = set()
    for series in calendar.series:
        infection = series.infection
        if infection in seen:
            continue
        seen.add(infection)
        dates = given.get(infection, [])
        chosen = select_series(calendar, infection, person, on, dates[0] if dates else on)
        if chosen is not None:
            _walk_series(ctx, chosen, dates)
    return Assessment(on=on, calendar_id=calendar.id, items=tuple(ctx.items))


def check_next_dose(
    person: Person,
    records: Iterable[VaccinationRecord],
    exemptions: Iterable[Exemption],
    infection: str,
    on: date,
    *,
    calendar: Calendar | None = None,
) -> DoseStatus:
    """The next dose against ``infection`` if it may be given on ``on`` (due or overdue).

    Raises :class:`UnknownInfection`, :class:`NotInCalendarForAge`, :class:`ByIndicationOnly`,
    :class:`ExemptionInForce`,
    :class:`TooEarlyForNextDose` (with the earliest date) or :class:`SeriesComplete`. This is the check a
    booking of a vaccination makes before it asks the hub.
    """
    calendar = calendar or load_calendar()
    if infection not in {i.code for i in calendar.infections}:
        raise UnknownInfection(infection)
    name = calendar.infection(infection).name
    assessment = evaluate(person, records, exemptions, on, calendar=calendar)
    items = assessment.for_infection(infection)
    if not items:
        indication = next((e for e in calendar.indication_only if e.infection == infection), None)
        if indication is not None:
            raise ByIndicationOnly(name, calendar.cite(indication.citation))
        raise NotInCalendarForAge(name)
    pending = assessment.next_for(infection)
    if pending is None:
        raise SeriesComplete(name)
    if pending.status is Status.NOT_APPLICABLE:
        raise NotInCalendarForAge(name, pending.reference)
    if pending.status is Status.EXEMPT:
        raise ExemptionInForce(name, pending.exemption_until)
    if pending.status is Status.UPCOMING:
        assert pending.earliest is not None  # an upcoming dose always has its earliest date
        raise TooEarlyForNextDose(name, pending.label, pending.earliest, pending.reference)
    return pending


class ReminderKind(StrEnum):
    DUE_SOON = "due_soon"  # a week (``lead``) before the next dose becomes due
    OVERDUE = "overdue"  # the day after its window ends (or at once, if already overdue)


@dataclass(frozen=True)
class Reminder:
    """A ``vaccination.due`` notification to plan: the caller adds the recipient (the parent for a child),
    ``for_name`` for a child, quiet hours, and makes ``key`` unique per person."""

    infection: str
    dose_number: int
    kind: ReminderKind
    send_on: date
    key: str  # stable: one reminder of a kind per dose
    data: dict[str, str]  # what the ``vaccination.due`` template reads: vaccine, due_on


def reminders(assessment: Assessment, *, lead: timedelta = timedelta(days=7)) -> tuple[Reminder, ...]:
    """The reminders the assessment calls for, on or after its date: for the next dose of each infection
    only (a projected dose is reminded of when it becomes the next one)."""
    planned: list[Reminder] = []
    seen: set[str] = set()
    for item in assessment.items:
        if item.status is Status.DONE or item.infection in seen:
            continue
        seen.add(item.infection)
        against = load_calendar(assessment.calendar_id).infection(item.infection).against
        data = {"vaccine": f"{item.label.lower()} {against}"}
        if item.due_until is not None:
            data["due_on"] = item.due_until.isoformat()
        if item.status is Status.UPCOMING and item.earliest is not None:
            kind, send_on = ReminderKind.DUE_SOON, max(assessment.on, item.earliest - lead)
        elif item.status is Status.DUE and item.due_until is not None:
            kind, send_on = ReminderKind.OVERDUE, item.due_until + timedelta(days=1)
        elif item.status is Status.OVERDUE:
            kind, send_on = ReminderKind.OVERDUE, assessment.on
        else:
            continue
        key = f"vaccination.due:{item.series_id}:{item.dose_number}:{kind.value}"
        planned.append(Reminder(item.infection, item.dose_number, kind, send_on, key, data))
    return tuple(planned)
