"""The JSON shapes of the ЛЛО contract and the clinic-requests contract (``protocols.md`` §7's example is a
prescription as :func:`prescription_json` writes it), shared by the client and the simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, TypeVar

from integrations.llo.protocol import (
    Applicant,
    Beneficiary,
    Benefit,
    BenefitLevel,
    CertificateKind,
    ClinicRequestForm,
    ClinicRequestInfo,
    ClinicRequestKind,
    ClinicRequestStatus,
    ClinicRequestStep,
    Deferral,
    Drug,
    Financing,
    LloEvent,
    LloEventKind,
    LloEventPage,
    NsuDecision,
    OpeningHours,
    Pharmacy,
    Prescription,
    PrescriptionSemd,
    PrescriptionStatus,
    StockItem,
)

LLO_BASE = "/llo/v1"
REQUESTS_BASE = "/mis-requests/v1"

T = TypeVar("T")


class WireError(ValueError):
    """A body that does not have the contract's shape."""


def _get(data: Any, name: str) -> Any:
    if not isinstance(data, dict) or name not in data:
        raise WireError(f"нет поля {name}")
    return data[name]


def _opt(data: Any, name: str) -> Any:
    if not isinstance(data, dict):
        raise WireError("ожидался объект")
    return data.get(name)


def _str(data: Any, name: str) -> str:
    value = _get(data, name)
    if not isinstance(value, str):
        raise WireError(f"{name}: ожидалась строка")
    return value


