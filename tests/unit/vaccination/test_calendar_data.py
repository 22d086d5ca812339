"""The calendar file validates, cites a clause for every rule, and bad data is refused by name."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from backend.vaccination.calendar import CALENDAR_DIR, Age, CalendarDataError, load_calendar, parse_calendar


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CALENDAR_DIR / "1122n-2021.json").read_text(encoding="utf-8"))
    return data


def test_every_calendar_file_validates() -> None:
    files = sorted(CALENDAR_DIR.glob("*.json"))
    assert files
    for path in files:
        calendar = load_calendar(path.stem)
        assert calendar.id == path.stem


def test_the_current_calendar_is_order_1122n() -> None:
    calendar = load_calendar()
    assert "06.12.2021 № 1122н" in calendar.order
    assert calendar.nsi_vaccine_book == "1.2.643.5.1.13.13.11.1078"
    assert calendar.assumptions  # what was assumed where the order is silent is written down
    national = {s.infection for s in calendar.series if s.calendar == "national"}
    assert national >= {
        "hepatitis_b",
        "tuberculosis",
        "diphtheria",
        "pertussis",
        "tetanus",
        "poliomyelitis",
        "hib",
        "pneumococcal",
        "measles",
        "rubella",
        "mumps",
        "influenza",
    }


def test_every_rule_cites_its_clause() -> None:
    calendar = load_calendar()
    for series in calendar.series:
        for dose in series.doses:
            assert dose.citation.text
            # the national and epidemic tables are cited by row; the procedure (appendix 3) by its subject
            assert dose.citation.row or (dose.citation.appendix == 3 and dose.citation.note)
            assert (dose.citation.appendix == 2) == (series.calendar == "epidemic") or dose.citation.appendix == 3
        if series.periodic is not None:
            assert series.periodic.citation.row
    for group in calendar.risk_groups:
        assert group.citation.row


def test_nsi_codes_are_null_or_numeric() -> None:
    for vaccine in load_calendar().vaccines:
        assert vaccine.nsi_code is None or vaccine.nsi_code.isdigit()


def test_age_arithmetic_is_calendar_wise() -> None:
    assert Age.parse("P1M").after(date(2024, 1, 31)) == date(2024, 2, 29)
    assert Age.parse("P4M15D").after(date(2026, 1, 10)) == date(2026, 5, 25)
    assert Age.parse("P6W").after(date(2026, 1, 1)) == date(2026, 2, 12)
    assert Age.parse("P1Y").after(date(2024, 2, 29)) == date(2025, 2, 28)
    with pytest.raises(ValueError):
        Age.parse("P")
    with pytest.raises(ValueError):
        Age.parse("3 months")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["series"][0]["doses"].pop(1), "numbered"),
        (lambda d: d["series"][0].__setitem__("infection", "smallpox"), "unknown infection"),
        (lambda d: d["vaccines"][0].__setitem__("infections", ["smallpox"]), "unknown infections"),
        (lambda d: d["series"][0]["applies"][0].__setitem__("risk_groups", ["nobody"]), "unknown risk groups"),
        (lambda d: d["series"][1]["doses"][1].__setitem__("min_interval", None), "needs min_interval"),
        (lambda d: d["series"][1]["doses"][0].__setitem__("age_from", "3 months"), "duration"),
        (lambda d: d["series"][1]["doses"][0]["citation"].__setitem__("appendix", 4), "appendix"),
        (lambda d: d["series"][1]["doses"][0].__setitem__("max_age", "P0D"), "max_age"),
        (lambda d: d["infections"].append(d["infections"][0]), "duplicate infection"),
        (lambda d: d.__setitem__("surprise", 1), "surprise"),
    ],
)
def test_bad_calendar_data_is_refused(mutate: Any, message: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(CalendarDataError, match=message):
        parse_calendar(json.dumps(data))


def test_unknown_calendar_name() -> None:
    with pytest.raises(CalendarDataError):
        load_calendar("../etc/passwd")
    with pytest.raises(CalendarDataError):
        load_calendar("125n-2014")
