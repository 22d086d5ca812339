"""The calendar engine, table-driven: each case names the clause of order № 1122н that decides it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from backend.vaccination.engine import (
    Exemption,
    Person,
    ReminderKind,
    Status,
    VaccinationRecord,
    check_next_dose,
    evaluate,
    reminders,
)
from backend.vaccination.problems import (
    ByIndicationOnly,
    ExemptionInForce,
    NotInCalendarForAge,
    SeriesComplete,
    TooEarlyForNextDose,
    UnknownRiskGroup,
    UnknownVaccine,
)

R = VaccinationRecord


@dataclass(frozen=True)
class Case:
    name: str
    person: Person
    records: tuple[VaccinationRecord, ...]
    exemptions: tuple[Exemption, ...]
    on: date
    infection: str
    dose: int
    status: Status
    earliest: date | None
    appendix: int
    row: str | None  # the row of the appendix's table that decides (None: the procedure's clause)


NEWBORN = Person(birth_date=date(2026, 1, 10), sex="male")
RISK_NEWBORN = Person(birth_date=date(2026, 1, 10), sex="female", risk_groups=frozenset({"hepatitis_b_risk"}))
TODDLER = Person(birth_date=date(2025, 1, 15), sex="female")  # 13.5 months on 2026-03-01
TODDLER_RECORDS = (
    R(date(2025, 1, 15), "hepb", dose_number=1),
    R(date(2025, 1, 19), "bcg_m", dose_number=1),
    R(date(2025, 2, 15), "hepb", dose_number=2),
)
ADULT = Person(birth_date=date(1990, 5, 1), sex="male")
ADULT_RECORDS = (
    R(date(1990, 5, 1), "hepb"),
    R(date(1990, 6, 3), "hepb"),
    R(date(1990, 11, 5), "hepb"),
    R(date(2016, 3, 1), "dt_m"),
    R(date(2016, 4, 1), "dt_m"),
    R(date(2016, 11, 1), "dt_m"),
)
INFANT = Person(birth_date=date(2025, 6, 1), sex="male")
ILLNESS = Exemption(start=date(2025, 9, 1), end=date(2025, 10, 15), infections=None, reason="острое заболевание")

CASES = [
    # --- a newborn
    Case("newborn: hepatitis B in the first 24 hours", NEWBORN, (), (), date(2026, 1, 10),
         "hepatitis_b", 1, Status.DUE, date(2026, 1, 10), 1, "1"),
    Case("newborn: BCG not before day 3", NEWBORN, (), (), date(2026, 1, 10),
         "tuberculosis", 1, Status.UPCOMING, date(2026, 1, 13), 1, "2"),
    Case("newborn: BCG on days 3-7", NEWBORN, (R(date(2026, 1, 10), "hepb"),), (), date(2026, 1, 14),
         "tuberculosis", 1, Status.DUE, date(2026, 1, 13), 1, "2"),
    Case("newborn: second hepatitis B dose at one month", NEWBORN, (R(date(2026, 1, 10), "hepb"),), (),
         date(2026, 2, 12), "hepatitis_b", 2, Status.DUE, date(2026, 2, 10), 1, "3"),
    Case("newborn: pneumococcal at two months", NEWBORN, (), (), date(2026, 3, 11),
         "pneumococcal", 1, Status.DUE, date(2026, 3, 10), 1, "4"),
    Case("risk group: third hepatitis B dose at two months (0-1-2-12)", RISK_NEWBORN,
         (R(date(2026, 1, 10), "hepb"), R(date(2026, 2, 10), "hepb")), (), date(2026, 3, 12),
         "hepatitis_b", 3, Status.DUE, date(2026, 3, 10), 1, "4"),
    Case("risk group: fourth hepatitis B dose at 12 months", RISK_NEWBORN,
         (R(date(2026, 1, 10), "hepb"), R(date(2026, 2, 10), "hepb"), R(date(2026, 3, 10), "hepb")), (),
         date(2026, 6, 1), "hepatitis_b", 4, Status.UPCOMING, date(2027, 1, 10), 1, "8"),
    # --- a child who missed doses (13.5 months, only the maternity-ward vaccinations and one hep B dose)
    Case("missed: first DTP is overdue, a catch-up by the procedure", TODDLER, TODDLER_RECORDS, (),
         date(2026, 3, 1), "diphtheria", 1, Status.OVERDUE, date(2025, 4, 15), 3, None),
    Case("missed: the second DTP follows 45 days after the catch-up dose", TODDLER, TODDLER_RECORDS, (),
         date(2026, 3, 1), "diphtheria", 2, Status.UPCOMING, date(2026, 4, 15), 1, "6"),
    Case("missed: third hepatitis B dose overdue, catch-up by row 16", TODDLER, TODDLER_RECORDS, (),
         date(2026, 3, 1), "hepatitis_b", 3, Status.OVERDUE, date(2025, 7, 15), 1, "16"),
    Case("missed: measles at 12 months is overdue, catch-up by row 18", TODDLER, TODDLER_RECORDS, (),
         date(2026, 3, 1), "measles", 1, Status.OVERDUE, date(2026, 1, 15), 1, "18"),
    Case("missed: Hib started after one year is a single dose", TODDLER, TODDLER_RECORDS, (),
         date(2026, 3, 1), "hib", 1, Status.OVERDUE, date(2025, 4, 15), 3, None),
    Case("late DTP: the second dose is due 45 days after the first", TODDLER,
         (*TODDLER_RECORDS, R(date(2026, 3, 1), "dtp")), (), date(2026, 4, 16),
         "diphtheria", 2, Status.DUE, date(2026, 4, 15), 1, "6"),
    # --- an adult
    Case("adult: diphtheria every 10 years from the last revaccination", ADULT, ADULT_RECORDS, (),
         date(2026, 12, 6), "diphtheria", 4, Status.DUE, date(2026, 11, 1), 1, "15"),
    Case("adult: tetanus likewise", ADULT, ADULT_RECORDS, (), date(2026, 12, 6),
         "tetanus", 4, Status.DUE, date(2026, 11, 1), 1, "15"),
    Case("adult: measles after 35 is not in the calendar", ADULT, ADULT_RECORDS, (), date(2026, 12, 6),
         "measles", 1, Status.NOT_APPLICABLE, None, 1, "18"),
    Case("adult risk group: measles to 55", Person(date(1985, 2, 1), "female", frozenset({"measles_adult_risk"})),
         (), (), date(2026, 12, 6), "measles", 1, Status.OVERDUE, date(1986, 2, 1), 1, "18"),
    Case("woman of 20 vaccinated once against rubella: revaccination", Person(date(2006, 3, 3), "female"),
         (R(date(2007, 3, 5), "mmr"),), (), date(2026, 12, 6), "rubella", 2, Status.OVERDUE, date(2012, 3, 3),
         1, "17"),
    Case("adult over 60: influenza yearly", Person(date(1960, 1, 1), "male"), (), (), date(2026, 10, 1),
         "influenza", 1, Status.DUE, date(1960, 7, 1), 1, "19"),
    Case("influenza: not before a year after the last", Person(date(1960, 1, 1), "male"),
         (R(date(2026, 9, 20), "influenza"),), (), date(2026, 12, 6), "influenza", 2, Status.UPCOMING,
         date(2027, 9, 20), 1, "19"),
    Case("endemic area: tick-borne encephalitis", Person(date(1990, 1, 1), None,
         frozenset({"tick_borne_encephalitis_endemic"})), (), (), date(2026, 3, 1),
         "tick_borne_encephalitis", 1, Status.DUE, date(1991, 1, 1), 2, "7"),
    # --- a person with an exemption
    Case("exemption in force: the first DTP is postponed", INFANT, (), (ILLNESS,), date(2025, 9, 10),
         "diphtheria", 1, Status.EXEMPT, date(2025, 10, 16), 1, "5"),
    Case("exemption: the next dose is projected after it ends", INFANT, (), (ILLNESS,), date(2025, 9, 10),
         "diphtheria", 2, Status.UPCOMING, date(2025, 11, 30), 1, "6"),
    Case("exemption over: the dose is due again, the delay excused", INFANT, (), (ILLNESS,), date(2025, 10, 20),
         "diphtheria", 1, Status.DUE, date(2025, 10, 16), 1, "5"),
    Case("exemption for one infection leaves the others due", INFANT, (),
         (Exemption(date(2025, 9, 1), date(2025, 12, 31), frozenset({"pertussis"})),), date(2025, 9, 10),
         "tetanus", 1, Status.DUE, date(2025, 9, 1), 1, "5"),
    Case("permanent exemption", INFANT, (), (Exemption(date(2025, 8, 1), None, frozenset({"tuberculosis"})),),
         date(2025, 9, 10), "tuberculosis", 1, Status.EXEMPT, None, 1, "2"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_calendar_case(case: Case) -> None:
    assessment = evaluate(case.person, case.records, case.exemptions, case.on)
    item = next(i for i in assessment.for_infection(case.infection) if i.dose_number == case.dose)
    assert item.status is case.status, item.explanation
    assert item.earliest == case.earliest
    assert (item.citation.appendix, item.citation.row) == (case.appendix, case.row), item.reference
    assert item.reference.startswith("Приказ Минздрава России № 1122н, приложение")
    assert item.explanation  # Russian text for the patient
    if case.status in {Status.DUE, Status.OVERDUE}:
        assert item.earliest is not None
        assert item.earliest <= case.on


def test_done_doses_are_listed_with_their_dates() -> None:
    assessment = evaluate(TODDLER, TODDLER_RECORDS, (), date(2026, 3, 1))
    done = assessment.with_status(Status.DONE)
    assert {(i.infection, i.dose_number, i.done_on) for i in done} == {
        ("hepatitis_b", 1, date(2025, 1, 15)),
        ("hepatitis_b", 2, date(2025, 2, 15)),
        ("tuberculosis", 1, date(2025, 1, 19)),
    }
    assert all(i.explanation.startswith("Сделано ") for i in done)


def test_combined_vaccine_counts_for_each_infection_and_a_day_once() -> None:
    records = (R(date(2025, 9, 1), "dtap_ipv_hib_hepb"), R(date(2025, 9, 1), "hepb"))
    assessment = evaluate(INFANT, records, (), date(2025, 9, 2))
    done = {i.infection for i in assessment.with_status(Status.DONE)}
    assert done == {"diphtheria", "pertussis", "tetanus", "poliomyelitis", "hib", "hepatitis_b"}
    assert [i.dose_number for i in assessment.for_infection("hepatitis_b") if i.status is Status.DONE] == [1]


def test_records_after_the_date_asked_are_ignored() -> None:
    assessment = evaluate(NEWBORN, (R(date(2026, 2, 1), "hepb"),), (), date(2026, 1, 10))
    assert assessment.next_for("hepatitis_b") is not None
    assert assessment.with_status(Status.DONE) == ()


def test_pertussis_is_not_in_the_calendar_after_four() -> None:
    child = Person(date(2020, 1, 1), "male")
    assessment = evaluate(child, (), (), date(2026, 1, 1))
    assert assessment.for_infection("pertussis") == ()
    with pytest.raises(NotInCalendarForAge) as caught:
        check_next_dose(child, (), (), "pertussis", date(2026, 1, 1))
    assert caught.value.code == "VACCINATION_NOT_IN_CALENDAR_FOR_AGE"
    assert "не предусмотрена календарем" in caught.value.message


def test_check_next_dose_too_early_names_the_earliest_date() -> None:
    records = (*TODDLER_RECORDS, R(date(2026, 3, 1), "dtp"))
    with pytest.raises(TooEarlyForNextDose) as caught:
        check_next_dose(TODDLER, records, (), "diphtheria", date(2026, 3, 20))
    assert caught.value.earliest == date(2026, 4, 15)  # 45 days: row 6
    assert caught.value.code == "VACCINATION_TOO_EARLY"
    assert "15 апреля 2026 г." in caught.value.message
    assert "строка 6" in caught.value.message


def test_check_next_dose_exemption_in_force() -> None:
    with pytest.raises(ExemptionInForce) as caught:
        check_next_dose(INFANT, (), (ILLNESS,), "diphtheria", date(2025, 9, 10))
    assert caught.value.until == date(2025, 10, 15)
    assert caught.value.code == "VACCINATION_EXEMPTION_IN_FORCE"
    assert "15 октября 2025 г." in caught.value.message


def test_check_next_dose_measles_for_an_adult_over_35() -> None:
    with pytest.raises(NotInCalendarForAge) as caught:
        check_next_dose(ADULT, ADULT_RECORDS, (), "measles", date(2026, 12, 6))
    assert "строка 18" in caught.value.message


def test_check_next_dose_series_complete() -> None:
    child = Person(date(2010, 1, 1), "female")
    records = tuple(R(day, "mmr") for day in (date(2011, 1, 10), date(2016, 1, 10)))
    with pytest.raises(SeriesComplete):
        check_next_dose(child, records, (), "mumps", date(2017, 1, 1))


def test_check_next_dose_returns_the_due_dose() -> None:
    item = check_next_dose(TODDLER, TODDLER_RECORDS, (), "measles", date(2026, 3, 1))
    assert item.status is Status.OVERDUE
    assert item.dose_number == 1


def test_unknown_vaccine_is_a_typed_problem() -> None:
    with pytest.raises(UnknownVaccine) as caught:
        evaluate(NEWBORN, (R(date(2026, 1, 10), "no-such-vaccine"),), (), date(2026, 1, 11))
    assert caught.value.code == "VACCINATION_UNKNOWN_VACCINE"


def test_unknown_risk_group_is_a_typed_problem() -> None:
    with pytest.raises(UnknownRiskGroup) as caught:
        evaluate(Person(date(2000, 1, 1), "male", frozenset({"astronauts"})), (), (), date(2026, 1, 1))
    assert caught.value.code == "VACCINATION_UNKNOWN_RISK_GROUP"


def test_reminders_a_week_before_due_and_when_overdue() -> None:
    # the infant on 2025-08-25: DTP (3 months, row 5) becomes due on 2025-09-01
    planned = {(r.infection, r.kind): r for r in reminders(evaluate(INFANT, (), (), date(2025, 8, 25)))}
    soon = planned[("diphtheria", ReminderKind.DUE_SOON)]
    assert soon.send_on == date(2025, 8, 25)  # 2025-09-01 minus a week
    assert soon.data == {"vaccine": "первая вакцинация против дифтерии", "due_on": "2025-09-30"}
    assert soon.key == "vaccination.due:diphtheria:1:due_soon"
    # on 2025-09-10 it is due until 2025-09-30: the overdue reminder is planned for the day after
    planned = {(r.infection, r.kind): r for r in reminders(evaluate(INFANT, (), (), date(2025, 9, 10)))}
    assert planned[("diphtheria", ReminderKind.OVERDUE)].send_on == date(2025, 10, 1)
    # an exemption in force plans nothing for that infection; done series plan nothing either
    exempt = reminders(evaluate(INFANT, (), (ILLNESS,), date(2025, 9, 10)))
    assert not [r for r in exempt if r.infection == "diphtheria"]
    # one reminder per infection: the projected later doses wait
    assert len({r.infection for r in exempt}) == len(exempt)


def test_overdue_reminder_is_sent_at_once() -> None:
    planned = reminders(evaluate(TODDLER, TODDLER_RECORDS, (), date(2026, 3, 1)))
    measles = next(r for r in planned if r.infection == "measles")
    assert (measles.kind, measles.send_on) == (ReminderKind.OVERDUE, date(2026, 3, 1))


def test_rabies_is_by_epidemic_indication_only() -> None:
    with pytest.raises(ByIndicationOnly) as caught:
        check_next_dose(ADULT, (), (), "rabies", date(2026, 12, 6))
    assert caught.value.code == "VACCINATION_BY_INDICATION_ONLY"
    assert "приложение № 2, строка 5" in caught.value.message


def test_bad_dates_are_refused() -> None:
    with pytest.raises(ValueError):
        evaluate(NEWBORN, (), (), date(2025, 12, 31))
    with pytest.raises(ValueError):
        Exemption(start=date(2026, 2, 1), end=date(2026, 1, 1))
