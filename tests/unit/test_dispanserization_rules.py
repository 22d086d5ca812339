"""The dispanserization rules as data (Приказ Минздрава России № 404н): who is due by age and year, and the
first stage's examinations from age, sex and the questionnaire's answers."""

from __future__ import annotations

from datetime import date

import pytest

from backend.dispanserization import rules


@pytest.mark.parametrize(
    ("born", "year", "kind"),
    [
        (date(2008, 12, 31), 2025, None),  # 17 in 2025
        (date(2007, 12, 31), 2025, rules.ExamKind.DISPANSERIZATION),  # 18 in 2025: the birthday's year counts
        (date(2006, 1, 1), 2025, rules.ExamKind.PREVENTIVE),  # 19
        (date(2004, 6, 1), 2025, rules.ExamKind.DISPANSERIZATION),  # 21
        (date(1986, 6, 1), 2025, rules.ExamKind.DISPANSERIZATION),  # 39
        (date(1987, 6, 1), 2025, rules.ExamKind.PREVENTIVE),  # 38
        (date(1985, 6, 1), 2025, rules.ExamKind.DISPANSERIZATION),  # 40: every year from here
        (date(1984, 6, 1), 2025, rules.ExamKind.DISPANSERIZATION),  # 41
    ],
)
def test_eligibility_by_age_in_the_year(born: date, year: int, kind: rules.ExamKind | None) -> None:
    assert rules.eligibility(born, year) is kind


def test_next_dispanserization_year() -> None:
    assert rules.next_dispanserization_year(date(2006, 1, 1), 2025) == 2027  # 19 → 21
    assert rules.next_dispanserization_year(date(1980, 1, 1), 2025) == 2025


def _codes(stage: rules.StageOne | None) -> list[str]:
    assert stage is not None
    return [e.code for e in stage.exams]


def test_first_stage_without_answers_is_a_first_exam() -> None:
    woman_41 = _codes(rules.stage_one(date(1984, 5, 17), "F", 2025))
    assert woman_41 == [
        "questionnaire", "prevention", "fluorography", "ecg", "iop", "cbc", "cervical_smear", "mammography",
        "fobt", "therapist",
    ]  # fmt: skip
    man_45 = _codes(rules.stage_one(date(1980, 5, 17), "M", 2025))
    assert {"psa", "egds", "fobt", "cbc"} <= set(man_45) and "mammography" not in man_45
    young_man = _codes(rules.stage_one(date(2004, 5, 17), "M", 2025))  # 21: dispanserization, no screening
    assert young_man == ["questionnaire", "prevention", "fluorography", "ecg", "iop", "therapist"]


def test_answers_take_out_what_was_done_recently_and_raise_flags() -> None:
    answers = rules.validate_answers(
        {
            **{q.code: False for q in rules.QUESTIONS if q.flag},
            "cough": True,
            "had_ecg": True,
            "had_iop": True,
            "last_fluorography": 2024,
            "last_smear": 2023,
        },
        sex="F",
        year=2025,
    )
    stage = rules.stage_one(date(1994, 5, 17), "F", 2025, answers)  # 31: the preventive exam
    assert stage is not None and stage.kind is rules.ExamKind.PREVENTIVE
    assert _codes(stage) == ["questionnaire", "prevention", "woman_exam", "therapist"]
    assert stage.flags == ["Жалобы, характерные для ХОБЛ"]
    steps = rules.bookable_steps(stage.exams)
    assert [code for code, _ in steps] == [rules.PREVENTION_ROOM, rules.GYNAECOLOGIST, rules.THERAPIST]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"unknown": True}, "unknown"),
        ({"smoking": "да"}, "smoking"),
        ({"last_fluorography": 1900}, "last_fluorography"),
        ({"last_mammography": 2020}, "last_mammography"),  # asked of women only
        ({}, "chest_pain"),  # a health question left out
    ],
)
def test_bad_answers_are_refused_with_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(rules.AnswerError) as exc:
        rules.validate_answers(raw, sex="M", year=2025)
    assert exc.value.field == field and exc.value.message


def test_every_exam_cites_the_order() -> None:
    assert all(e.citation.startswith("Порядок") for e in rules.EXAMS.values())
    assert "№ 404н" in rules.ORDER_CITATION and "№ 515н" in rules.ORDER_CITATION
