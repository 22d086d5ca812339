"""The virtual insurance representative's rules: pure functions from a person's facts to messages.

Each :class:`Rule` looks at :class:`Facts` (age, the billed services of the last years, recent failed
bookings, the insurer's hotline) and returns at most one :class:`Advice`: a personal message that cites
the norm it rests on and names its period (``period_key``): the service sends one message per person,
rule and period (:mod:`backend.insurance.service.representative`), never during quiet hours, and the person
may dismiss it.

The rules (each cites its source in :attr:`Advice.citation`):

* ``dispanserization_due`` — the dispanserization (or, at 18–39 in the years between, the preventive
  exam) due this year by age: every 3 years at 18–39, every year from 40 (приказ Минздрава России от
  27.04.2021 № 404н); not when a dispanserization was billed this year. Adults only (children's exams
  follow приказ 514н and are booked by the clinic);
* ``dispensary_overdue`` — a diagnosis under dispensary follow-up (hypertension, ischaemic heart disease,
  type 2 diabetes, COPD, asthma, atrial fibrillation, heart failure) seen in the last 3 years but with no
  visit for more than a year (приказ Минздрава России от 15.03.2022 № 168н: at least once a year);
* ``free_drugs`` — a diagnosis that carries a right to free drugs: diabetes (ПП РФ от 30.07.1994 № 890),
  or an infarction or stroke in the last 2 years (приказ Минздрава России от 09.01.2020 № 1н);
* ``second_opinion`` — an oncological diagnosis in the last year: the right to consultations of
  specialists (323-ФЗ art. 19 ч. 5 п. 3) and to a consilium;
* ``booking_failed`` — a booking that failed for lack of slots in the last 14 days: the insurer's
  hotline, which must help get care within the waiting times of the state guarantee programme.

The notification sent for a message never names a diagnosis (it may reach a lock screen): its text is the
:attr:`Advice.notice`, the full text is read in the app.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from integrations.erzl import BilledService, CareKind

YEAR = timedelta(days=365)


class RuleId(enum.StrEnum):
    DISPANSERIZATION_DUE = "dispanserization_due"
    DISPENSARY_OVERDUE = "dispensary_overdue"
    FREE_DRUGS = "free_drugs"
    SECOND_OPINION = "second_opinion"
    BOOKING_FAILED = "booking_failed"


@dataclass(frozen=True, slots=True)
class FailedBooking:
    on: date
    specialty: str  # Russian, as the person searched it


@dataclass(frozen=True, slots=True)
class Facts:
    today: date
    birth_date: date
    services: Sequence[BilledService] = ()
    failed_bookings: Sequence[FailedBooking] = ()
    insurer_name: str | None = None
    insurer_phone: str | None = None

    def age_at_year_end(self) -> int:
        """The age the person reaches in this calendar year (404н counts by it)."""
        return self.today.year - self.birth_date.year


@dataclass(frozen=True, slots=True)
class Advice:
    rule: RuleId
    period_key: str  # one message per (person, rule, period)
    title: str
    text: str
    citation: str
    notice: str  # the notification's text: no diagnosis
    details: dict[str, str] = field(default_factory=dict)


Rule = Callable[[Facts], "Advice | None"]

DISPENSARY_GROUPS: dict[str, str] = {
    "I10": "артериальная гипертензия", "I11": "артериальная гипертензия", "I12": "артериальная гипертензия",
    "I13": "артериальная гипертензия", "I15": "артериальная гипертензия",
    "I20": "ишемическая болезнь сердца", "I25": "ишемическая болезнь сердца",
    "E11": "сахарный диабет 2 типа", "J44": "хроническая обструктивная болезнь легких", "J45": "бронхиальная астма",
    "I48": "фибрилляция предсердий", "I50": "хроническая сердечная недостаточность",
}  # fmt: skip


def _group(code: str) -> str:
    return code.split(".", maxsplit=1)[0].upper()


def dispanserization_due(facts: Facts) -> Advice | None:
    age = facts.age_at_year_end()
    if age < 18:
        return None
    year = facts.today.year
    if any(s.care_kind is CareKind.DISPANSERIZATION and s.service_date.year == year for s in facts.services):
        return None
    full = age >= 40 or (age - 18) % 3 == 0
    what = "диспансеризацию" if full else "профилактический медицинский осмотр"
    return Advice(
        rule=RuleId.DISPANSERIZATION_DUE,
        period_key=str(year),
        title="Пора пройти диспансеризацию" if full else "Пора пройти профилактический осмотр",
        text=(
            f"В {year} году вам исполняется {age} и по полису ОМС вы можете бесплатно пройти {what} в своей "
            "поликлинике. Записаться можно в приложении или по телефону 122."
        ),
        citation="Приказ Минздрава России от 27.04.2021 № 404н: диспансеризация раз в 3 года в 18–39 лет, "
        "ежегодно с 40 лет; профилактический осмотр ежегодно",
        notice=f"Страховой представитель: в {year} году вы можете бесплатно пройти {what} по полису ОМС. "
        "Подробности в приложении «Мое здоровье».",
        details={"age": str(age), "kind": "full" if full else "preventive"},
    )


def dispensary_overdue(facts: Facts) -> Advice | None:
    last: dict[str, date] = {}
    for s in facts.services:
        group = _group(s.diagnosis_code)
        if group in DISPENSARY_GROUPS and s.service_date >= facts.today - 3 * YEAR:
            last[group] = max(last.get(group, s.service_date), s.service_date)
    overdue = sorted((d, g) for g, d in last.items() if facts.today - d > YEAR)
    if not overdue:
        return None
    seen, group = overdue[0]
    return Advice(
        rule=RuleId.DISPENSARY_OVERDUE,
        period_key=str(facts.today.year),
        title="Пора на диспансерный прием",
        text=(
            f"По вашему диагнозу ({DISPENSARY_GROUPS[group]}) положено диспансерное наблюдение не реже раза в год, "
            f"а последний прием был {seen:%d.%m.%Y}. Запишитесь к своему врачу: прием бесплатный по полису ОМС."
        ),
        citation="Приказ Минздрава России от 15.03.2022 № 168н «Об утверждении порядка проведения диспансерного "
        "наблюдения за взрослыми»",
        notice="Страховой представитель: пора на плановый прием к врачу. Подробности в приложении «Мое здоровье».",
        details={"last_visit": seen.isoformat()},
    )


def free_drugs(facts: Facts) -> Advice | None:
    codes = {(_group(s.diagnosis_code), s.service_date) for s in facts.services}
    if any(g in {"E10", "E11", "E13", "E14"} for g, _ in codes):
        text = (
            "При сахарном диабете лекарства и средства контроля глюкозы по рецепту врача положены бесплатно. "
            "Спросите о них своего врача."
        )
        citation = "Постановление Правительства РФ от 30.07.1994 № 890 (перечень категорий заболеваний)"
    elif any(g in {"I21", "I22", "I63", "I64"} and facts.today - d <= 2 * YEAR for g, d in codes):
        text = (
            "После инфаркта или инсульта два года лекарства по рецепту врача положены бесплатно. "
            "Спросите о них своего врача."
        )
        citation = "Приказ Минздрава России от 09.01.2020 № 1н (лекарственное обеспечение после ОКС и ОНМК)"
    else:
        return None
    return Advice(
        rule=RuleId.FREE_DRUGS,
        period_key=str(facts.today.year),
        title="Вам положены бесплатные лекарства",
        text=text,
        citation=citation,
        notice="Страховой представитель: у вас может быть право на бесплатные лекарства. Подробности в приложении.",
    )


def second_opinion(facts: Facts) -> Advice | None:
    recent = [s for s in facts.services if _group(s.diagnosis_code)[:1] == "C" and facts.today - s.service_date <= YEAR]
    if not recent:
        return None
    return Advice(
        rule=RuleId.SECOND_OPINION,
        period_key=str(facts.today.year),
        title="Право на консультацию другого специалиста",
        text=(
            "Вы вправе получить консультацию другого врача-специалиста и обсуждение лечения на консилиуме "
            "бесплатно по полису ОМС. Страховой представитель поможет с направлением."
        ),
        citation="Федеральный закон № 323-ФЗ, ст. 19 ч. 5 п. 3 (право на консультации врачей-специалистов)",
        notice="Страховой представитель: о вашем праве на консультацию специалиста. Подробности в приложении.",
    )


def booking_failed(facts: Facts) -> Advice | None:
    recent = [b for b in facts.failed_bookings if facts.today - b.on <= timedelta(days=14)]
    if not recent:
        return None
    week = facts.today.isocalendar()
    hotline = facts.insurer_phone or "указан в полисе"
    insurer = facts.insurer_name or "ваша страховая компания"
    return Advice(
        rule=RuleId.BOOKING_FAILED,
        period_key=f"{week.year}-W{week.week:02d}",
        title="Не удалось записаться к врачу?",
        text=(
            f"Не нашлось свободного времени ({recent[-1].specialty}). {insurer} обязана помочь получить помощь в "
            f"сроки программы госгарантий: позвоните на горячую линию {hotline}."
        ),
        citation="Федеральный закон № 326-ФЗ, ст. 16 ч. 1 (защита прав застрахованных); программа государственных "
        "гарантий бесплатного оказания медицинской помощи (сроки ожидания)",
        notice=f"Страховой представитель: не удалось записаться к врачу? Горячая линия страховой: {hotline}.",
    )


RULES: tuple[Rule, ...] = (dispanserization_due, dispensary_overdue, free_drugs, second_opinion, booking_failed)


def advise(facts: Facts, rules: Sequence[Rule] = RULES) -> list[Advice]:
    """Every message the rules give for ``facts`` (at most one per rule)."""
    return [advice for rule in rules if (advice := rule(facts)) is not None]
