"""The questions asked after a visit, as data (versioned: an answer keeps the version it answered).

Sources (the services catalogue, ``shared/reference/services.md``):

* §18 «Оценка удовлетворенности граждан качеством работы медицинской организации»: rating the work of a
  medical organisation in ЛК «Мое здоровье» (document 004, the list of ЛК services), hence ``quality``;
* the survey blocks of document 001, section XI, for the omnichannel booking service (ЕПГУ, 122, инфомат):
  «Какие сервисы записи к врачу Вы … используете?» (``booking_channel``), «Оцените простоту, понятность
  сервисов записи к врачу» (``booking_ease``), «Какими сервисами готовы пользоваться в будущем, какие
  готовы рекомендовать другим людям?» (``future_use``, ``recommend``); the catalogue's note that nearly
  every block asks "ready to use it in the future? to recommend it?";
* a free comment, optional.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERSION = "2026-1"


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: str  # scale (1–5), choice, yes_no, text
    required: bool = True
    options: tuple[Option, ...] = field(default=())
    source: str = ""


SCALE = tuple(
    Option(str(n), label) for n, label in enumerate(("очень плохо", "плохо", "нормально", "хорошо", "отлично"), 1)
)
CHANNELS = (
    Option("epgu", "Госуслуги или приложение «Мое здоровье»"),
    Option("callcentre", "Телефон 122"),
    Option("kiosk", "Инфомат в поликлинике"),
    Option("registry", "Регистратура"),
    Option("doctor", "Записал врач"),
)

QUESTIONS: tuple[Question, ...] = (
    Question(
        "quality",
        "Оцените качество работы медицинской организации на этом приёме",
        "scale",
        options=SCALE,
        source="services.md §18; 004: оценка удовлетворённости граждан качеством работы медицинских организаций",
    ),
    Question(
        "booking_ease",
        "Оцените простоту и удобство записи на этот приём",
        "scale",
        options=SCALE,
        source="001, раздел XI, омниканальный сервис записи: «Оцените простоту, понятность сервисов записи»",
    ),
    Question(
        "booking_channel",
        "Как вы записались на этот приём?",
        "choice",
        options=CHANNELS,
        source="001, раздел XI: «Какие сервисы записи к врачу Вы знаете? Какие используете?»",
    ),
    Question(
        "future_use",
        "Будете ли вы записываться к врачу так же и в будущем?",
        "yes_no",
        source="001, раздел XI: «Какими сервисами готовы пользоваться в будущем»",
    ),
    Question(
        "recommend",
        "Готовы ли вы рекомендовать эту поликлинику знакомым?",
        "yes_no",
        source="001, раздел XI: «…какие готовы рекомендовать другим людям?»",
    ),
    Question("comment", "Что можно улучшить? (необязательно)", "text", required=False),
)

COMMENT_MAX = 1000
