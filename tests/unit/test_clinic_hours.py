"""The hub's ``WorkTime`` text read into a week, and what a patient reads at a moment (backend.directory.hours)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from backend.demo.seed import home_visit_and_attachment_demo
from backend.directory.hours import Week, parse_work_time, status_at
from integrations.demo_region import RegionScale, get_region

MSK = ZoneInfo("Europe/Moscow")
POLYCLINIC = "Пн-Пт 08:00-20:00, перерыв 13:00-13:30; Сб 09:00-15:00; Вс выходной"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the week of Monday 3 March 2025 (``day`` 0 = Monday), Moscow time."""
    return datetime(2025, 3, 3 + day, hour, minute, tzinfo=MSK)


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        (POLYCLINIC, "Пн–Пт 08:00–20:00, перерыв 13:00–13:30; Сб 09:00–15:00; Вс выходной"),
        ("пн.–пт. с 8:00 до 20:00; сб. с 9.00 до 14.00", "Пн–Пт 08:00–20:00; Сб 09:00–14:00; Вс выходной"),
        ("Круглосуточно", "Круглосуточно, без выходных"),
        ("Ежедневно 08:00-18:00", "Ежедневно 08:00–18:00"),
        (
            "Сб, Вс выходной\nПн-Пт 8:00-16:00, обед 12:00-13:00",
            "Пн–Пт 08:00–16:00, перерыв 12:00–13:00; Сб, Вс выходной",
        ),
        (
            "Пн, Ср и Пт 08:00-12:00",
            "Пн 08:00–12:00; Вт выходной; Ср 08:00–12:00; Чт выходной; Пт 08:00–12:00; Сб, Вс выходной",
        ),
        ("Пт-Пн 10:00-24:00", "Пн 10:00–24:00; Вт–Чт выходной; Пт–Вс 10:00–24:00"),
    ],
)
def test_the_forms_registries_write_are_read(text: str, summary: str) -> None:
    week = parse_work_time(text)
    assert week is not None
    assert week.summary() == summary
    assert Week.from_json(week.as_json()) == week  # what the directory stores reads back the same


@pytest.mark.parametrize(
    "text", [None, "", "по записи", "Пн-Пт 20:00-08:00", "Пн-Пт 08:00-25:00", "Пн-Пт утром", "Все дни 08:00-20:00"]
)
def test_a_text_that_does_not_read_gives_none(text: str | None) -> None:
    assert parse_work_time(text) is None


def test_each_day_with_its_hours_and_breaks() -> None:
    week = parse_work_time(POLYCLINIC)
    assert week is not None
    monday, saturday, sunday = week.days[0], week.days[5], week.days[6]
    assert (monday.opens, monday.closes) == (time(8), time(20))
    assert [(b.start, b.end) for b in monday.breaks] == [(time(13), time(13, 30))]
    assert monday.label() == "08:00–20:00, перерыв 13:00–13:30"
    assert (saturday.opens, saturday.closes, saturday.breaks) == (time(9), time(15), ())
    assert sunday.closed and sunday.label() == "выходной"


@pytest.mark.parametrize(
    ("moment", "open_now", "label"),
    [
        (at(0, 7, 30), False, "Откроется сегодня в 08:00"),
        (at(0, 8), True, "Сегодня открыто до 20:00"),
        (at(0, 13, 10), False, "Перерыв до 13:30"),
        (at(0, 13, 30), True, "Сегодня открыто до 20:00"),
        (at(0, 19, 59), True, "Сегодня открыто до 20:00"),
        (at(0, 20), False, "Сегодня уже закрыто. Откроется завтра в 08:00"),
        (at(4, 21), False, "Сегодня уже закрыто. Откроется завтра в 09:00"),
        (at(5, 16), False, "Сегодня уже закрыто. Откроется в понедельник в 08:00"),
        (at(6, 10), False, "Сегодня закрыто. Откроется завтра в 08:00"),
    ],
)
def test_what_a_patient_reads_at_a_moment(moment: datetime, open_now: bool, label: str) -> None:
    week = parse_work_time(POLYCLINIC)
    assert week is not None
    status = status_at(week, moment)
    assert (status.open_now, status.label) == (open_now, label)


def test_the_moment_is_read_in_the_regions_zone() -> None:
    """19:30 in Moscow is 20:30 in Samara: open in one region, closed in the other, at the same instant."""
    week = parse_work_time(POLYCLINIC)
    assert week is not None
    instant = at(0, 19, 30)
    assert status_at(week, instant.astimezone(MSK)).open_now
    assert not status_at(week, instant.astimezone(ZoneInfo("Europe/Samara"))).open_now


def test_round_the_clock_and_closed_all_week() -> None:
    hospital = parse_work_time("Круглосуточно")
    assert hospital is not None
    assert status_at(hospital, at(2, 3)).label == "Открыто круглосуточно"
    late = parse_work_time("Ежедневно 10:00-24:00")
    assert late is not None
    assert status_at(late, at(1, 23, 30)).label == "Сегодня открыто до 24:00"


def test_the_demo_regions_clinics_have_hours_that_read() -> None:
    """Every organisation of the demo region sends hours the directory reads, and seed-demo prints the adult's."""
    region = get_region(26, RegionScale.SMALL)
    kinds = {mo.kind: parse_work_time(mo.work_time_text) for mo in region.organisations}
    assert all(week is not None for week in kinds.values()), kinds
    demo = home_visit_and_attachment_demo(region)["adult"]
    clinic = next(mo for mo in region.organisations if mo.id == demo["mo_id"])
    assert demo["hours"] == clinic.work_time_text and demo["address"] == clinic.address
