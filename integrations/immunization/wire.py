"""The FHIR R4 JSON of the immunization register (see :mod:`.protocol`): to and from the dataclasses."""

from __future__ import annotations

from datetime import date
from typing import Any

from integrations.immunization.protocol import (
    EXEMPTION_PERIOD_URL,
    ICD10_OID,
    VACCINES_OID,
    RegisterExemption,
    RegisterImmunization,
)


class WireError(ValueError):
    """The JSON is not the contract's shape."""


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": f"urn:oid:{system}", "code": code}
    if display:
        coding["display"] = display
    return coding


def immunization_json(item: RegisterImmunization) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": item.id,
        "status": "completed",
        "vaccineCode": {
            "coding": [_coding(VACCINES_OID, item.vaccine_code)] if item.vaccine_code else [],
            "text": item.vaccine_name,
        },
        "occurrenceDateTime": item.given_on.isoformat(),
        "protocolApplied": [
            {
                "targetDisease": [{"coding": [_coding(ICD10_OID, c)]} for c in item.target_diseases],
                **({"doseNumberPositiveInt": item.dose_number} if item.dose_number else {"doseNumberString": "н/д"}),
            }
        ],
    }
    if item.lot:
        resource["lotNumber"] = item.lot
    if item.performer:
        resource["performer"] = [{"actor": {"display": item.performer}}]
    if item.clinic:
        resource["location"] = {"display": item.clinic}
    return resource


def exemption_json(item: RegisterExemption) -> dict[str, Any]:
    period = {"start": item.start.isoformat(), **({"end": item.end.isoformat()} if item.end else {})}
    return {
        "resourceType": "Immunization",
        "id": item.id,
        "status": "not-done",
        "statusReason": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "MEDPREC"}]
        },
        "extension": [{"url": EXEMPTION_PERIOD_URL, "valuePeriod": period}],
        "note": [{"text": item.reason}] if item.reason else [],
        "protocolApplied": [{"targetDisease": [{"coding": [_coding(ICD10_OID, c)]} for c in item.target_diseases]}],
    }


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def _date(value: Any, what: str) -> date:
    if not isinstance(value, str):
        raise WireError(f"{what}: no date")
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise WireError(f"{what}: not a date: {value!r}") from exc


def _codes(resource: dict[str, Any], system: str) -> tuple[str, ...]:
    codes: list[str] = []
    for applied in resource.get("protocolApplied") or []:
        for disease in applied.get("targetDisease") or []:
            for coding in disease.get("coding") or []:
                if coding.get("system") == f"urn:oid:{system}" and isinstance(coding.get("code"), str):
                    codes.append(coding["code"])
    return tuple(codes)


def resources_of(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise WireError("not a Bundle")
    entries = body.get("entry") or []
    if not isinstance(entries, list):
        raise WireError("Bundle.entry is not a list")
    resources = [e.get("resource") for e in entries if isinstance(e, dict)]
    if any(not isinstance(r, dict) or r.get("resourceType") != "Immunization" for r in resources):
        raise WireError("a Bundle entry is not an Immunization")
    return [r for r in resources if isinstance(r, dict)]


def immunization_from_json(resource: dict[str, Any]) -> RegisterImmunization:
    if not isinstance(resource.get("id"), str):
        raise WireError("Immunization.id missing")
    vaccine = resource.get("vaccineCode") or {}
    code = next(
        (c.get("code") for c in vaccine.get("coding") or [] if c.get("system") == f"urn:oid:{VACCINES_OID}"), None
    )
    applied = (resource.get("protocolApplied") or [{}])[0]
    dose = applied.get("doseNumberPositiveInt")
    performer = next((p.get("actor", {}).get("display") for p in resource.get("performer") or []), None)
    return RegisterImmunization(
        id=resource["id"],
        given_on=_date(resource.get("occurrenceDateTime"), "occurrenceDateTime"),
        vaccine_code=code if isinstance(code, str) else None,
        vaccine_name=vaccine.get("text") if isinstance(vaccine.get("text"), str) else None,
        target_diseases=_codes(resource, ICD10_OID),
        dose_number=dose if isinstance(dose, int) and dose > 0 else None,
        lot=resource.get("lotNumber") if isinstance(resource.get("lotNumber"), str) else None,
        clinic=(resource.get("location") or {}).get("display"),
        performer=performer if isinstance(performer, str) else None,
    )


def exemption_from_json(resource: dict[str, Any]) -> RegisterExemption:
    if not isinstance(resource.get("id"), str) or resource.get("status") != "not-done":
        raise WireError("not an exemption")
    period = next(
        (e.get("valuePeriod") for e in resource.get("extension") or [] if e.get("url") == EXEMPTION_PERIOD_URL), None
    )
    if not isinstance(period, dict):
        raise WireError("exemption without its period")
    start = _date(period.get("start"), "period.start")
    end = _date(period["end"], "period.end") if period.get("end") else None
    if end is not None and end < start:
        raise WireError("period ends before it starts")
    note = next((n.get("text") for n in resource.get("note") or [] if isinstance(n, dict)), None)
    return RegisterExemption(
        id=resource["id"],
        start=start,
        end=end,
        target_diseases=_codes(resource, ICD10_OID),
        reason=note if isinstance(note, str) else None,
    )
