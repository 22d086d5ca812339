"""The hub's waiting list (лист ожидания): ``SetWaitingList`` of the N3 HubService → ``GuidClaim``.

Kept out of :mod:`integrations.fer.client` and :mod:`integrations.fer.simulator` (as
:mod:`integrations.fer.areas` is), so the booking work on those files does not meet this one:
:class:`FerWaitingListClient` is a :class:`~integrations.fer.client.FerClient` with one more operation,
:func:`waiting_list_hub` gives one over the hub a runtime already uses (its HTTP client, guid and deadline),
and :func:`set_waiting_list` is the simulator's handler, registered in
:data:`integrations.fer.simulator.HANDLERS`.

Wire shape (protocols.md §2.2, from the generated client IHubService.cs / HubServiceContractClasses.cs):
``SetWaitingList(idLpu, idPat, idSpesiality, idDoc, rule: RulesOfWaitingList{End, Start}, claimType,
info, phone, guid, idHistory)`` → ``SetWaitingListResult : MethodResult { GuidClaim }``.
``RulesOfWaitingList`` is the date range the patient can come in (its members in the data contract's
alphabetical order); ``claimType`` is ``ClaimToWaitingListType`` (1 no tickets, 2 no convenient time,
3 no specialist). The reference names the range, the phone and the ``GuidClaim`` answer; the other
parameters (``idLpu``, ``idPat``, ``idSpesiality``, ``idDoc``, ``claimType``, ``info``) follow the naming
of the service's other methods and are **unconfirmed** for this one. ``idDoc`` is optional (any doctor of
the specialty). The hub keeps the claim for the clinic's registry; the offers of freed slots are ours
(``backend/waitlist``).

Refusals: an IdPat unknown in the clinic (``PATIENT_NOT_FOUND``), a clinic, specialty or doctor the hub
does not know (``LPU_NOT_FOUND``, ``SPECIALTY_NOT_FOUND``, ``DOCTOR_NOT_FOUND``), a range that ends before
it starts or in the past, or no phone (``BAD_REQUEST``).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from weakref import WeakKeyDictionary

from lxml import etree

from integrations.fer import soap
from integrations.fer.areas import HubBusinessError
from integrations.fer.client import FerClient
from integrations.fer.protocol import HubErrorCode, HubMalformedReply

if TYPE_CHECKING:
    from integrations.fer.sim_state import FerSimulatorState


class ClaimType(enum.IntEnum):
    """The hub's ``ClaimToWaitingListType`` (HubServiceEnums.cs)."""

    NO_TICKETS = 1  # нет талонов
    NO_CONVENIENT_TIME = 2  # нет удобного времени
    NO_SPECIALIST = 3  # нет специалиста


@dataclass(frozen=True, slots=True)
class WaitingListClaim:
    """What a ``SetWaitingList`` asks for: the patient (IdPat in the clinic), what and when, a phone."""

    mo_id: str
    patient_id: str  # IdPat from CheckPatient in this clinic
    specialty_id: str
    doctor_id: str | None
    start: date
    end: date
    claim_type: ClaimType
    phone: str
    info: str | None = None


@runtime_checkable
class WaitingListHub(Protocol):
    async def set_waiting_list(self, claim: WaitingListClaim) -> str:
        """SetWaitingList: put the patient on the clinic's waiting list; answers the hub's ``GuidClaim``.

        Raises the booking hub's business errors (:class:`~integrations.fer.protocol.PatientNotFound`,
        :class:`~integrations.fer.protocol.HubError` for the others) and its transport errors.
        """
        ...


class FerWaitingListClient(FerClient):
    """:class:`FerClient` plus ``SetWaitingList``."""

    @classmethod
    def sharing(cls, hub: FerClient) -> FerWaitingListClient:
        """A client over the same HTTP client, guid, deadline and error map as ``hub`` (closed with it)."""
        return cls(
            hub._http,
            guid=hub._guid,
            timeout_s=hub._timeout_s,
            path=hub._path,
            error_map=hub._error_map,
        )

    async def set_waiting_list(self, claim: WaitingListClaim) -> str:
        rule = [("End", datetime.combine(claim.end, time(23, 59))), ("Start", datetime.combine(claim.start, time()))]
        result = await self._call(
            "SetWaitingList",
            [
                ("idLpu", claim.mo_id),
                ("idPat", claim.patient_id),
                ("idSpesiality", claim.specialty_id),
                ("idDoc", claim.doctor_id),
                ("rule", rule),
                ("claimType", int(claim.claim_type)),
                ("info", claim.info),
                ("phone", claim.phone),
            ],
        )
        try:
            guid = soap.text(result, "GuidClaim")
        except soap.SoapMalformed as exc:
            raise HubMalformedReply(f"Некорректный ответ хаба записи (SetWaitingList): {exc}") from exc
        if not guid:
            raise HubMalformedReply("в ответе SetWaitingList нет GuidClaim")
        return guid


