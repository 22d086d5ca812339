"""GraphQL of the directory: organisations, doctors, specialties and districts as Relay nodes.

Every nested field goes through the request's DataLoaders (``info.context.loaders``), so a page of
N organisations with their district, specialties and doctors costs a fixed number of statements.
Global ids carry the hub's ids where they are unique (organisation ``IdLPU``, district ``IdDistrict``,
specialty code) and the row id for doctors (``IdDoc`` is unique only within an organisation).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from datetime import time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.dataloader import DataLoader

from backend.api.context import Info
from backend.api.problems import PublicError
from backend.directory import hours, models
from backend.directory import service as directory

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_PAGE = 100
MAX_SEARCH_CHARS = 200


def _loader(
    info: Info,
    key: Hashable,
    fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]],
    default: Callable[[], Any] = lambda: None,
) -> DataLoader[K, Any]:
    """The request's loader for ``key``: one read session and one ``fetch`` (one SELECT) per batch of keys."""
    sessionmaker = info.context.read_sessionmaker

    async def batch(keys: list[K]) -> list[Any]:
        async with sessionmaker() as session:
            found = await fetch(session, keys)
        return [found[k] if k in found else default() for k in keys]

    return info.context.loaders.get(("directory", key), batch)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# -- types ---------------------------------------------------------------------------------------


@strawberry.type(description="Точка на карте (WGS 84).")
class Location:
    latitude: float = strawberry.field(description="Широта.")
    longitude: float = strawberry.field(description="Долгота.")


@strawberry.type(description="Район (муниципальное образование) региона.")
class District(relay.Node):
    pk: strawberry.Private[uuid.UUID]
    upstream_id: strawberry.Private[str]
    name: str = strawberry.field(description="Название района.")
    okato: str | None = strawberry.field(description="Код ОКАТО.")

    @classmethod
    def from_row(cls, row: models.District) -> District:
        return cls(pk=row.id, upstream_id=row.upstream_id, name=row.name, okato=row.okato)

    @classmethod
    def resolve_id(cls, root: District, *, info: Info) -> str:
        return root.upstream_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[District | None]:
        rows = await _loader(info, "district_by_upstream", directory.districts_by_upstream_ids).load_many(
            list(node_ids)
        )
        return [cls.from_row(row) if row is not None else None for row in rows]


@strawberry.type(description="Специальность врача (код федерального справочника).")
class Specialty(relay.Node):
    pk: strawberry.Private[uuid.UUID]
    code: str = strawberry.field(description="Код специальности в федеральном справочнике (НСИ).")
    name: str = strawberry.field(description="Название специальности.")
    direct_booking: bool | None = strawberry.field(
        description="Можно записаться без направления; null, если хаб записи этого не сообщает."
    )

    @classmethod
    def from_row(cls, row: models.Specialty) -> Specialty:
        return cls(pk=row.id, code=row.code, name=row.name, direct_booking=row.direct_booking)

    @classmethod
    def resolve_id(cls, root: Specialty, *, info: Info) -> str:
        return root.code

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Specialty | None]:
        rows = await _loader(info, "specialty_by_code", directory.specialties_by_codes).load_many(list(node_ids))
        return [cls.from_row(row) if row is not None else None for row in rows]


@strawberry.type(description="Врач медицинской организации.")
class Doctor(relay.Node):
    pk: strawberry.Private[uuid.UUID]
    organisation_pk: strawberry.Private[uuid.UUID]
    specialty_pk: strawberry.Private[uuid.UUID]
    full_name: str = strawberry.field(description="Фамилия, имя и отчество.")
    is_active: bool = strawberry.field(description="Врач ведёт приём (есть в расписании хаба записи).")

    @classmethod
    def from_row(cls, row: models.Doctor) -> Doctor:
        return cls(
            pk=row.id,
            organisation_pk=row.organisation_id,
            specialty_pk=row.specialty_id,
            full_name=row.full_name,
            is_active=row.active,
        )

    @classmethod
    def resolve_id(cls, root: Doctor, *, info: Info) -> str:
        return str(root.pk)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Doctor | None]:
        ids = [_uuid(node_id) for node_id in node_ids]
        loader = _loader(info, "doctor_by_id", directory.doctors_by_ids)
        rows = await loader.load_many([i for i in ids if i is not None])
        found = {row.id: row for row in rows if row is not None}
        return [cls.from_row(found[i]) if i in found else None for i in ids]

    @strawberry.field(description="Специальность.")
    async def specialty(self, info: Info) -> Specialty:
        row = await _loader(info, "specialty_by_id", directory.specialties_by_ids).load(self.specialty_pk)
        return Specialty.from_row(row)

    @strawberry.field(description="Медицинская организация, в которой ведёт приём врач.")
    async def organisation(self, info: Info) -> MedicalOrganisation:
        row = await _loader(info, "organisation_by_id", directory.organisations_by_ids).load(self.organisation_pk)
        return MedicalOrganisation.from_row(row)


