"""The pure rules of insurance: the ЕНП's format and control digit, 326-ФЗ art. 16 (once a year by 1 November,
the exceptions), the answer deadline, and the virtual representative's rules. Table-driven and property tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.insurance.representative import Facts, FailedBooking, RuleId, advise
from backend.insurance.rules import Verdict, answer_due, insurer_change_decision
from integrations.erzl import BilledService, CareKind, ChangeReason, PaymentStatus
from integrations.erzl import enp as enp_rules

# ---------------------------------------------------------------------------------------------- ЕНП

BODIES = st.text(alphabet="0123456789", min_size=15, max_size=15)


@pytest.mark.parametrize(
    ("typed", "number", "error"),
    [
        (
            "0700000000000011",
            "0700000000000011",
            None,
        ),  # body 07 0…0 1: odd digits 1,0…0 → 2×10000000; even 0…0,7 → 7+2 = 9 → 1
        ("0700 0000 0000 0011", "0700000000000011", None),  # spaces of a typed number
        ("0700-0000-0000-0011", "0700000000000011", None),
        ("0700000000000012", None, "контрольная цифра"),
        ("070000000000001", None, "16 цифр, а введено 15"),
        ("07000000000000110", None, "16 цифр, а введено 17"),
        ("07000000000000l3", None, "только из цифр"),
        ("", None, "Укажите номер полиса"),
        (None, None, "Укажите номер полиса"),
    ],
)
def test_enp_table(typed: str | None, number: str | None, error: str | None) -> None:
    check = enp_rules.validate(typed)
    assert check.number == number
    assert (check.error is None) if error is None else (error in (check.error or ""))


def test_a_wrong_control_digit_passes_the_format_only_check() -> None:
    assert enp_rules.validate("0700000000000012", check_digit=False).number == "0700000000000012"


@given(BODIES)
def test_the_codification_steps_are_the_luhn_digit(body: str) -> None:
    assert enp_rules.control_digit_by_steps(body) == enp_rules.control_digit(body)


@given(BODIES)
def test_a_number_with_its_control_digit_is_valid(body: str) -> None:
    assert enp_rules.validate(enp_rules.with_control_digit(body)).ok


@given(BODIES, st.integers(min_value=0, max_value=15), st.integers(min_value=1, max_value=9))
def test_any_single_digit_error_is_caught(body: str, position: int, delta: int) -> None:
    number = enp_rules.with_control_digit(body)
    wrong = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not enp_rules.validate(wrong).ok


@given(st.text(max_size=20))
def test_validate_never_raises_and_accepts_only_16_digits(text: str) -> None:
    check = enp_rules.validate(text)
    assert check.ok == (check.number is not None)
    if check.ok:
        assert check.number is not None and len(check.number) == 16 and check.number.isdigit()


# ---------------------------------------------------------------------------------------------- 326-ФЗ art. 16

NEXT_YEAR = date(2026, 1, 1)


@pytest.mark.parametrize(
    ("today", "reason", "earlier", "exiting", "verdict", "possible_from"),
    [
        (date(2025, 3, 3), ChangeReason.ORDINARY, [], False, Verdict.ALLOWED, date(2025, 3, 3)),
        (date(2025, 11, 1), ChangeReason.ORDINARY, [], False, Verdict.ALLOWED, date(2025, 11, 1)),  # «не позднее»
        (date(2025, 11, 2), ChangeReason.ORDINARY, [], False, Verdict.AFTER_NOVEMBER_1, NEXT_YEAR),
        (date(2025, 12, 31), ChangeReason.ORDINARY, [], False, Verdict.AFTER_NOVEMBER_1, NEXT_YEAR),
        (date(2025, 6, 1), ChangeReason.ORDINARY, [date(2025, 2, 1)], False, Verdict.ALREADY_THIS_YEAR, NEXT_YEAR),
        (date(2025, 1, 1), ChangeReason.ORDINARY, [date(2024, 10, 30)], False, Verdict.ALLOWED, date(2025, 1, 1)),
        (
            date(2025, 6, 1),
            ChangeReason.CHANGE_OF_RESIDENCE,
            [date(2025, 2, 1)],
            False,
            Verdict.ALLOWED,
            date(2025, 6, 1),
        ),
        (date(2025, 12, 1), ChangeReason.CHANGE_OF_RESIDENCE, [], False, Verdict.ALLOWED, date(2025, 12, 1)),
        (date(2025, 12, 1), ChangeReason.INSURER_EXIT, [date(2025, 2, 1)], True, Verdict.ALLOWED, date(2025, 12, 1)),
        (date(2025, 6, 1), ChangeReason.INSURER_EXIT, [], False, Verdict.INSURER_NOT_EXITING, date(2025, 6, 1)),
        (date(2025, 12, 1), ChangeReason.FIRST_CHOICE, [date(2025, 2, 1)], False, Verdict.ALLOWED, date(2025, 12, 1)),
    ],
)
def test_art16_table(
    today: date, reason: ChangeReason, earlier: list[date], exiting: bool, verdict: Verdict, possible_from: date
) -> None:
    decision = insurer_change_decision(today, reason, ordinary_changes=earlier, insurer_exiting=exiting)
    assert (decision.verdict, decision.possible_from) == (verdict, possible_from)
    if not decision.allowed and verdict is not Verdict.INSURER_NOT_EXITING:
        assert f"{possible_from:%d.%m.%Y}" in decision.message_ru and "326-ФЗ" in decision.message_ru


DAYS = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


@given(DAYS, st.lists(DAYS, max_size=4))
def test_an_ordinary_change_is_allowed_exactly_when_the_law_allows_it(today: date, earlier: list[date]) -> None:
    decision = insurer_change_decision(today, ChangeReason.ORDINARY, ordinary_changes=earlier)
    by_november = (today.month, today.day) <= (11, 1)
    first_this_year = all(d.year != today.year for d in earlier)
    assert decision.allowed == (by_november and first_this_year)
    if decision.allowed:
        assert decision.possible_from == today
    else:  # and the day it becomes possible is one on which it is
        assert decision.possible_from == date(today.year + 1, 1, 1) > today
        later = [d for d in earlier if d.year != decision.possible_from.year]
        assert insurer_change_decision(decision.possible_from, ChangeReason.ORDINARY, ordinary_changes=later).allowed


@given(DAYS, st.lists(DAYS, max_size=4))
def test_a_move_is_always_allowed(today: date, earlier: list[date]) -> None:
    assert insurer_change_decision(today, ChangeReason.CHANGE_OF_RESIDENCE, ordinary_changes=earlier).allowed


@given(DAYS)
def test_the_answer_is_due_in_30_days(day: date) -> None:
    assert answer_due(day) - day == timedelta(days=30)


# ---------------------------------------------------------------------------------------------- representative

TODAY = date(2025, 3, 3)


def _service(on: date, icd: str, kind: CareKind = CareKind.AMBULATORY) -> BilledService:
    return BilledService(
        case_id=f"{on}-{icd}", service_date=on, mo_oid="1.2", mo_name="ГП № 1", service_code="B01.047.001",
        service_name="Прием", diagnosis_code=icd, diagnosis_name="—", care_kind=kind, cost=Decimal("100"),
        payment_status=PaymentStatus.PAID,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("born", "services", "failed", "rules"),
    [
        (date(1980, 6, 1), [], [], {RuleId.DISPANSERIZATION_DUE}),  # 45 this year: yearly
        (date(1994, 6, 1), [], [], {RuleId.DISPANSERIZATION_DUE}),  # 31: the preventive exam year
        (date(2010, 6, 1), [], [], set()),  # a child: none
        (date(1980, 6, 1), [_service(date(2025, 2, 1), "Z00.0", CareKind.DISPANSERIZATION)], [], set()),
        (date(1980, 6, 1), [_service(date(2023, 5, 1), "I10")], [], {RuleId.DISPANSERIZATION_DUE,
                                                                     RuleId.DISPENSARY_OVERDUE}),
        (date(1980, 6, 1), [_service(date(2024, 9, 1), "I10")], [], {RuleId.DISPANSERIZATION_DUE}),  # seen this year
        (date(1980, 6, 1), [_service(date(2024, 9, 1), "E11.9")], [], {RuleId.DISPANSERIZATION_DUE,
                                                                       RuleId.FREE_DRUGS}),
        (date(1980, 6, 1), [_service(date(2023, 9, 1), "I21.0")], [], {RuleId.DISPANSERIZATION_DUE,
                                                                       RuleId.FREE_DRUGS}),
        (date(1980, 6, 1), [_service(date(2022, 9, 1), "I21.0")], [], {RuleId.DISPANSERIZATION_DUE}),  # > 2 years
        (date(1980, 6, 1), [_service(date(2024, 12, 1), "C50.9")], [], {RuleId.DISPANSERIZATION_DUE,
                                                                        RuleId.SECOND_OPINION}),
        (date(1980, 6, 1), [], [FailedBooking(date(2025, 2, 25), "кардиолог")], {RuleId.DISPANSERIZATION_DUE,
                                                                                RuleId.BOOKING_FAILED}),
        (date(1980, 6, 1), [], [FailedBooking(date(2025, 1, 25), "кардиолог")], {RuleId.DISPANSERIZATION_DUE}),
    ],
)  # fmt: skip
def test_representative_rules(
    born: date, services: list[BilledService], failed: list[FailedBooking], rules: set[RuleId]
) -> None:
    facts = Facts(today=TODAY, birth_date=born, services=services, failed_bookings=failed, insurer_phone="8-800")
    advice = advise(facts)
    assert {a.rule for a in advice} == rules
    for a in advice:
        assert a.citation and a.period_key and a.text
        assert "I10" not in a.notice and "гипертенз" not in a.notice and "диабет" not in a.notice


@given(st.dates(min_value=date(1930, 1, 1), max_value=date(2007, 1, 1)))
def test_dispanserization_every_three_years_until_39_then_yearly(born: date) -> None:
    facts = Facts(today=TODAY, birth_date=born)
    (advice,) = [a for a in advise(facts) if a.rule is RuleId.DISPANSERIZATION_DUE]
    age = TODAY.year - born.year
    assert advice.details["kind"] == ("full" if age >= 40 or (age - 18) % 3 == 0 else "preventive")
    assert advice.period_key == "2025"