def _int(data: Any, name: str) -> int:
    value = _get(data, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{name}: ожидалось целое число")
    return value


def _day(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise WireError(f"{name}: некорректная дата") from exc


def _opt_day(data: Any, name: str) -> date | None:
    value = _opt(data, name)
    return None if value is None else _day(value, name)


def _moment(value: Any, name: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise WireError(f"{name}: некорректное время") from exc


def _enum(kind: Callable[[str], T], value: Any, name: str) -> T:
    try:
        return kind(str(value))
    except ValueError as exc:
        raise WireError(f"{name}: неизвестное значение {value!r}") from exc


def _list(data: Any, name: str) -> list[Any]:
    value = _get(data, name)
    if not isinstance(value, list):
        raise WireError(f"{name}: ожидался список")
    return value


# -- beneficiaries ---------------------------------------------------------------------------------


def beneficiary_json(b: Beneficiary) -> dict[str, Any]:
    return {
        "snils": b.snils,
        "benefits": [
            {
                "code": x.code,
                "codeSystem": x.code_system,
                "name": x.name,
                "level": x.level.value,
                "validFrom": x.valid_from.isoformat(),
                "validUntil": x.valid_until.isoformat() if x.valid_until else None,
            }
            for x in b.benefits
        ],
        "nsu": [
            {"year": n.year, "refused": n.refused, "decidedOn": n.decided_on.isoformat() if n.decided_on else None}
            for n in b.nsu
        ],
        "address": b.address,
        "location": None if b.latitude is None else {"lat": b.latitude, "lon": b.longitude},
    }


def beneficiary_from_json(data: Any) -> Beneficiary:
    location = _opt(data, "location")
    return Beneficiary(
        snils=_str(data, "snils"),
        benefits=tuple(
            Benefit(
                code=_str(x, "code"),
                code_system=_str(x, "codeSystem"),
                name=_str(x, "name"),
                level=_enum(BenefitLevel, _get(x, "level"), "level"),
                valid_from=_day(_get(x, "validFrom"), "validFrom"),
                valid_until=_opt_day(x, "validUntil"),
            )
            for x in _list(data, "benefits")
        ),
        nsu=tuple(
            NsuDecision(year=_int(n, "year"), refused=bool(_get(n, "refused")), decided_on=_opt_day(n, "decidedOn"))
            for n in _list(data, "nsu")
        ),
        address=_opt(data, "address"),
        latitude=float(_get(location, "lat")) if location else None,
        longitude=float(_get(location, "lon")) if location else None,
    )


# -- prescriptions ---------------------------------------------------------------------------------


def prescription_json(p: Prescription) -> dict[str, Any]:
    deferral = p.deferral
    return {
        "id": p.id,
        "snils": p.snils,
        "series": p.series,
        "number": p.number,
        "barcode": p.barcode,
        "issuedAt": p.issued_on.isoformat(),
        "validDays": p.valid_days,
        "drug": {
            "mnn": p.drug.mnn,
            "dosage": p.drug.dosage,
            "form": p.drug.form,
            "narcoticSchedule": p.drug.narcotic_schedule,
        },
        "quantity": p.quantity,
        "dispensedQuantity": p.dispensed_quantity,
        "financing": p.financing.value,
        "benefit": None if p.benefit_code is None else {"category": p.benefit_code, "level": p.financing.value},
        "chronic": p.chronic,
        "status": p.status.value,
        "deferredDue": deferral.due_on.isoformat() if deferral else None,
        "deferral": None
        if deferral is None
        else {
            "pharmacyId": deferral.pharmacy_id,
            "registeredOn": deferral.registered_on.isoformat(),
            "dueOn": deferral.due_on.isoformat(),
            "arrivedOn": deferral.arrived_on.isoformat() if deferral.arrived_on else None,
        },
        "semd": {"kind": p.semd.kind, "prescription": p.semd.prescription, "dispensing": list(p.semd.dispensing)},
        "doctor": p.doctor_name,
        "organisation": p.mo_name,
        "dosing": p.dosing,
    }


def prescription_from_json(data: Any) -> Prescription:
    drug = _get(data, "drug")
    benefit = _opt(data, "benefit")
    deferral = _opt(data, "deferral")
    semd = _get(data, "semd")
    return Prescription(
        id=_str(data, "id"),
        snils=_str(data, "snils"),
        series=_str(data, "series"),
        number=_str(data, "number"),
        barcode=_str(data, "barcode"),
        issued_on=_day(_get(data, "issuedAt"), "issuedAt"),
        valid_days=_int(data, "validDays"),
        drug=Drug(
            mnn=_str(drug, "mnn"),
            dosage=_str(drug, "dosage"),
            form=_opt(drug, "form") or "",
            narcotic_schedule=_opt(drug, "narcoticSchedule"),
        ),
        quantity=_int(data, "quantity"),
        dispensed_quantity=_int(data, "dispensedQuantity"),
        financing=_enum(Financing, _get(data, "financing"), "financing"),
        status=_enum(PrescriptionStatus, _get(data, "status"), "status"),
        semd=PrescriptionSemd(
            kind=_str(semd, "kind"),
            prescription=_opt(semd, "prescription"),
            dispensing=tuple(str(x) for x in _opt(semd, "dispensing") or ()),
        ),
        benefit_code=None if benefit is None else _str(benefit, "category"),
        chronic=bool(_opt(data, "chronic")),
        doctor_name=_opt(data, "doctor"),
        mo_name=_opt(data, "organisation"),
        dosing=_opt(data, "dosing"),
        deferral=None
        if deferral is None
        else Deferral(
            pharmacy_id=_str(deferral, "pharmacyId"),
            registered_on=_day(_get(deferral, "registeredOn"), "registeredOn"),
            due_on=_day(_get(deferral, "dueOn"), "dueOn"),
            arrived_on=_opt_day(deferral, "arrivedOn"),
        ),
    )


# -- pharmacies and stock --------------------------------------------------------------------------


def pharmacy_json(p: Pharmacy) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "address": p.address,
        "location": {"lat": p.latitude, "lon": p.longitude},
        "preferential": p.preferential,
        "phone": p.phone,
        "hours": [
            {"days": h.days, "weekdays": list(h.weekdays), "opens": h.opens.isoformat("minutes"),
             "closes": h.closes.isoformat("minutes")}
            for h in p.hours
        ],
    }  # fmt: skip


def pharmacy_from_json(data: Any) -> Pharmacy:
    location = _get(data, "location")
    try:
        hours = tuple(
            OpeningHours(
                days=_str(h, "days"),
                weekdays=tuple(int(d) for d in _list(h, "weekdays")),
                opens=time.fromisoformat(_str(h, "opens")),
                closes=time.fromisoformat(_str(h, "closes")),
            )
            for h in _list(data, "hours")
        )
    except (TypeError, ValueError) as exc:
        raise WireError(f"hours: {exc}") from exc
    return Pharmacy(
        id=_str(data, "id"),
        name=_str(data, "name"),
        address=_str(data, "address"),
        latitude=float(_get(location, "lat")),
        longitude=float(_get(location, "lon")),
        preferential=bool(_get(data, "preferential")),
        hours=hours,
        phone=_opt(data, "phone"),
    )


def stock_json(s: StockItem) -> dict[str, Any]:
    return {
        "pharmacyId": s.pharmacy_id,
        "mnn": s.mnn,
        "dosage": s.dosage,
        "quantity": s.quantity,
        "updatedAt": s.updated_at.isoformat(),
    }


def stock_from_json(data: Any) -> StockItem:
    return StockItem(
        pharmacy_id=_str(data, "pharmacyId"),
        mnn=_str(data, "mnn"),
        dosage=_str(data, "dosage"),
        quantity=_int(data, "quantity"),
        updated_at=_moment(_get(data, "updatedAt"), "updatedAt"),
    )


def event_json(e: LloEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "kind": e.kind.value,
        "prescriptionId": e.prescription_id,
        "snils": e.snils,
        "at": e.at.isoformat(),
    }


def event_page_from_json(data: Any) -> LloEventPage:
    return LloEventPage(
        events=tuple(
            LloEvent(
                seq=_int(e, "seq"),
                kind=_enum(LloEventKind, _get(e, "kind"), "kind"),
                prescription_id=_str(e, "prescriptionId"),
                snils=_str(e, "snils"),
                at=_moment(_get(e, "at"), "at"),
            )
            for e in _list(data, "events")
        ),
        last=_int(data, "last"),
    )


# -- the clinic's requests -------------------------------------------------------------------------


def form_json(f: ClinicRequestForm) -> dict[str, Any]:
    a = f.applicant
    return {
        "kind": f.kind.value,
        "applicant": {
            "snils": a.snils,
            "lastName": a.last_name,
            "firstName": a.first_name,
            "middleName": a.middle_name,
            "birthDate": a.birth_date.isoformat(),
            "omsNumber": a.oms_number,
            "phone": a.phone,
        },
        "prescriptionId": f.prescription_id,
        "certificate": f.certificate.value if f.certificate else None,
        "purpose": f.purpose,
        "taxYear": f.tax_year,
        "comment": f.comment,
    }


def form_from_json(data: Any) -> ClinicRequestForm:
    a = _get(data, "applicant")
    certificate = _opt(data, "certificate")
    tax_year = _opt(data, "taxYear")
    return ClinicRequestForm(
        kind=_enum(ClinicRequestKind, _get(data, "kind"), "kind"),
        applicant=Applicant(
            snils=_str(a, "snils"),
            last_name=_str(a, "lastName"),
            first_name=_str(a, "firstName"),
            middle_name=_opt(a, "middleName"),
            birth_date=_day(_get(a, "birthDate"), "birthDate"),
            oms_number=_opt(a, "omsNumber"),
            phone=_opt(a, "phone"),
        ),
        prescription_id=_opt(data, "prescriptionId"),
        certificate=None if certificate is None else _enum(CertificateKind, certificate, "certificate"),
        purpose=_opt(data, "purpose"),
        tax_year=int(tax_year) if tax_year is not None else None,
        comment=_opt(data, "comment"),
    )


def request_json(r: ClinicRequestInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind.value,
        "status": r.status.value,
        "snils": r.snils,
        "submittedAt": r.submitted_at.isoformat(),
        "updatedAt": r.updated_at.isoformat(),
        "history": [{"status": s.status.value, "at": s.at.isoformat(), "comment": s.comment} for s in r.history],
        "certificate": r.certificate.value if r.certificate else None,
        "prescriptionId": r.prescription_id,
        "refusalReason": r.refusal_reason,
        "result": {"prescriptionId": r.result_prescription_id, "registryNumber": r.result_registry_number},
        "doctor": r.doctor_name,
    }


def request_from_json(data: Any) -> ClinicRequestInfo:
    certificate = _opt(data, "certificate")
    result = _opt(data, "result") or {}
    return ClinicRequestInfo(
        id=_str(data, "id"),
        kind=_enum(ClinicRequestKind, _get(data, "kind"), "kind"),
        status=_enum(ClinicRequestStatus, _get(data, "status"), "status"),
        snils=_str(data, "snils"),
        submitted_at=_moment(_get(data, "submittedAt"), "submittedAt"),
        updated_at=_moment(_get(data, "updatedAt"), "updatedAt"),
        history=tuple(
            ClinicRequestStep(
                status=_enum(ClinicRequestStatus, _get(s, "status"), "status"),
                at=_moment(_get(s, "at"), "at"),
                comment=_opt(s, "comment"),
            )
            for s in _list(data, "history")
        ),
        certificate=None if certificate is None else _enum(CertificateKind, certificate, "certificate"),
        prescription_id=_opt(data, "prescriptionId"),
        refusal_reason=_opt(data, "refusalReason"),
        result_prescription_id=_opt(result, "prescriptionId"),
        result_registry_number=_opt(result, "registryNumber"),
        doctor_name=_opt(data, "doctor"),
    )