@strawberry.type(description="Промежуток времени в пределах дня (местное время региона).")
class TimeSpan:
    start: str = strawberry.field(description="Начало, ЧЧ:ММ.")
    end: str = strawberry.field(description="Конец, ЧЧ:ММ (24:00 — до полуночи).")


@strawberry.type(description="Часы работы в один день недели.")
class OpeningDay:
    weekday: int = strawberry.field(description="День недели: 1 — понедельник … 7 — воскресенье.")
    name: str = strawberry.field(description="Понедельник, вторник…")
    short_name: str = strawberry.field(description="Пн, Вт…")
    closed: bool = strawberry.field(description="Выходной день.")
    opens: str | None = strawberry.field(description="Открывается, ЧЧ:ММ; null в выходной.")
    closes: str | None = strawberry.field(description="Закрывается, ЧЧ:ММ (24:00 — до полуночи); null в выходной.")
    breaks: list[TimeSpan] = strawberry.field(description="Перерывы.")
    label: str = strawberry.field(description="«08:00–20:00, перерыв 13:00–13:30», «круглосуточно» или «выходной».")

    @classmethod
    def of(cls, day: hours.Day) -> OpeningDay:
        return cls(
            weekday=day.weekday + 1,
            name=hours.WEEKDAYS[day.weekday],
            short_name=hours.WEEKDAYS_SHORT[day.weekday],
            closed=day.closed,
            opens=f"{day.opens:%H:%M}" if day.opens is not None else None,
            closes=(None if day.closes is None else "24:00" if day.closes == time(0) else f"{day.closes:%H:%M}"),
            breaks=[TimeSpan(start=b.start.strftime("%H:%M"), end=b.end.strftime("%H:%M")) for b in day.breaks],
            label=day.label(),
        )


@strawberry.type(
    description="Часы работы организации по дням недели (из карточки хаба записи, GetLPUInfo) и что они значат сейчас."
)
class OpeningHours:
    week: strawberry.Private[hours.Week]
    days: list[OpeningDay] = strawberry.field(description="Семь дней, с понедельника.")
    summary: str = strawberry.field(description="Кратко: «Пн–Пт 08:00–20:00; Сб 09:00–15:00; Вс выходной».")

    @classmethod
    def of(cls, week: hours.Week) -> OpeningHours:
        return cls(week=week, days=[OpeningDay.of(d) for d in week.days], summary=week.summary())

    @classmethod
    def from_stored(cls, stored: list[dict[str, Any]] | None) -> OpeningHours | None:
        return cls.of(hours.Week.from_json(stored)) if stored else None

    def _status(self, info: Info) -> hours.Status:
        runtime = info.context.runtime
        local = runtime.now().astimezone(ZoneInfo(runtime.settings.region_timezone))
        return hours.status_at(self.week, local)

    @strawberry.field(description="Открыто ли сейчас (по времени региона).")
    def open_now(self, info: Info) -> bool:
        return self._status(info).open_now

    @strawberry.field(
        description="Что это значит сейчас: «Сегодня открыто до 20:00», «Перерыв до 13:30», "
        "«Сегодня закрыто. Откроется в понедельник в 08:00»."
    )
    def today_label(self, info: Info) -> str:
        return self._status(info).label

    @strawberry.field(description="Часы работы сегодня (по времени региона).")
    def today(self, info: Info) -> OpeningDay:
        runtime = info.context.runtime
        local = runtime.now().astimezone(ZoneInfo(runtime.settings.region_timezone))
        return self.days[local.weekday()]


