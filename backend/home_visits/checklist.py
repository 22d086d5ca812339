"""The reasons for a home visit and the symptoms checklist that routes an emergency to 103 / 112.

The emergency signs follow the public guidance of the ambulance service (when to call 103 rather than a
district doctor: chest pain, difficulty breathing, loss of consciousness, signs of a stroke, severe
bleeding, seizures, severe trauma or poisoning, fever in an infant, fever with a rash that does not fade).
Any of them answered "yes" means no home visit is created: the person is told to call 103 (112 from a
mobile) at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    label: str


@dataclass(frozen=True)
class Symptom:
    code: str
    label: str
    emergency: bool


REASONS: tuple[Reason, ...] = (
    Reason("fever", "Повышенная температура"),
    Reason("respiratory", "Симптомы ОРВИ: кашель, насморк, боль в горле"),
    Reason("pain", "Боль без признаков угрозы жизни (головная, в спине, в суставах)"),
    Reason("chronic", "Обострение хронического заболевания"),
    Reason("cannot_walk", "Не могу прийти в поликлинику по состоянию здоровья"),
    Reason("sick_leave", "Нужен листок нетрудоспособности (больничный)"),
    Reason("other", "Другое (опишите)"),
)
REASON_LABELS = {r.code: r.label for r in REASONS}

SYMPTOMS: tuple[Symptom, ...] = (
    Symptom("chest_pain", "Боль или давление в груди", True),
    Symptom("breathing", "Затруднённое дыхание, удушье, посинение губ", True),
    Symptom("unconscious", "Потеря сознания или спутанность сознания", True),
    Symptom("stroke_signs", "Онемение или слабость половины тела, нарушение речи, асимметрия лица", True),
    Symptom("bleeding", "Сильное кровотечение", True),
    Symptom("seizures", "Судороги", True),
    Symptom("trauma", "Тяжёлая травма, отравление или ожог", True),
    Symptom("infant_fever", "Температура у ребёнка младше 3 месяцев", True),
    Symptom("fever_rash", "Температура с сыпью, которая не бледнеет при надавливании", True),
    Symptom("fever", "Температура выше 38 °C", False),
    Symptom("cough", "Кашель", False),
    Symptom("sore_throat", "Боль в горле", False),
    Symptom("runny_nose", "Насморк", False),
    Symptom("headache", "Головная боль", False),
    Symptom("weakness", "Слабость, ломота в теле", False),
    Symptom("nausea", "Тошнота, расстройство стула", False),
)
SYMPTOMS_BY_CODE = {s.code: s for s in SYMPTOMS}


def unknown(codes: Iterable[str]) -> list[str]:
    return [c for c in codes if c not in SYMPTOMS_BY_CODE]


def emergencies(codes: Iterable[str]) -> list[Symptom]:
    """The emergency signs among the answers (empty: a home visit may be called)."""
    return [SYMPTOMS_BY_CODE[c] for c in codes if c in SYMPTOMS_BY_CODE and SYMPTOMS_BY_CODE[c].emergency]
