"""``Date`` and ``DateTime`` as the API accepts them: bounded years, and a time zone on every moment.

Strawberry's own scalars accept any year Python can hold and naive datetimes; the domains then meet
``9999-12-31 + 13 days`` or a naive ``before`` deep inside a query and fail as internal errors. These
overrides keep the scalars' names, descriptions and output (the contract does not change) and refuse such
input where it enters, with a typed Russian error (``INVALID_INPUT``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from strawberry.types.scalar import ScalarDefinition

from backend.api.problems import PublicError

INVALID_INPUT = "INVALID_INPUT"
MIN_YEAR, MAX_YEAR = 1900, 2100

DATE_MESSAGE = "Дата должна быть в формате ГГГГ-ММ-ДД, например 2026-03-01."
DATETIME_MESSAGE = "Дата и время должны быть в формате ISO 8601 с часовым поясом, например 2026-03-01T09:00:00+03:00."
NAIVE_MESSAGE = "Укажите часовой пояс у даты и времени, например 2026-03-01T09:00:00+03:00."
RANGE_MESSAGE = f"Дата вне допустимого диапазона ({MIN_YEAR}–{MAX_YEAR} годы)."


class InvalidValue(PublicError):
    """An input value the API does not accept; its message is for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=INVALID_INPUT)


def _in_range(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidValue(RANGE_MESSAGE)


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise InvalidValue(DATE_MESSAGE)
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(DATE_MESSAGE) from None
    _in_range(parsed.year)
    return parsed


def parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise InvalidValue(DATETIME_MESSAGE)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise InvalidValue(DATETIME_MESSAGE) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidValue(NAIVE_MESSAGE)
    _in_range(parsed.year)
    return parsed


def _isoformat(value: Any) -> str:
    text: str = value.isoformat()
    return text


DATE = ScalarDefinition(
    name="Date",
    description="Date (isoformat)",
    specified_by_url=None,
    serialize=_isoformat,
    parse_value=parse_date,
    parse_literal=None,
    origin=dt.date,
)
DATETIME = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=_isoformat,
    parse_value=parse_datetime,
    parse_literal=None,
    origin=dt.datetime,
)

#: For ``strawberry.Schema(scalar_overrides=…)``.
SCALAR_OVERRIDES: dict[object, Any] = {dt.date: DATE, dt.datetime: DATETIME}
