"""The clinic's hours in the directory: taken from the hub's card (GetLPUInfo) by the sync, kept when the card
cannot be had, and shown on the organisation per weekday with «сегодня открыто до …» read in the region's time
(the clock adapter)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from strawberry.relay import to_base64

import backend.directory.schema as directory_schema
from backend.directory.models import MedicalOrganisation
from backend.directory.service import sync_directory
from backend.runtime import Runtime
from integrations.fer import HubUnavailable, LpuInfo
from tests.support.booking import ADULT_MO, CHILDREN_MO, HOSPITAL_MO, TODAY, TZ, BookingEnv, start_env
from tests.support.client import app_client, gql

HOURS = (
    "query($id: ID!) { node(id: $id) { ... on MedicalOrganisation { workTime openingHours { summary openNow"
    " todayLabel today { name label } days { weekday shortName closed opens closes breaks { start end } label } } } } }"
)


def select_mo(upstream_id: str) -> Any:
    return select(MedicalOrganisation).where(MedicalOrganisation.upstream_id == upstream_id)


def _gid(upstream_id: str) -> str:
    return to_base64("MedicalOrganisation", upstream_id)


class CardlessHub:
    """The test region's hub whose GetLPUInfo is down (the rest answers)."""

    def __init__(self, env: BookingEnv) -> None:
        self._hub = env.client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hub, name)

    async def get_lpu_info(self, mo_id: str) -> LpuInfo | None:
        raise HubUnavailable("Хаб записи временно недоступен (GetLPUInfo)")


async def _hours(runtime: Runtime, client: Any, upstream_id: str, local: datetime) -> dict[str, Any]:
    """The organisation's hours read at ``local`` (the runtime's clock set there)."""
    runtime.adapters.clock = lambda: local.astimezone(TZ)
    body = await gql(client, HOURS, {"id": _gid(upstream_id)})
    assert "errors" not in body, body
    node: dict[str, Any] = body["data"]["node"]
    return node


@pytest.mark.dialect  # the week is stored as JSON (JSONB on PostgreSQL) and read back alike
async def test_the_sync_takes_the_hours_and_the_organisation_shows_them(runtime: Runtime) -> None:
    env = await start_env(runtime)
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select_mo(ADULT_MO))
    assert row is not None and row.work_time == "Пн-Пт 08:00-20:00; Сб 09:00-15:00; Вс выходной"
    assert row.opening_hours is not None and row.opening_hours[6] == {"opens": None, "closes": None, "breaks": []}

    monday = datetime.combine(TODAY, datetime.min.time(), tzinfo=TZ)
    async with app_client(runtime, [directory_schema]) as client:
        early = await _hours(runtime, client, ADULT_MO, monday.replace(hour=7, minute=30))
        lunch = (await _hours(runtime, client, CHILDREN_MO, monday.replace(hour=13, minute=10)))["openingHours"]
        evening = (await _hours(runtime, client, ADULT_MO, monday.replace(hour=20, minute=30)))["openingHours"]
        night = (await _hours(runtime, client, HOSPITAL_MO, monday.replace(hour=3)))["openingHours"]
    hours = early["openingHours"]
    assert early["workTime"] == row.work_time
    assert hours["summary"] == "Пн–Пт 08:00–20:00; Сб 09:00–15:00; Вс выходной"
    assert (hours["openNow"], hours["todayLabel"]) == (False, "Откроется сегодня в 08:00")
    assert hours["today"] == {"name": "Понедельник", "label": "08:00–20:00"}
    assert [d["shortName"] for d in hours["days"]] == ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]
    assert hours["days"][5] == {
        "weekday": 6, "shortName": "Сб", "closed": False, "opens": "09:00", "closes": "15:00", "breaks": [],
        "label": "09:00–15:00",
    }  # fmt: skip
    assert hours["days"][6]["closed"] and hours["days"][6]["label"] == "выходной"
    assert (lunch["openNow"], lunch["todayLabel"]) == (False, "Перерыв до 13:30")
    assert lunch["days"][0]["breaks"] == [{"start": "13:00", "end": "13:30"}]
    assert (evening["openNow"], evening["todayLabel"]) == (False, "Сегодня уже закрыто. Откроется завтра в 08:00")
    assert (night["openNow"], night["summary"]) == (True, "Круглосуточно, без выходных")

    again = await sync_directory(runtime, hub=env.client)  # nothing changed upstream: nothing written
    assert again.cards.seen == 4 and again.cards.updated == 0 and again.changed == 0


async def test_hours_stay_when_the_card_cannot_be_had(runtime: Runtime) -> None:
    env = await start_env(runtime)
    summary = await sync_directory(runtime, hub=CardlessHub(env))  # type: ignore[arg-type]
    assert {(f.stage, f.upstream_id) for f in summary.failures} == {
        ("hours", mo) for mo in (ADULT_MO, "1002", CHILDREN_MO, HOSPITAL_MO)
    }
    assert all(f.retryable for f in summary.failures)
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select_mo(ADULT_MO))
    assert row is not None and row.work_time == "Пн-Пт 08:00-20:00; Сб 09:00-15:00; Вс выходной"  # as before
    assert row.opening_hours is not None


async def test_hours_the_directory_cannot_read_are_shown_as_they_came(runtime: Runtime) -> None:
    env = await start_env(runtime)

    class OddHub(CardlessHub):
        async def get_lpu_info(self, mo_id: str) -> LpuInfo | None:
            card = await env.client.get_lpu_info(mo_id)
            assert card is not None
            return dataclasses.replace(card, work_time="по графику дежурств") if mo_id == ADULT_MO else card

    await sync_directory(runtime, hub=OddHub(env))  # type: ignore[arg-type]
    async with app_client(runtime, [directory_schema]) as client:
        nine = datetime.combine(TODAY, datetime.min.time(), tzinfo=TZ).replace(hour=9)
        node = await _hours(runtime, client, ADULT_MO, nine)
    assert node == {"workTime": "по графику дежурств", "openingHours": None}
