"""A clinic's opening hours: the hub's ``WorkTime`` text parsed into a week, and what is true at a moment.

Where the hours come from: the N3 HubService's ``GetLPUInfo(idLpu, guid)`` →
``LpuInformationResult { LpuCollection: LpuInfo[] { Address, …, Phone, …, WorkTime } }`` (IHubService.cs,
HubServiceContractClasses.cs of the public N3 client; ``GetLPUList``'s ``Clinic`` has no hours, and the ФРМО
book in ФНСИ publishes registration data, not hours). ``WorkTime`` is a free string whose format the contract
does not fix (**unconfirmed**), so :func:`parse_work_time` reads the way registries write it in Russian:

    «Пн-Пт 08:00-20:00, перерыв 13:00-13:30; Сб 09:00-15:00; Вс выходной»
    «пн.–пт. с 8:00 до 20:00; сб. с 9.00 до 14.00»   «Круглосуточно»   «Ежедневно 08:00-18:00»

Segments are separated by ``;`` or a new line; each names days (a day, a range, a list; none = every day), then
hours (``HH:MM-HH:MM`` or ``с … до …``), ``выходной`` or ``круглосуточно``, then any breaks (``перерыв`` or
``обед``). Days not named are closed. A text that does not read this way gives ``None``: the text is then shown
as it came, with no computed "open now".

:func:`status_at` says, for a local moment in the region's time zone (``runtime.now()`` through the clock
adapter), whether the clinic is open and the Russian line a patient reads: «Сегодня открыто до 20:00»,
«Перерыв до 13:30», «Откроется сегодня в 08:00», «Сегодня закрыто. Откроется в понедельник в 08:00».
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

WEEKDAYS = ("Понедельник", "Вторник", "Среда", "Четверг", "Пятница", "Суббота", "Воскресенье")
WEEKDAYS_SHORT = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")
# «в понедельник», «во вторник»…: the accusative after «в».
_ON_DAY = ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье")

_DAY_WORDS = {
    "пн": 0, "понедельник": 0, "вт": 1, "вторник": 1, "ср": 2, "среда": 2, "чт": 3, "четверг": 3,
    "пт": 4, "пятница": 4, "сб": 5, "суббота": 5, "вс": 6, "воскресенье": 6,
}  # fmt: skip
_DAY = r"(?:понедельник|вторник|среда|четверг|пятница|суббота|воскресенье|пн|вт|ср|чт|пт|сб|вс)(?![а-я])\.?"
_DAYS = re.compile(rf"^\s*({_DAY}(?:\s*(?:-|–|—|,|и)\s*{_DAY})*)\s*:?\s*")
_EVERY_DAY = re.compile(r"^\s*(?:ежедневно|без выходных)\s*:?\s*")
_CLOCK = r"(\d{1,2})[:.](\d{2})"
_SPAN = re.compile(rf"(?:с\s*)?{_CLOCK}\s*(?:-|–|—|до)\s*{_CLOCK}")
_BREAK = re.compile(rf"(?:перерыв|обед)[^\d]*{_CLOCK}\s*(?:-|–|—|до)\s*{_CLOCK}")
_CLOSED = re.compile(r"^\s*(?:выходной|выходные|выходной день|закрыто|не работает)\s*\.?\s*$")
_ROUND_THE_CLOCK = re.compile(r"круглосуточно")
_MIDNIGHT = time(0, 0)


@dataclass(frozen=True, slots=True)
class Span:
    start: time
    end: time  # 00:00 as an end is midnight (the day's end)

    def label(self) -> str:
        return f"{self.start:%H:%M}–{'24:00' if self.end == _MIDNIGHT else f'{self.end:%H:%M}'}"


@dataclass(frozen=True, slots=True)
class Day:
    """One weekday: open ``opens``–``closes`` with ``breaks`` inside; both None when closed."""

    weekday: int  # 0 = Monday
    opens: time | None = None
    closes: time | None = None
    breaks: tuple[Span, ...] = ()

    @property
    def closed(self) -> bool:
        return self.opens is None

    @property
    def round_the_clock(self) -> bool:
        return self.opens == _MIDNIGHT and self.closes == _MIDNIGHT

    def label(self) -> str:
        """«08:00–20:00, перерыв 13:00–13:30», «круглосуточно», «выходной»."""
        if self.opens is None or self.closes is None:
            return "выходной"
        if self.round_the_clock and not self.breaks:
            return "круглосуточно"
        text = Span(self.opens, self.closes).label()
        if self.breaks:
            text += ", перерыв " + ", ".join(b.label() for b in self.breaks)
        return text


@dataclass(frozen=True, slots=True)
class Week:
    days: tuple[Day, ...]  # seven, Monday first

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "opens": f"{d.opens:%H:%M}" if d.opens else None,
                "closes": f"{d.closes:%H:%M}" if d.closes else None,
                "breaks": [[f"{b.start:%H:%M}", f"{b.end:%H:%M}"] for b in d.breaks],
            }
            for d in self.days
        ]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> Week:
        return cls(
            tuple(
                Day(
                    n,
                    _hm(item["opens"]) if item.get("opens") else None,
                    _hm(item["closes"]) if item.get("closes") else None,
                    tuple(Span(_hm(a), _hm(b)) for a, b in item.get("breaks") or ()),
                )
                for n, item in enumerate(data[:7])
            )
        )

    def summary(self) -> str:
        """Days with the same hours grouped: «Пн–Пт 08:00–20:00; Сб 09:00–15:00; Вс выходной»."""
        if all(d.round_the_clock and not d.breaks for d in self.days):
            return "Круглосуточно, без выходных"
        if len({d.label() for d in self.days}) == 1:
            return f"Ежедневно {self.days[0].label()}"
        groups: list[tuple[int, int, str]] = []
        for day in self.days:
            label = day.label()
            if groups and groups[-1][2] == label and groups[-1][1] == day.weekday - 1:
                groups[-1] = (groups[-1][0], day.weekday, label)
            else:
                groups.append((day.weekday, day.weekday, label))
        parts = []
        for first, last, label in groups:
            days = WEEKDAYS_SHORT[first] if first == last else f"{WEEKDAYS_SHORT[first]}–{WEEKDAYS_SHORT[last]}"
            if last == first + 1:
                days = f"{WEEKDAYS_SHORT[first]}, {WEEKDAYS_SHORT[last]}"
            parts.append(f"{days} {label}")
        return "; ".join(parts)


def _hm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _clock(hours: str, minutes: str) -> time:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return _MIDNIGHT
    return time(h, m)  # ValueError past 23:59


def _days(spec: str) -> list[int]:
    """«Пн-Пт», «сб., вс.», «понедельник – пятница», «Пн, Ср и Пт» → weekday numbers."""
    tokens = re.findall(rf"{_DAY}|-|–|—", spec)
    days: list[int] = []
    pending_range = False
    for token in tokens:
        if token in "-–—":
            pending_range = True
            continue
        day = _DAY_WORDS[token.rstrip(".")]
        if pending_range and days:
            start = days[-1]
            days.extend(range(start + 1, day + 1) if day >= start else [*range(start + 1, 7), *range(0, day + 1)])
        else:
            days.append(day)
        pending_range = False
    return days


def parse_work_time(text: str | None) -> Week | None:
    """The week read from the hub's ``WorkTime`` text; None when empty or not in a form this module reads."""
    if not text or not text.strip():
        return None
    hours: dict[int, Day] = {}
    try:
        for raw in re.split(r"[;\n]+", text.casefold().replace("ё", "е")):
            segment = raw.strip().strip(".")
            if not segment:
                continue
            match = _DAYS.match(segment)
            if match:
                days, rest = _days(match.group(1)), segment[match.end() :]
            else:
                every = _EVERY_DAY.match(segment)
                days, rest = list(range(7)), segment[every.end() :] if every else segment
            day = _day_hours(rest)
            if day is None:
                return None
            for n in days:
                hours[n] = Day(n, day.opens, day.closes, day.breaks)
    except (ValueError, KeyError):
        return None
    if not hours:
        return None
    return Week(tuple(hours.get(n, Day(n)) for n in range(7)))


