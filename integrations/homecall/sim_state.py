"""The in-memory HomeCallService of the home-call simulator: sessions, slots, calls and their statuses, the pushes
to the portal (over HTTP or in-process). The SOAP layer and the ASGI app are :mod:`integrations.homecall.simulator`."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from integrations.common.faults import FaultInjector
from integrations.common.simulator import naive_local
from integrations.common.soap import SoapBusinessError
from integrations.demo_region.areas import Area, AttachmentRegister
from integrations.demo_region.model import Doctor, Person, Region
from integrations.fer.areas import AreaType
from integrations.homecall import soap
from integrations.homecall.protocol import (
    DEFAULT_STATUS_TABLE,
    Address,
    Applicant,
    HomeCallDoctor,
    HomeCallErrorCode,
    HomeCallPatient,
    HomeCallRequestInfo,
    HomeCallSlot,
    HomeCallStatus,
    StatusTable,
    TimeInterval,
)
from integrations.homecall.push import PUSH_METHOD, build_push, read_push_reply

SERVICE_PATH = "/hub25/HomeCallService.svc"
# The booking hub simulator's namespace for IdPat, so one patient has one IdPat per clinic in both services.
_PATIENT_NS = uuid.UUID("6f1d3c2e-9a4b-5c7d-8e0f-1a2b3c4d5e6f")

DEFAULT_ERROR_MESSAGES: Mapping[HomeCallErrorCode, str] = {
    HomeCallErrorCode.INTERNAL: "Внутренняя ошибка сервиса",
    HomeCallErrorCode.ACCESS_DENIED: "Код авторизации не верен",
    HomeCallErrorCode.BAD_REQUEST: "Некорректный запрос",
    HomeCallErrorCode.LPU_NOT_FOUND: "Медицинская организация не найдена",
    HomeCallErrorCode.SERVICE_DISABLED: "Медицинская организация не принимает вызовы врача на дом через сервис",
    HomeCallErrorCode.ACTIVE_CALL_EXISTS: (
        "У вас уже есть активный вызов врача на дом. Дождитесь врача или отмените предыдущий вызов"
    ),
    HomeCallErrorCode.PATIENT_NOT_FOUND: "Пациент не идентифицирован",
    HomeCallErrorCode.PATIENT_NOT_ATTACHED: "Пациент не прикреплён к медицинской организации",
    HomeCallErrorCode.NO_ADDRESS: "Не указан адрес",
    HomeCallErrorCode.NO_PHONE: "Не указан контактный телефон",
    HomeCallErrorCode.NO_REASON: "Не указана причина вызова",
    HomeCallErrorCode.SESSION_NOT_FOUND: "Сессия не найдена или истекла",
    HomeCallErrorCode.SLOT_NOT_AVAILABLE: "Время визита недоступно",
    HomeCallErrorCode.NO_DOCTOR_ON_DUTY: "Нет врача, принимающего вызовы на дом по участку пациента",
    HomeCallErrorCode.REQUEST_NOT_FOUND: "Вызов врача на дом не найден",
    HomeCallErrorCode.STATUS_CHANGE_NOT_ALLOWED: "Изменение статуса вызова невозможно",
}

Window = tuple[time, time]
DEFAULT_WINDOWS: Mapping[int, tuple[Window, ...]] = {
    **{d: ((time(12), time(14)), (time(14), time(16)), (time(16), time(18))) for d in range(5)},
    5: ((time(9), time(11)), (time(11), time(13))),
}

# What the MIS may do next; our side may only cancel while no doctor is on the way.
MIS_TRANSITIONS: Mapping[HomeCallStatus, frozenset[HomeCallStatus]] = {
    HomeCallStatus.NEW: frozenset(
        {HomeCallStatus.DOCTOR_ASSIGNED, HomeCallStatus.ON_THE_WAY, HomeCallStatus.CANCELLED_BY_MO}
    ),
    HomeCallStatus.DOCTOR_ASSIGNED: frozenset(
        {HomeCallStatus.ON_THE_WAY, HomeCallStatus.VISITED, HomeCallStatus.CANCELLED_BY_MO}
    ),
    HomeCallStatus.ON_THE_WAY: frozenset({HomeCallStatus.VISITED, HomeCallStatus.CANCELLED_BY_MO}),
}
PATIENT_CANCELLABLE = frozenset({HomeCallStatus.NEW, HomeCallStatus.DOCTOR_ASSIGNED})

PushTarget = Callable[[bytes, Mapping[str, str]], Awaitable[bytes | None]]


class HomeCallBusinessError(SoapBusinessError):
    """Raised inside the simulator; becomes an ``ErrorList`` entry."""

    code: HomeCallErrorCode

    def __init__(self, code: HomeCallErrorCode, detail: str | None = None) -> None:
        super().__init__(code, detail)


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: HomeCallStatus
    at: datetime
    comment: str | None
    by_mis: bool  # True: the clinic's side; False: the client's UpdateHomeCallRequest (or the creation)


@dataclass(slots=True)
class Session:
    id: str
    mo_id: str
    person: Person
    patient_id: str
    area: Area
    patient: HomeCallPatient
    applicant: Applicant
    address: Address
    reason: str
    comment: str | None
    expires_at: datetime


@dataclass(slots=True)
class SimHomeCall:
    id: str
    mo_id: str
    person_oid: str
    patient_id: str
    session_id: str
    area: Area
    slot: HomeCallSlot
    duty_doctor_id: str
    patient: HomeCallPatient
    applicant: Applicant
    address: Address
    reason: str
    comment: str | None
    member_guid: str | None
    created_at: datetime
    status: HomeCallStatus = HomeCallStatus.NEW
    updated_at: datetime | None = None
    doctor_id: str | None = None  # assigned by the clinic
    history: list[StatusChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PushDelivery:
    request_id: str
    status: HomeCallStatus
    at: datetime
    ok: bool
    detail: str | None = None


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold().replace("ё", "е")


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


class HomeCallSimulatorState:
    """The home-call service's world: sessions, requests with their history, pushes, faults, counters."""

    def __init__(
        self,
        region: Region,
        *,
        faults: FaultInjector,
        clock: Callable[[], datetime] | None = None,
        guid: str | None = None,
        register: AttachmentRegister | None = None,
        status_table: StatusTable = DEFAULT_STATUS_TABLE,
        error_messages: Mapping[HomeCallErrorCode, str] | None = None,
        disabled_mos: Iterable[str] = (),
        windows: Mapping[int, tuple[Window, ...]] = DEFAULT_WINDOWS,
        window_capacity: int = 4,
        days_ahead: int = 2,
        session_ttl: timedelta = timedelta(minutes=30),
        push_to: PushTarget | str | None = None,
        push_guid: str | None = None,
        push_timeout_s: float = 5.0,
        push_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.region = region
        self.faults = faults
        self.guid = guid
        self.tz = ZoneInfo(region.timezone)
        self._clock = clock or (lambda: datetime.now(self.tz))
        self.register = register or AttachmentRegister(region, today=self.now().date())
        self.table = status_table
        self.error_messages = {**DEFAULT_ERROR_MESSAGES, **(error_messages or {})}
        self.disabled_mos: set[str] = {mo.id for mo in region.organisations if not self.register.areas_of(mo.id)}
        self.disabled_mos.update(disabled_mos)
        self.windows = windows
        self.window_capacity = window_capacity
        self.days_ahead = days_ahead
        self.session_ttl = session_ttl
        self.push_to = push_to
        self.push_guid = push_guid if push_guid is not None else guid
        self.push_timeout_s = push_timeout_s
        self.push_http = push_http  # for a URL target: this client (else a new one per delivery)
        self.calls: Counter[str] = Counter()
        self.sessions: dict[str, Session] = {}
        self.requests: dict[str, SimHomeCall] = {}
        self.deliveries: list[PushDelivery] = []
        self._ids = itertools.count(1)
        self._id_history = 0
        self._by_policy: dict[str, list[Person]] = {}
        for person in region.people:
            self._by_policy.setdefault(_digits(person.oms_policy), []).append(person)

    # -- time --------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return naive_local(self._clock(), self.tz)

    def next_id_history(self) -> int:
        self._id_history += 1
        return self._id_history

    # -- configuration hooks -----------------------------------------------------------------------

    def switch_off(self, mo_id: str) -> None:
        self.disabled_mos.add(mo_id)

    def switch_on(self, mo_id: str) -> None:
        self.disabled_mos.discard(mo_id)

    # -- duty and windows --------------------------------------------------------------------------

    def duty_doctor(self, area: Area, day: date) -> Doctor | None:
        """The doctor on home-visit duty for ``area`` on ``day`` (None: nobody, e.g. on Sunday)."""
        if not self.windows.get(day.weekday()):
            return None
        same_type = [a for a in self.register.areas_of(area.mo_id) if a.area_type == area.area_type]
        doctors = [d for d in (self.register.doctor(a.doctor_id) for a in same_type) if d is not None]
        if not doctors:
            return None
        working = [d for d in doctors if any(h.weekday == day.weekday() for h in d.hours)]
        own = next((d for d in working if d.id == area.doctor_id), None)
        if own is not None:
            return own
        pool = working or doctors
        return pool[day.toordinal() % len(pool)]

    def _taken(self, slot_id: str) -> int:
        return sum(
            1
            for r in self.requests.values()
            if r.slot.id == slot_id
            and r.status is not HomeCallStatus.CANCELLED_BY_PATIENT
            and r.status is not HomeCallStatus.CANCELLED_BY_MO
        )

    def windows_for(self, area: Area, intervals: Sequence[TimeInterval] = ()) -> list[tuple[HomeCallSlot, Doctor]]:
        """Open windows (not ended, not full) over ``days_ahead`` days, narrowed by ``intervals``."""
        now = self.now()
        offered: list[tuple[HomeCallSlot, Doctor]] = []
        for offset in range(self.days_ahead):
            day = now.date() + timedelta(days=offset)
            doctor = self.duty_doctor(area, day)
            if doctor is None:
                continue
            for start_t, end_t in self.windows.get(day.weekday(), ()):
                start, end = datetime.combine(day, start_t), datetime.combine(day, end_t)
                if end <= now:
                    continue
                if intervals and not any(i.start < end and start < i.end for i in intervals):
                    continue
                slot_id = f"hc-{area.mo_id}-{doctor.id}-{start:%Y%m%d%H%M}"
                if self._taken(slot_id) >= self.window_capacity:
                    continue
                minutes = int((end - start).total_seconds() // 60)
                offered.append((HomeCallSlot(slot_id, start, minutes), doctor))
        return offered

    # -- operations (synchronous: atomic on the event loop) ----------------------------------------

    def _check_mo(self, mo_id: str) -> None:
        if self.register.organisation(mo_id) is None:
            raise HomeCallBusinessError(HomeCallErrorCode.LPU_NOT_FOUND, mo_id)
        if mo_id in self.disabled_mos:
            raise HomeCallBusinessError(HomeCallErrorCode.SERVICE_DISABLED)

    def identify(self, mo_id: str, patient: HomeCallPatient) -> tuple[Person, str]:
        policy = _digits((patient.oms_series or "") + patient.oms_number)
        for person in self._by_policy.get(policy, []) if policy else []:
            if person.birth_date != patient.birth_date:
                continue
            if patient.last_name and _norm(patient.last_name) != _norm(person.last_name):
                continue
            if patient.first_name and _norm(patient.first_name) != _norm(person.first_name):
                continue
            return person, str(uuid.uuid5(_PATIENT_NS, f"{mo_id}:{person.esia_oid}"))
        raise HomeCallBusinessError(
            HomeCallErrorCode.PATIENT_NOT_FOUND, "полис ОМС, дата рождения или ФИО не совпадают"
        )

    def active_request_of(self, person_oid: str) -> SimHomeCall | None:
        return next((r for r in self.requests.values() if r.person_oid == person_oid and r.status.is_active), None)

    def validate(
        self,
        mo_id: str,
        *,
        reason: str | None,
        comment: str | None,
        session_id: str | None,
        patient: HomeCallPatient | None,
        applicant: Applicant | None,
        address: Address | None,
    ) -> Session:
        self._check_mo(mo_id)
        if address is None or address.is_empty:
            raise HomeCallBusinessError(HomeCallErrorCode.NO_ADDRESS)
        if not address.is_locatable:
            raise HomeCallBusinessError(HomeCallErrorCode.NO_ADDRESS, "нужны улица (или населённый пункт) и дом")
        if not (reason or "").strip():
            raise HomeCallBusinessError(HomeCallErrorCode.NO_REASON)
        if applicant is None or not applicant.mobile_phone.strip():
            raise HomeCallBusinessError(HomeCallErrorCode.NO_PHONE)
        if len(_digits(applicant.mobile_phone)) not in (10, 11):
            raise HomeCallBusinessError(HomeCallErrorCode.NO_PHONE, "номер телефона некорректен")
        if patient is None:
            raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, "не задан параметр homeCallPatient")
        person, patient_id = self.identify(mo_id, patient)
        attachment = self.register.current(person.esia_oid)
        area = self.register.area(attachment.area_id) if attachment and attachment.area_id else None
        if attachment is None or attachment.mo_id != mo_id or area is None:
            raise HomeCallBusinessError(HomeCallErrorCode.PATIENT_NOT_ATTACHED)
        if self.active_request_of(person.esia_oid) is not None:
            raise HomeCallBusinessError(HomeCallErrorCode.ACTIVE_CALL_EXISTS)
        existing = self.sessions.get(session_id or "")
        sid = existing.id if existing is not None and existing.mo_id == mo_id else str(uuid.uuid4())
        session = Session(
            id=sid,
            mo_id=mo_id,
            person=person,
            patient_id=patient_id,
            area=area,
            patient=patient,
            applicant=applicant,
            address=address,
            reason=(reason or "").strip(),
            comment=comment,
            expires_at=self.now() + self.session_ttl,
        )
        self.sessions[sid] = session
        return session

    def session(self, session_id: str, mo_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None or session.mo_id != mo_id or session.expires_at <= self.now():
            raise HomeCallBusinessError(HomeCallErrorCode.SESSION_NOT_FOUND, session_id)
        self._check_mo(mo_id)
        return session

    def area_doctor(self, area: Area) -> HomeCallDoctor | None:
        doctor = self.register.doctor(area.doctor_id)
        if doctor is None:
            return None
        return self._doctor_view(doctor, area)

    def _doctor_view(self, doctor: Doctor, area: Area) -> HomeCallDoctor:
        return HomeCallDoctor(
            id=doctor.id,
            name=doctor.full_name,
            snils=doctor.snils,
            area=area.number,
            area_type=AreaType(area.area_type),
        )

    def create(self, session_id: str, mo_id: str, slot_id: str, member_guid: str | None) -> SimHomeCall:
        session = self.session(session_id, mo_id)
        if self.active_request_of(session.person.esia_oid) is not None:
            raise HomeCallBusinessError(HomeCallErrorCode.ACTIVE_CALL_EXISTS)
        chosen = next(((s, d) for s, d in self.windows_for(session.area) if s.id == slot_id), None)
        if chosen is None:
            raise HomeCallBusinessError(HomeCallErrorCode.SLOT_NOT_AVAILABLE, slot_id)
        slot, doctor = chosen
        now = self.now()
        request = SimHomeCall(
            id=f"{next(self._ids):06d}-{uuid.uuid4().hex[:8]}",
            mo_id=mo_id,
            person_oid=session.person.esia_oid,
            patient_id=session.patient_id,
            session_id=session.id,
            area=session.area,
            slot=slot,
            duty_doctor_id=doctor.id,
            patient=session.patient,
            applicant=session.applicant,
            address=session.address,
            reason=session.reason,
            comment=session.comment,
            member_guid=member_guid,
            created_at=now,
            updated_at=now,
        )
        request.history.append(StatusChange(HomeCallStatus.NEW, now, None, False))
        self.requests[request.id] = request
        return request

    def update(self, request_id: str, status_code: int, comment: str | None) -> SimHomeCall:
        """UpdateHomeCallRequest from the client: cancel while no doctor is on the way, or comment."""
        request = self.requests.get(request_id)
        if request is None:
            raise HomeCallBusinessError(HomeCallErrorCode.REQUEST_NOT_FOUND, request_id)
        try:
            status = self.table.status(status_code)
        except ValueError as exc:
            raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, str(exc)) from exc
        if status is request.status and status.is_active:
            self._record(request, status, comment, by_mis=False)
            if comment:
                request.comment = comment
            return request
        if status is HomeCallStatus.CANCELLED_BY_PATIENT and request.status in PATIENT_CANCELLABLE:
            return self._record(request, status, comment, by_mis=False)
        raise HomeCallBusinessError(
            HomeCallErrorCode.STATUS_CHANGE_NOT_ALLOWED, f"{request.status.label_ru} → {status.label_ru}"
        )

    def search(
        self,
        *,
        request_id: str | None = None,
        mo_id: str | None = None,
        patient_ids: Sequence[str] = (),
        status_codes: Sequence[int] = (),
        created: TimeInterval | None = None,
        updated: TimeInterval | None = None,
        doctor_id: str | None = None,
    ) -> list[SimHomeCall]:
        try:
            statuses = {self.table.status(code) for code in status_codes}
        except ValueError as exc:
            raise HomeCallBusinessError(HomeCallErrorCode.BAD_REQUEST, str(exc)) from exc
        found: list[SimHomeCall] = []
        for r in self.requests.values():
            updated_at = r.updated_at or r.created_at
            if request_id is not None and r.id != request_id:
                continue
            if mo_id is not None and r.mo_id != mo_id:
                continue
            if patient_ids and r.patient_id not in patient_ids:
                continue
            if statuses and r.status not in statuses:
                continue
            if created is not None and not created.start <= r.created_at <= created.end:
                continue
            if updated is not None and not updated.start <= updated_at <= updated.end:
                continue
            if doctor_id is not None and doctor_id not in (r.doctor_id, r.duty_doctor_id):
                continue
            found.append(r)
        return found

    def info(self, request: SimHomeCall) -> HomeCallRequestInfo:
        doctor = None
        if request.doctor_id is not None:
            assigned = self.register.doctor(request.doctor_id)
            if assigned is not None:
                doctor = self._doctor_view(assigned, request.area)
        return HomeCallRequestInfo(
            request_id=request.id,
            mo_id=request.mo_id,
            status=request.status,
            status_code=self.table.code(request.status),
            created_at=request.created_at,
            updated_at=request.updated_at or request.created_at,
            patient_id=request.patient_id,
            session_id=request.session_id,
            reason=request.reason,
            comment=request.comment,
            slot=request.slot,
            doctor=doctor,
            doctor_position_id=self.doctor_position(request.area),
            patient=request.patient,
            applicant=request.applicant,
            address=request.address,
            member_guid=request.member_guid,
        )

    def doctor_position(self, area: Area) -> str | None:
        doctor = self.register.doctor(area.doctor_id)
        return doctor.specialty_code if doctor else None

    def _record(
        self, request: SimHomeCall, status: HomeCallStatus, comment: str | None, *, by_mis: bool
    ) -> SimHomeCall:
        now = self.now()
        request.status = status
        request.updated_at = now
        request.history.append(StatusChange(status, now, comment, by_mis))
        return request

    # -- the clinic's side (test hooks): change, then push -----------------------------------------

    def change_by_mis(
        self, request_id: str, status: HomeCallStatus, *, comment: str | None = None, doctor_id: str | None = None
    ) -> SimHomeCall:
        """Apply a clinic-side change (no push; :meth:`mis_change` also pushes)."""
        request = self.requests.get(request_id)
        if request is None:
            raise KeyError(request_id)
        if status not in MIS_TRANSITIONS.get(request.status, frozenset()):
            raise ValueError(f"{request.status.name} → {status.name} is not a clinic-side transition")
        if status in (HomeCallStatus.DOCTOR_ASSIGNED, HomeCallStatus.ON_THE_WAY) and request.doctor_id is None:
            request.doctor_id = doctor_id or request.duty_doctor_id
        elif doctor_id is not None:
            request.doctor_id = doctor_id
        if comment:
            request.comment = comment
        return self._record(request, status, comment, by_mis=True)

    async def mis_change(
        self, request_id: str, status: HomeCallStatus, *, comment: str | None = None, doctor_id: str | None = None
    ) -> SimHomeCall:
        request = self.change_by_mis(request_id, status, comment=comment, doctor_id=doctor_id)
        await self.push(request)
        return request

    async def assign_doctor(self, request_id: str, doctor_id: str | None = None) -> SimHomeCall:
        return await self.mis_change(request_id, HomeCallStatus.DOCTOR_ASSIGNED, doctor_id=doctor_id)

    async def doctor_on_the_way(self, request_id: str) -> SimHomeCall:
        return await self.mis_change(request_id, HomeCallStatus.ON_THE_WAY)

    async def mark_visited(self, request_id: str, comment: str | None = None) -> SimHomeCall:
        return await self.mis_change(request_id, HomeCallStatus.VISITED, comment=comment)

    async def cancel_by_clinic(self, request_id: str, comment: str) -> SimHomeCall:
        return await self.mis_change(request_id, HomeCallStatus.CANCELLED_BY_MO, comment=comment)

    async def push(self, request: SimHomeCall) -> PushDelivery:
        """Send ``HandleHomeCallRequestChanged`` for the request's current state to ``push_to``."""
        body = build_push(self.info(request), guid=self.push_guid, table=self.table)
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": soap.soap_action(PUSH_METHOD)}
        ok, detail = False, None
        try:
            if self.push_to is None:
                detail = "push target not configured"
            elif isinstance(self.push_to, str):
                if self.push_http is not None:
                    response = await self.push_http.post(self.push_to, content=body, headers=headers)
                else:
                    async with httpx.AsyncClient(timeout=self.push_timeout_s) as http:
                        response = await http.post(self.push_to, content=body, headers=headers)
                ok, detail = self._accepted(response.content, response.status_code)
            else:
                reply = await self.push_to(body, headers)
                ok, detail = self._accepted(reply, 200) if reply is not None else (True, None)
        except (httpx.HTTPError, OSError) as exc:
            detail = f"delivery failed: {exc}"
        delivery = PushDelivery(request.id, request.status, self.now(), ok, detail)
        self.deliveries.append(delivery)
        return delivery

    @staticmethod
    def _accepted(reply: bytes, status_code: int) -> tuple[bool, str | None]:
        try:
            errors = read_push_reply(reply)
        except (soap.SoapMalformed, soap.SoapFault) as exc:
            return False, f"HTTP {status_code}: {exc}"
        if errors:
            return False, "; ".join(f"[{code}] {message}" for code, message in errors)
        return status_code < 400, None if status_code < 400 else f"HTTP {status_code}"