_SHARED: WeakKeyDictionary[FerClient, FerWaitingListClient] = WeakKeyDictionary()


def waiting_list_hub(hub: object) -> WaitingListHub:
    """The waiting-list operations of the booking hub ``hub`` (a runtime's ``adapters.fer``): the hub itself
    when it has them, else a :class:`FerWaitingListClient` sharing its connection (made once per hub)."""
    if isinstance(hub, WaitingListHub):
        return hub
    if isinstance(hub, FerClient):
        shared = _SHARED.get(hub)
        if shared is None:
            shared = _SHARED[hub] = FerWaitingListClient.sharing(hub)
        return shared
    raise TypeError(f"{type(hub).__name__} has no waiting-list operations")


# -- the simulator's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimClaim:
    guid: str
    mo_id: str
    patient_id: str
    specialty_id: str
    doctor_id: str | None
    start: datetime
    end: datetime
    claim_type: ClaimType
    phone: str
    info: str | None
    created_at: datetime


_CLAIMS: WeakKeyDictionary[FerSimulatorState, list[SimClaim]] = WeakKeyDictionary()


def claims_of(state: FerSimulatorState) -> list[SimClaim]:
    """The waiting-list claims the hub simulator holds, in the order they came (tests read them)."""
    return _CLAIMS.setdefault(state, [])


def set_waiting_list(state: FerSimulatorState, params: Any, id_history: int) -> etree._Element:
    """The simulator's ``SetWaitingList`` handler (registered in ``integrations.fer.simulator.HANDLERS``)."""
    mo_id = params.required("idLpu")
    patient_id = params.required("idPat")
    specialty_id = params.required("idSpesiality")
    doctor_id = params.text("idDoc")
    known = state.patient(patient_id)
    if known is None or known[0] != mo_id:
        raise HubBusinessError(HubErrorCode.PATIENT_NOT_FOUND, "неизвестный идентификатор пациента в МО")
    offered = {s.code for s, _ in state.specialties(mo_id)}  # LPU_NOT_FOUND for an unknown clinic
    if specialty_id not in offered:
        raise HubBusinessError(HubErrorCode.SPECIALTY_NOT_FOUND)
    if doctor_id is not None and doctor_id not in {d.id for d, _ in state.doctors(mo_id, specialty_id)}:
        raise HubBusinessError(HubErrorCode.DOCTOR_NOT_FOUND)
    rule = params.element("rule")
    try:
        start = soap.parse_datetime(soap.text(rule, "Start")) if rule is not None else None
        end = soap.parse_datetime(soap.text(rule, "End")) if rule is not None else None
    except soap.SoapMalformed as exc:
        raise HubBusinessError(HubErrorCode.BAD_REQUEST, f"rule: {exc}") from exc
    if start is None or end is None or end < start or end < state.now():
        raise HubBusinessError(HubErrorCode.BAD_REQUEST, "неверный период листа ожидания (RulesOfWaitingList)")
    phone = params.text("phone")
    if not phone:
        raise HubBusinessError(HubErrorCode.BAD_REQUEST, "не указан телефон для связи")
    type_text = params.text("claimType") or str(int(ClaimType.NO_TICKETS))
    try:
        claim_type = ClaimType(int(type_text))
    except ValueError as exc:
        raise HubBusinessError(HubErrorCode.BAD_REQUEST, f"неизвестный тип заявки {type_text}") from exc
    claim = SimClaim(
        guid=str(uuid.uuid4()),
        mo_id=mo_id,
        patient_id=patient_id,
        specialty_id=specialty_id,
        doctor_id=doctor_id,
        start=start,
        end=end,
        claim_type=claim_type,
        phone=phone,
        info=params.text("info"),
        created_at=state.now(),
    )
    claims_of(state).append(claim)
    env, result = soap.new_result("SetWaitingList", id_history=id_history)
    soap.add(result, "GuidClaim", claim.guid)
    return env
