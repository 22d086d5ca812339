"""The patient's areas (участки) in the booking hub: ``GetPatientsAreas`` of the N3 HubService.

Kept out of :mod:`integrations.fer.client` and :mod:`integrations.fer.simulator` so the attachment work
does not touch them: :class:`FerAreasClient` is a :class:`~integrations.fer.client.FerClient` with one
more operation (a drop-in replacement), and :func:`get_patients_areas` is the simulator's handler,
registered in :data:`integrations.fer.simulator.HANDLERS`.

Wire shape (IHubService.cs, HubServiceContractClasses.cs): ``GetPatientsAreas(idLpu, idPat, guid,
idHistory)`` → ``GetPatientsAreasResult : MethodResult { PatientsAreaList: PatientsArea[]{Area,
AreaType} }``; ``AreaType`` is an enum, which ``DataContractSerializer`` writes by member name
(``Терапевтический``). The result names only the area within ``idLpu``: an empty list means the patient
has no area there (attached elsewhere, or not at all). The simulator adds ``IdDoc`` (the area doctor)
and ``IdLpu`` as an extension; a real hub leaves them out and the client reads ``None``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from weakref import WeakKeyDictionary

from lxml import etree

from integrations.common.soap import SoapBusinessError
from integrations.demo_region.areas import AttachmentRegister
from integrations.fer import soap
from integrations.fer.client import FerClient
from integrations.fer.protocol import HubErrorCode, HubMalformedReply

if TYPE_CHECKING:
    from integrations.fer.sim_state import FerSimulatorState


class HubBusinessError(SoapBusinessError):
    """Raised inside the hub simulator (here, in :mod:`integrations.fer.sim_state` and in
    :mod:`integrations.fer.simulator`); becomes an ``ErrorList`` entry."""

    code: HubErrorCode

    def __init__(self, code: HubErrorCode, detail: str | None = None) -> None:
        super().__init__(code, detail)


class AreaType(enum.IntEnum):
    """The hub's ``AreaType`` (HubServiceEnums.cs); on the wire by its (Russian) member name or number."""

    FELDSHER = 1  # Фельдшерский
    THERAPEUTIC = 2  # Терапевтический
    GENERAL_PRACTICE = 3  # ВрачОбщейПрактики
    COMPLEX = 4  # Комплексный
    OBSTETRIC = 5  # Акушерский
    ASSIGNED = 6  # Приписной
    PAEDIATRIC = 7  # Педиатрический
    PHTHISIATRIC = 8  # Фтизиатрический

    @property
    def wire_name(self) -> str:
        return _AREA_TYPE_WIRE[self]

    @property
    def label_ru(self) -> str:
        return _AREA_TYPE_LABELS[self]

    @classmethod
    def parse(cls, value: str | None) -> AreaType | None:
        """From the number or the WCF member name; ``None`` for an empty value; ``ValueError`` otherwise."""
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if value.isdigit():
            return cls(int(value))
        for member, name in _AREA_TYPE_WIRE.items():
            if name.casefold() == value.casefold() or member.name.casefold() == value.casefold():
                return member
        raise ValueError(f"неизвестный тип участка {value!r}")


_AREA_TYPE_WIRE = {
    AreaType.FELDSHER: "Фельдшерский",
    AreaType.THERAPEUTIC: "Терапевтический",
    AreaType.GENERAL_PRACTICE: "ВрачОбщейПрактики",
    AreaType.COMPLEX: "Комплексный",
    AreaType.OBSTETRIC: "Акушерский",
    AreaType.ASSIGNED: "Приписной",
    AreaType.PAEDIATRIC: "Педиатрический",
    AreaType.PHTHISIATRIC: "Фтизиатрический",
}
_AREA_TYPE_LABELS = {
    AreaType.FELDSHER: "фельдшерский участок",
    AreaType.THERAPEUTIC: "терапевтический участок",
    AreaType.GENERAL_PRACTICE: "участок врача общей практики",
    AreaType.COMPLEX: "комплексный участок",
    AreaType.OBSTETRIC: "акушерский участок",
    AreaType.ASSIGNED: "приписной участок",
    AreaType.PAEDIATRIC: "педиатрический участок",
    AreaType.PHTHISIATRIC: "фтизиатрический участок",
}


