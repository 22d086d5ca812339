"""Who is due for dispanserization or a preventive exam, the questionnaire, and the first stage's
examinations: versioned data, each item citing the clause of the order it comes from.

The order: «Порядок проведения профилактического медицинского осмотра и диспансеризации определенных
групп взрослого населения», утвержденный приказом Минздрава России от 27.04.2021 № 404н (в ред. приказов
Минздрава России от 01.07.2021 № 698н и от 28.09.2023 № 515н). Cited below as «Порядок» with its clause
(п.) and sub-clause (пп.), and its appendices as «Прил.».

* Periodicity (Порядок, п. 4 and п. 5): a preventive exam (профилактический медицинский осмотр, ПМО) every
  year from 18; dispanserization once in three years at 18-39 (18, 21, 24, …, 39) and every year from 40.
  The age is the one reached in the calendar year of the exam (the year's birthday counts).
* The preventive exam (Порядок, п. 16): the questionnaire (пп. 1), anthropometry and BMI (пп. 2), blood
  pressure (пп. 3), total cholesterol (пп. 4), fasting glucose (пп. 5), cardiovascular risk (пп. 6-7),
  fluorography once in two years (пп. 8), ECG at the first exam and from 35 every year (пп. 9), intraocular
  pressure at the first exam and from 40 every year (пп. 10), a woman's exam by a feldsher (midwife) or an
  obstetrician-gynaecologist at 18-39 every year (пп. 11), brief counselling (пп. 12), the therapist
  (пп. 13).
* The first stage of dispanserization (Порядок, п. 17): the preventive exam in the scope of п. 16 пп. 1-10,
  from 40 the complete blood count (п. 17 пп. 2 «б»), the cancer screening of Прил. № 2, brief counselling and
  the therapist's exam.
* Cancer screening (Прил. № 2): women 18-64 a cervical smear once in three years (п. 1 «а»), women 40-75 a
  mammography once in two years (п. 1 «б»); men at 45, 50, 55, 60 and 64 the PSA (п. 2); 40-64 the faecal
  occult blood test once in two years and 65-75 every year (п. 3); at 45 an oesophagogastroduodenoscopy
  (п. 4).

The questionnaire follows п. 16 пп. 1: anamnesis and heredity, complaints typical of angina, a transient
ischaemic attack or stroke, COPD and digestive diseases, and the risk factors (smoking, harmful drinking,
drugs without prescription, low physical activity, unhealthy diet). Its answers decide the first stage's
periodic items (when the fluorography, the mammography, the smear or the occult blood test was last done;
whether an ECG or intraocular pressure was ever measured at such an exam) and raise flags the therapist
reads at the end of the day (possible referral to the second stage, Порядок, п. 18).

What is ours (the order does not say): which room of the polyclinic performs which item (``resource``), and
the order of the day (``ORDER``: blood first while fasting, the therapist last). Children are out of scope
(their exams follow another order, № 514н).

When the order changes, add a new ``RULES_VERSION`` and keep the old answers readable: a questionnaire
stores the version it was answered under.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any

RULES_VERSION = "404н-2023"
ORDER_CITATION = (
    "Приказ Минздрава России от 27.04.2021 № 404н «Об утверждении Порядка проведения профилактического "
    "медицинского осмотра и диспансеризации определенных групп взрослого населения» (в ред. приказов "
    "от 01.07.2021 № 698н и от 28.09.2023 № 515н)"
)

ADULT_AGE = 18

# Bookable resources of an adult polyclinic (integrations/demo_region: PREVENTION_ROOMS), by the hub's
# specialty code; None: done during another visit or by the therapist's referral (not booked).
PREVENTION_ROOM = "9001"
ECG_ROOM = "9002"
FLUOROGRAPHY_ROOM = "9003"
MAMMOGRAPHY_ROOM = "9004"
TREATMENT_ROOM = "9005"
ENDOSCOPY_ROOM = "9006"
GYNAECOLOGIST = "2"
THERAPIST = "76"

#: The order of the day, by resource: blood samples fasting first, then the ЭГДС (also fasting), the
#: therapist last.
ORDER: tuple[str, ...] = (
    TREATMENT_ROOM,
    ENDOSCOPY_ROOM,
    PREVENTION_ROOM,
    ECG_ROOM,
    FLUOROGRAPHY_ROOM,
    MAMMOGRAPHY_ROOM,
    GYNAECOLOGIST,
    THERAPIST,
)


class ExamKind(enum.StrEnum):
    DISPANSERIZATION = "dispanserization"  # диспансеризация, первый этап
    PREVENTIVE = "preventive"  # профилактический медицинский осмотр


@dataclass(frozen=True)
class Exam:
    code: str
    name: str  # Russian, as the patient reads it
    resource: str | None  # the specialty code of the room or doctor that performs it
    citation: str


EXAMS: dict[str, Exam] = {
    e.code: e
    for e in (
        Exam("questionnaire", "Анкетирование", None, "Порядок, п. 16 пп. 1"),
        Exam(
            "prevention",
            "Антропометрия, давление, холестерин и глюкоза, сердечно-сосудистый риск, консультирование",
            PREVENTION_ROOM,
            "Порядок, п. 16 пп. 2-7, 12",
        ),
        Exam("iop", "Измерение внутриглазного давления", PREVENTION_ROOM, "Порядок, п. 16 пп. 10"),
        Exam("fluorography", "Флюорография легких", FLUOROGRAPHY_ROOM, "Порядок, п. 16 пп. 8"),
        Exam("ecg", "Электрокардиография в покое", ECG_ROOM, "Порядок, п. 16 пп. 9"),
        Exam(
            "woman_exam",
            "Осмотр акушером-гинекологом (фельдшером, акушеркой)",
            GYNAECOLOGIST,
            "Порядок, п. 16 пп. 11",
        ),
        Exam("cervical_smear", "Мазок с шейки матки, цитология", GYNAECOLOGIST, "Порядок, Прил. № 2, п. 1 «а»"),
        Exam("mammography", "Маммография обеих молочных желез", MAMMOGRAPHY_ROOM, "Порядок, Прил. № 2, п. 1 «б»"),
        Exam("psa", "Простатспецифический антиген (ПСА) в крови", TREATMENT_ROOM, "Порядок, Прил. № 2, п. 2"),
        Exam("fobt", "Исследование кала на скрытую кровь", TREATMENT_ROOM, "Порядок, Прил. № 2, п. 3"),
        # At 45 the ЭГДС is a first-stage item (the cancer screening of Прил. № 2, п. 4, which п. 17 includes), booked
        # with the plan in the endoscopy room; an ЭГДС of the second stage, on the therapist's referral (п. 18),
        # is another matter (the therapist's flags).
        Exam("egds", "Эзофагогастродуоденоскопия (ЭГДС)", ENDOSCOPY_ROOM, "Порядок, п. 17; Прил. № 2, п. 4"),
        Exam("cbc", "Общий анализ крови", TREATMENT_ROOM, "Порядок, п. 17 пп. 2 «б»"),
        Exam("therapist", "Прием врача-терапевта по итогам", THERAPIST, "Порядок, п. 16 пп. 13; п. 17"),
    )
}


def age_in_year(birth_date: date, year: int) -> int:
    """The age reached in ``year`` (the year's birthday counts)."""
    return year - birth_date.year


def eligibility(birth_date: date, year: int) -> ExamKind | None:
    """Порядок, п. 4-5: dispanserization at 18-39 every third year (18, 21, …) and yearly from 40; otherwise the
    yearly preventive exam from 18; None under 18."""
    age = age_in_year(birth_date, year)
    if age < ADULT_AGE:
        return None
    if age >= 40 or (age - ADULT_AGE) % 3 == 0:
        return ExamKind.DISPANSERIZATION
    return ExamKind.PREVENTIVE


def next_dispanserization_year(birth_date: date, year: int) -> int:
    """The first year from ``year`` in which dispanserization is due."""
    y = max(year, birth_date.year + ADULT_AGE)
    while eligibility(birth_date, y) is not ExamKind.DISPANSERIZATION:
        y += 1
    return y


# -- the questionnaire ---------------------------------------------------------------------------------


class AnswerType(enum.StrEnum):
    YES_NO = "yes_no"
    YEAR = "year"  # a year, or nothing for "never / don't know"


@dataclass(frozen=True)
class Question:
    code: str
    text: str
    answer_type: AnswerType
    topic: str  # what п. 16 пп. 1 asks it for
    flag: str | None = None  # the flag a "yes" raises for the therapist
    only_sex: str | None = None  # "F" / "M": asked only of women / men


QUESTIONS: tuple[Question, ...] = (
    Question(
        "chest_pain",
        "Бывает ли у вас боль или давление в груди при ходьбе или нагрузке, проходящие в покое?",
        AnswerType.YES_NO,
        "стенокардия",
        "Жалобы, характерные для стенокардии",
    ),
    Question(
        "tia",
        "Бывали ли внезапная слабость или онемение руки, ноги, половины лица, нарушение речи или зрения?",
        AnswerType.YES_NO,
        "транзиторная ишемическая атака, инсульт",
        "Симптомы перенесенной ТИА или инсульта",
    ),
    Question(
        "cough",
        "Бывает ли у вас кашель с мокротой или одышка при обычной нагрузке?",
        AnswerType.YES_NO,
        "хроническая обструктивная болезнь легких",
        "Жалобы, характерные для ХОБЛ",
    ),
    Question(
        "digestion",
        "Бывают ли боли в животе, изжога, кровь в кале, беспричинное похудание?",
        AnswerType.YES_NO,
        "заболевания желудочно-кишечного тракта",
        "Жалобы со стороны желудочно-кишечного тракта",
    ),
    Question(
        "heredity",
        "Были ли у ваших родителей, братьев или сестер инфаркт, инсульт или онкологические заболевания?",
        AnswerType.YES_NO,
        "отягощенная наследственность",
        "Отягощенная наследственность",
    ),
    Question("smoking", "Вы курите (в том числе электронные сигареты)?", AnswerType.YES_NO, "курение", "Курение"),
    Question(
        "alcohol",
        "Выпиваете ли вы 6 и более порций алкоголя за один раз хотя бы раз в месяц?",
        AnswerType.YES_NO,
        "риск пагубного потребления алкоголя",
        "Риск пагубного потребления алкоголя",
    ),
    Question(
        "drugs",
        "Принимали ли вы наркотические или психотропные вещества без назначения врача?",
        AnswerType.YES_NO,
        "потребление наркотических средств без назначения врача",
        "Потребление наркотических или психотропных веществ",
    ),
    Question(
        "low_activity",
        "Вы ходите пешком менее 30 минут в день?",
        AnswerType.YES_NO,
        "низкая физическая активность",
        "Низкая физическая активность",
    ),
    Question(
        "diet",
        "Вы едите меньше 400 г овощей и фруктов в день или досаливаете готовую еду?",
        AnswerType.YES_NO,
        "нерациональное питание",
        "Нерациональное питание",
    ),
    Question("last_fluorography", "В каком году вы последний раз делали флюорографию?", AnswerType.YEAR, "пп. 8"),
    Question(
        "had_ecg", "Делали ли вам ЭКГ на профилактическом осмотре раньше?", AnswerType.YES_NO, "пп. 9: при первом"
    ),
    Question(
        "had_iop",
        "Измеряли ли вам внутриглазное давление на профилактическом осмотре раньше?",
        AnswerType.YES_NO,
        "пп. 10: при первом",
    ),
    Question(
        "last_mammography",
        "В каком году вы последний раз делали маммографию?",
        AnswerType.YEAR,
        "Прил. № 2, п. 1 «б»",
        only_sex="F",
    ),
    Question(
        "last_smear",
        "В каком году у вас последний раз брали мазок с шейки матки?",
        AnswerType.YEAR,
        "Прил. № 2, п. 1 «а»",
        only_sex="F",
    ),
    Question(
        "last_fobt",
        "В каком году вы последний раз сдавали анализ кала на скрытую кровь?",
        AnswerType.YEAR,
        "Прил. № 2, п. 3",
    ),
)
QUESTIONS_BY_CODE = {q.code: q for q in QUESTIONS}


def questions_for(sex: str) -> list[Question]:
    return [q for q in QUESTIONS if q.only_sex is None or q.only_sex == sex]


class AnswerError(ValueError):
    """An answer that is not one of the questionnaire's (``field``, Russian ``message``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def validate_answers(raw: dict[str, Any], *, sex: str, year: int) -> dict[str, Any]:
    """The answers normalised (bool for yes/no, int or None for a year); raises :class:`AnswerError`."""
    allowed = {q.code: q for q in questions_for(sex)}
    answers: dict[str, Any] = {}
    for code, value in raw.items():
        question = allowed.get(code)
        if question is None:
            raise AnswerError(code, "В анкете нет такого вопроса.")
        if question.answer_type is AnswerType.YES_NO:
            if not isinstance(value, bool):
                raise AnswerError(code, "Ответьте «да» или «нет».")
            answers[code] = value
        else:
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or not 1950 <= value <= year
            ):
                raise AnswerError(code, f"Укажите год от 1950 до {year} или оставьте пустым.")
            answers[code] = value
    # The health questions must be answered; the ones about earlier exams may be left out (not known: as
    # if never done, so the exam is planned).
    missing = [q.code for q in allowed.values() if q.flag is not None and q.code not in answers]
    if missing:
        raise AnswerError(missing[0], "Ответьте на этот вопрос анкеты.")
    return answers


# -- the first stage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageOne:
    kind: ExamKind
    age: int
    exams: list[Exam]  # in the order of the day
    flags: list[str]  # for the therapist (possible second stage, Порядок, п. 18)


def _due(last_year: Any, year: int, every: int) -> bool:
    return not isinstance(last_year, int) or year - last_year >= every


def _preventive_items(age: int, sex: str, year: int, a: dict[str, Any]) -> list[str]:
    """Порядок, п. 16 пп. 8-11: the periodic items of the preventive exam."""
    codes: list[str] = []
    if _due(a.get("last_fluorography"), year, 2):
        codes.append("fluorography")
    if not a.get("had_ecg") or age >= 35:
        codes.append("ecg")
    if not a.get("had_iop") or age >= 40:
        codes.append("iop")
    if sex == "F" and age < 40:
        codes.append("woman_exam")
    return codes


def _screening_items(age: int, sex: str, year: int, a: dict[str, Any]) -> list[str]:
    """Порядок, п. 17 пп. 2 «б» and Прил. № 2: the complete blood count and the cancer screening."""
    codes: list[str] = []
    if age >= 40:
        codes.append("cbc")
    if sex == "F" and age <= 64 and _due(a.get("last_smear"), year, 3):
        codes.append("cervical_smear")
    if sex == "F" and 40 <= age <= 75 and _due(a.get("last_mammography"), year, 2):
        codes.append("mammography")
    if sex == "M" and age in (45, 50, 55, 60, 64):
        codes.append("psa")
    if (40 <= age <= 64 and _due(a.get("last_fobt"), year, 2)) or 65 <= age <= 75:
        codes.append("fobt")
    if age == 45:
        codes.append("egds")
    return codes


def stage_one(birth_date: date, sex: str, year: int, answers: dict[str, Any] | None = None) -> StageOne | None:
    """The first stage's examinations for a person in ``year`` from the answers (no answers: everything the
    age and sex call for, as for a first exam). None under 18."""
    kind = eligibility(birth_date, year)
    if kind is None:
        return None
    a = answers or {}
    age = age_in_year(birth_date, year)
    codes: list[str] = ["questionnaire", "prevention", *_preventive_items(age, sex, year, a)]
    if kind is ExamKind.DISPANSERIZATION:
        codes += _screening_items(age, sex, year, a)
    codes.append("therapist")
    exams = [EXAMS[c] for c in dict.fromkeys(codes)]
    flags = [q.flag for q in QUESTIONS if q.flag and a.get(q.code) is True]
    return StageOne(kind, age, exams, flags)


def bookable_steps(exams: list[Exam]) -> list[tuple[str, list[Exam]]]:
    """The visits of the day: (resource, the exams done there), in :data:`ORDER`; one visit per resource."""
    by_resource: dict[str, list[Exam]] = {}
    for exam in exams:
        if exam.resource is not None:
            by_resource.setdefault(exam.resource, []).append(exam)
    return [(r, by_resource[r]) for r in ORDER if r in by_resource]
