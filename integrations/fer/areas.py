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