@strawberry.type(description="Медицинская организация (поликлиника, больница, ФАП).")
class MedicalOrganisation(relay.Node):
    pk: strawberry.Private[uuid.UUID]
    upstream_id: strawberry.Private[str]
    district_pk: strawberry.Private[uuid.UUID]
    oid: str | None = strawberry.field(description="OID организации в ФРМО.")
    name: str = strawberry.field(description="Полное наименование.")
    short_name: str = strawberry.field(description="Краткое наименование.")
    kind: str | None = strawberry.field(description="Тип организации, как его передаёт хаб записи.")
    address: str | None = strawberry.field(description="Адрес; null, если хаб записи его не сообщает.")
    location: Location | None = strawberry.field(description="Координаты; null, если неизвестны.")
    phone: str | None = strawberry.field(description="Телефон регистратуры.")
    email: str | None = strawberry.field(description="Электронная почта; null, если хаб записи её не сообщает.")
    work_time: str | None = strawberry.field(
        description="Часы работы так, как их передал хаб записи (GetLPUInfo, WorkTime); null, если не сообщает."
    )
    opening_hours: OpeningHours | None = strawberry.field(
        description="Часы работы по дням и что они значат сейчас; null, если хаб их не сообщает или их не прочесть "
        "(тогда показывайте workTime как есть)."
    )
    is_active: bool = strawberry.field(description="Организация работает и принимает запись.")

    @classmethod
    def from_row(cls, row: models.MedicalOrganisation) -> MedicalOrganisation:
        location = None
        if row.latitude is not None and row.longitude is not None:
            location = Location(latitude=row.latitude, longitude=row.longitude)
        return cls(
            pk=row.id,
            upstream_id=row.upstream_id,
            district_pk=row.district_id,
            oid=row.oid,
            name=row.name,
            short_name=row.short_name,
            kind=row.kind,
            address=row.address,
            location=location,
            phone=row.phone,
            email=row.email,
            work_time=row.work_time,
            opening_hours=OpeningHours.from_stored(row.opening_hours),
            is_active=row.active,
        )

    @classmethod
    def resolve_id(cls, root: MedicalOrganisation, *, info: Info) -> str:
        return root.upstream_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[MedicalOrganisation | None]:
        loader = _loader(info, "organisation_by_upstream", directory.organisations_by_upstream_ids)
        rows = await loader.load_many(list(node_ids))
        return [cls.from_row(row) if row is not None else None for row in rows]

    @strawberry.field(description="Район, к которому относится организация.")
    async def district(self, info: Info) -> District:
        row = await _loader(info, "district_by_id", directory.districts_by_ids).load(self.district_pk)
        return District.from_row(row)

    @strawberry.field(description="Специальности, к врачам которых можно записаться.")
    async def specialties(self, info: Info) -> list[Specialty]:
        loader = _loader(info, "specialties_by_organisation", directory.specialties_by_organisation, list)
        return [Specialty.from_row(row) for row in await loader.load(self.pk)]

    @strawberry.field(description="Врачи, ведущие приём; specialtyCode оставляет врачей одной специальности.")
    async def doctors(self, info: Info, specialty_code: str | None = None) -> list[Doctor]:
        async def fetch(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[models.Doctor]]:
            return await directory.doctors_by_organisation(session, ids, specialty_code=specialty_code)

        loader = _loader(info, ("doctors_by_organisation", specialty_code), fetch, list)
        return [Doctor.from_row(row) for row in await loader.load(self.pk)]


@strawberry.type(description="Организация на странице выборки.")
class OrganisationEdge:
    cursor: str = strawberry.field(description="Курсор для продолжения выборки после этой организации.")
    node: MedicalOrganisation


@strawberry.type(description="Страница списка медицинских организаций (по наименованию).")
class OrganisationConnection:
    edges: list[OrganisationEdge]
    page_info: relay.PageInfo


# -- queries -------------------------------------------------------------------------------------


def _district_filter(value: strawberry.ID | None) -> str | None:
    """The district's upstream id from its global id (a bare upstream id is accepted too)."""
    if value is None:
        return None
    try:
        global_id = relay.GlobalID.from_id(value)
    except ValueError:  # not a global id: a bare upstream id
        return str(value)
    if global_id.type_name != "District":
        raise PublicError("districtId должен быть идентификатором района.", code="INVALID_ARGUMENT")
    return global_id.node_id


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Медицинские организации по наименованию, постранично (first ≤ 100, after — курсор). "
            "Фильтры: район, код специальности, поиск по словам наименования."
        )
    )
    async def organisations(
        self,
        info: Info,
        *,
        first: int = 20,
        after: str | None = None,
        district_id: strawberry.ID | None = None,
        specialty_code: str | None = None,
        search: str | None = None,
    ) -> OrganisationConnection:
        if first > MAX_PAGE:
            raise PublicError(f"За один запрос можно получить не больше {MAX_PAGE} организаций.", code="PAGE_TOO_LARGE")
        if first < 1:
            raise PublicError("Параметр first должен быть положительным.", code="INVALID_ARGUMENT")
        if search is not None and len(search) > MAX_SEARCH_CHARS:
            raise PublicError(f"Строка поиска длиннее {MAX_SEARCH_CHARS} символов.", code="INVALID_ARGUMENT")
        cursor = None
        if after is not None:
            try:
                cursor = directory.OrganisationCursor.decode(after)
            except ValueError:
                raise PublicError("Некорректный курсор after.", code="INVALID_CURSOR") from None
        async with info.context.sessionmaker() as session:
            rows = await directory.list_organisations(
                session,
                limit=first + 1,
                after=cursor,
                district_upstream_id=_district_filter(district_id),
                specialty_code=specialty_code,
                search=search,
            )
        page = rows[:first]
        edges = [
            OrganisationEdge(
                cursor=directory.OrganisationCursor.of(row).encode(), node=MedicalOrganisation.from_row(row)
            )
            for row in page
        ]
        return OrganisationConnection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=len(rows) > first,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="Специальности, по которым можно записаться хотя бы в одну организацию.")
    async def specialties(self, info: Info) -> list[Specialty]:
        async with info.context.sessionmaker() as session:
            return [Specialty.from_row(row) for row in await directory.list_specialties(session)]

    @strawberry.field(description="Районы региона.")
    async def districts(self, info: Info) -> list[District]:
        async with info.context.sessionmaker() as session:
            return [District.from_row(row) for row in await directory.list_districts(session)]


TYPES: tuple[type, ...] = (MedicalOrganisation, Doctor, Specialty, District)