# -- the port and the client ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientArea:
    """One ``PatientsArea``: the patient's area in ``mo_id`` (the clinic asked about)."""

    mo_id: str
    number: str  # Area: the area's number within the clinic
    area_type: AreaType | None
    doctor_id: str | None = None  # IdDoc: simulator extension, None from a real hub


@runtime_checkable
class PatientAreasHub(Protocol):
    async def get_patient_areas(self, mo_id: str, patient_id: str) -> list[PatientArea]:
        """GetPatientsAreas: the patient's areas in the clinic (empty: not attached there).

        ``patient_id`` is the IdPat that ``CheckPatient`` gave in this clinic. Raises
        :class:`~integrations.fer.protocol.PatientNotFound` for an unknown IdPat, and the booking hub's
        transport errors.
        """
        ...


class FerAreasClient(FerClient):
    """:class:`FerClient` plus ``GetPatientsAreas``; implements both ``BookingHub`` and ``PatientAreasHub``."""

    async def get_patient_areas(self, mo_id: str, patient_id: str) -> list[PatientArea]:
        result = await self._call("GetPatientsAreas", [("idLpu", mo_id), ("idPat", patient_id)])
        areas: list[PatientArea] = []
        try:
            for el in soap.children(soap.child(result, "PatientsAreaList"), "PatientsArea"):
                areas.append(
                    PatientArea(
                        mo_id=soap.text(el, "IdLpu") or mo_id,
                        number=soap.required_text(el, "Area"),
                        area_type=AreaType.parse(soap.text(el, "AreaType")),
                        doctor_id=soap.text(el, "IdDoc") or None,
                    )
                )
        except (soap.SoapMalformed, ValueError) as exc:
            raise HubMalformedReply(f"Некорректный ответ хаба записи (GetPatientsAreas): {exc}") from exc
        return areas


# -- the simulator's side ------------------------------------------------------------------------

_REGISTERS: WeakKeyDictionary[FerSimulatorState, AttachmentRegister] = WeakKeyDictionary()


def use_register(state: FerSimulatorState, register: AttachmentRegister) -> None:
    """Make the hub simulator answer ``GetPatientsAreas`` from ``register`` (shared with the attachment
    and home-call simulators, so an attachment that completes there moves the patient here too)."""
    _REGISTERS[state] = register


def register_of(state: FerSimulatorState) -> AttachmentRegister:
    """The register the hub simulator uses (built from its region on first use, if none was given)."""
    register = _REGISTERS.get(state)
    if register is None:
        register = AttachmentRegister(state.region, today=state.now().date())
        _REGISTERS[state] = register
    return register


def get_patients_areas(state: FerSimulatorState, params: Any, id_history: int) -> etree._Element:
    """The simulator's ``GetPatientsAreas`` handler (registered in ``integrations.fer.simulator.HANDLERS``)."""
    mo_id = params.required("idLpu")
    patient_id = params.required("idPat")
    known = state.patient(patient_id)
    if known is None or known[0] != mo_id:
        raise HubBusinessError(HubErrorCode.PATIENT_NOT_FOUND, "неизвестный идентификатор пациента в МО")
    register = register_of(state)
    entry = register.current(known[1].esia_oid)
    area = register.area(entry.area_id) if entry is not None and entry.area_id and entry.mo_id == mo_id else None
    env, result = soap.new_result("GetPatientsAreas", id_history=id_history)
    container = soap.add_container(result, "PatientsAreaList")
    if area is not None:
        el = soap.add_container(container, "PatientsArea")
        soap.add(el, "Area", area.number)
        soap.add(el, "AreaType", AreaType(area.area_type).wire_name)
        # Extension members of the simulator (after the contract's own): the area doctor and the clinic.
        soap.add(el, "IdDoc", area.doctor_id)
        soap.add(el, "IdLpu", area.mo_id)
    return env