def _day_hours(rest: str) -> Day | None:
    rest = rest.strip(" ,:")
    if _CLOSED.match(rest):
        return Day(0)
    breaks = tuple(Span(_clock(*m.groups()[:2]), _clock(*m.groups()[2:])) for m in _BREAK.finditer(rest))
    main = _BREAK.sub("", rest).strip(" ,")
    if _ROUND_THE_CLOCK.search(main):
        return Day(0, _MIDNIGHT, _MIDNIGHT, breaks)
    span = _SPAN.fullmatch(main.strip(" ,"))
    if span is None:
        return None
    opens, closes = _clock(*span.groups()[:2]), _clock(*span.groups()[2:])
    if closes != _MIDNIGHT and closes <= opens:
        return None
    return Day(0, opens, closes, breaks)


# -- at a moment ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    open_now: bool
    label: str  # the line a patient reads


def _end_of(day: Day) -> time:
    assert day.closes is not None
    return day.closes


def status_at(week: Week, local: datetime) -> Status:
    """Open or not at ``local`` (a wall-clock time in the region's zone) and the Russian line for it."""
    today = week.days[local.weekday()]
    now = local.time().replace(second=0, microsecond=0)
    if today.opens is not None:
        closes = _end_of(today)
        until_midnight = closes == _MIDNIGHT
        if today.opens <= now and (until_midnight or now < closes):
            for pause in today.breaks:
                if pause.start <= now < pause.end:
                    return Status(False, f"Перерыв до {pause.end:%H:%M}")
            if today.round_the_clock:
                return Status(True, "Открыто круглосуточно")
            return Status(True, f"Сегодня открыто до {'24:00' if until_midnight else f'{closes:%H:%M}'}")
        if now < today.opens:
            return Status(False, f"Откроется сегодня в {today.opens:%H:%M}")
    # Closed for the rest of today: the next day that opens.
    for ahead in range(1, 8):
        day = week.days[(local.weekday() + ahead) % 7]
        if day.opens is not None:
            when = "завтра" if ahead == 1 else _ON_DAY[day.weekday]
            prefix = "Сегодня закрыто" if today.opens is None else "Сегодня уже закрыто"
            return Status(False, f"{prefix}. Откроется {when} в {day.opens:%H:%M}")
    return Status(False, "Сейчас закрыто")
