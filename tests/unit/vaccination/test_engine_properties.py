"""Properties of the engine over arbitrary people, histories, exemptions and dates (Hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.vaccination.calendar import load_calendar
from backend.vaccination.engine import (
    DoseStatus,
    Exemption,
    Person,
    Status,
    VaccinationRecord,
    check_next_dose,
    evaluate,
)
from backend.vaccination.problems import TooEarlyForNextDose, VaccinationProblem

CALENDAR = load_calendar()
SINGLE = {v.infections[0]: v.code for v in CALENDAR.vaccines if len(v.infections) == 1}
VACCINES = sorted(v.code for v in CALENDAR.vaccines)
RISK_GROUPS = sorted(r.code for r in CALENDAR.risk_groups)
SERIES = {s.id: s for s in CALENDAR.series}


@st.composite
def histories(
    draw: st.DrawFn,
) -> tuple[Person, list[VaccinationRecord], list[Exemption], date]:
    birth = draw(st.dates(min_value=date(1950, 1, 1), max_value=date(2026, 12, 31)))
    on = birth + timedelta(days=draw(st.integers(min_value=0, max_value=80 * 365)))
    person = Person(
        birth_date=birth,
        sex=draw(st.sampled_from(["female", "male", None])),
        risk_groups=frozenset(draw(st.lists(st.sampled_from(RISK_GROUPS), max_size=3))),
    )
    span = (on - birth).days
    records = [
        VaccinationRecord(given_on=birth + timedelta(days=draw(st.integers(0, span))), vaccine=vaccine)
        for vaccine in draw(st.lists(st.sampled_from(VACCINES), max_size=12))
    ]
    exemptions = []
    for _ in range(draw(st.integers(0, 2))):
        start = birth + timedelta(days=draw(st.integers(0, span + 400)))
        length = draw(st.one_of(st.none(), st.integers(0, 400)))
        infections = draw(st.one_of(st.none(), st.sets(st.sampled_from(sorted(SINGLE)), min_size=1, max_size=3)))
        exemptions.append(
            Exemption(
                start=start,
                end=None if length is None else start + timedelta(days=length),
                infections=None if infections is None else frozenset(infections),
            )
        )
    return person, records, exemptions, on


def _previous_done(items: tuple[DoseStatus, ...], item: DoseStatus) -> DoseStatus | None:
    before = [i for i in items if i.infection == item.infection and i.dose_number == item.dose_number - 1]
    return before[0] if before and before[0].status is Status.DONE else None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_no_dose_is_due_before_its_minimal_interval_or_minimum_age(
    history: tuple[Person, list[VaccinationRecord], list[Exemption], date],
) -> None:
    person, records, exemptions, on = history
    assessment = evaluate(person, records, exemptions, on)
    for item in assessment.items:
        if item.status not in {Status.DUE, Status.OVERDUE, Status.UPCOMING}:
            continue
        assert item.earliest is not None
        series = SERIES[item.series_id]
        previous = _previous_done(assessment.items, item)
        if item.periodic:
            assert series.periodic is not None
            assert item.earliest >= series.periodic.min_age.after(person.birth_date)
            if previous is not None and previous.done_on is not None:
                assert item.earliest >= series.periodic.every.after(previous.done_on)
        else:
            dose = series.doses[item.dose_number - 1]
            assert item.earliest >= dose.age_from.after(person.birth_date)
            if dose.min_interval is not None and previous is not None and previous.done_on is not None:
                assert item.earliest >= dose.min_interval.after(previous.done_on)
            if dose.max_age is not None:
                assert item.earliest < dose.max_age.after(person.birth_date)
        if item.status in {Status.DUE, Status.OVERDUE}:
            assert item.earliest <= on  # due means it may be given on the date asked
            assert not any(e.covers(item.infection, on) for e in exemptions)
        else:
            assert item.earliest > on or previous is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_one_pending_dose_per_infection_and_dates_ordered(
    history: tuple[Person, list[VaccinationRecord], list[Exemption], date],
) -> None:
    person, records, exemptions, on = history
    assessment = evaluate(person, records, exemptions, on)
    for infection in {i.infection for i in assessment.items}:
        items = assessment.for_infection(infection)
        pending = [i for i in items if i.status is not Status.DONE]
        # only the next dose can be given now; the later ones wait for it
        assert all(i.status not in {Status.DUE, Status.OVERDUE} for i in pending[1:])
        numbers = [i.dose_number for i in items]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        done = [i.done_on for i in items if i.status is Status.DONE and i.done_on is not None]
        assert len(done) == len([i for i in items if i.status is Status.DONE])
        assert done == sorted(done) and all(d <= on for d in done)
        projected = [i.earliest for i in items if i.status is Status.UPCOMING and i.earliest is not None]
        assert projected == sorted(projected)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.sampled_from(sorted(i.code for i in CALENDAR.infections)))
def test_a_booking_is_never_allowed_before_the_minimal_interval_or_under_an_exemption(
    history: tuple[Person, list[VaccinationRecord], list[Exemption], date], infection: str
) -> None:
    """What a booking asks (``check_next_dose``): a dose it lets through may be given on that day — the
    previous dose of the series plus the minimal interval, the minimum age and every exemption respected; a
    refusal for being too early names a later day."""
    person, records, exemptions, on = history
    try:
        dose = check_next_dose(person, records, exemptions, infection, on)
    except TooEarlyForNextDose as early:
        assert early.earliest > on
        return
    except VaccinationProblem:
        return
    assert dose.status in {Status.DUE, Status.OVERDUE} and dose.earliest is not None and dose.earliest <= on
    assert not any(e.covers(infection, on) for e in exemptions)
    given = sorted(
        {r.given_on for r in records if r.given_on <= on and infection in CALENDAR.vaccine(r.vaccine or "").infections}  # type: ignore[union-attr]
    )
    series = SERIES[dose.series_id]
    if dose.periodic:
        assert series.periodic is not None and given
        assert on >= series.periodic.every.after(given[-1])
    else:
        rule = series.doses[dose.dose_number - 1]
        assert on >= rule.age_from.after(person.birth_date)
        if rule.min_interval is not None and given:
            assert on >= rule.min_interval.after(given[-1])
