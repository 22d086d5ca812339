"""The JSON shapes of the attachment contract (ours: see :mod:`integrations.attachment.protocol`).

``/attachment/v1``:

* ``GET  /persons/{oms_number}/attachment`` → ``{"attachment": Record | null}``; 404 ``not_insured``;
* ``POST /applications`` (header ``Idempotency-Key``) → 201 Application (200 for a repeated key);
  409 ``application_pending``, 422 ``organisation_not_found`` / ``not_insured`` / ``bad_request``;
* ``GET  /applications/{id}`` → Application; 404 ``application_not_found``;
* ``GET  /applications?oms_number=…&changed_since=…`` → ``{"applications": [Application]}``.

Errors: ``{"error": {"code": "…", "message": "…"}}`` with the HTTP status above, 401 ``unauthorized``.
Dates are ISO 8601 (``YYYY-MM-DD``), moments naive local ISO (``YYYY-MM-DDTHH:MM:SS``) as the
region's other upstreams send them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from integrations.attachment.protocol import (
    ApplicationForm,
    ApplicationInfo,
    ApplicationStatus,
    AttachmentMethod,
    AttachmentRecord,
    IdentityDocument,
    PersonData,
    RejectionReason,
    Representative,
    StatusStep,
)
from integrations.fer.areas import AreaType

BASE_PATH = "/attachment/v1"


class WireError(ValueError):
    """A JSON document that is not the shape expected."""


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{what}: ожидался объект")
    return value


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value.strip():
        raise WireError(f"нет обязательного поля {key}")
    return value


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"поле {key} должно быть строкой")
    return value or None


def _date(value: Any, key: str) -> date:
    if not isinstance(value, str):
        raise WireError(f"нет даты {key}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise WireError(f"некорректная дата {key}: {value!r}") from exc


def _moment(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise WireError(f"нет времени {key}")
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError as exc:
        raise WireError(f"некорректное время {key}: {value!r}") from exc


def _enum(kind: Any, value: Any, key: str) -> Any:
    try:
        return kind(value)
    except ValueError as exc:
        raise WireError(f"неизвестное значение {key}: {value!r}") from exc


# -- the form ------------------------------------------------------------------------------------


def _document_json(doc: IdentityDocument | None) -> dict[str, Any] | None:
    return None if doc is None else {"kind": doc.kind, "series": doc.series, "number": doc.number}


def _document(value: Any) -> IdentityDocument | None:
    if value is None:
        return None
    d = _obj(value, "document")
    return IdentityDocument(kind=_str(d, "kind"), series=_opt_str(d, "series"), number=_str(d, "number"))


def form_json(form: ApplicationForm) -> dict[str, Any]:
    p = form.person
    r = form.representative
    return {
        "person": {
            "last_name": p.last_name,
            "first_name": p.first_name,
            "middle_name": p.middle_name,
            "birth_date": p.birth_date.isoformat(),
            "sex": p.sex,
            "oms_number": p.oms_number,
            "snils": p.snils,
            "phone": p.phone,
            "email": p.email,
            "document": _document_json(p.document),
        },
        "mo_id": form.mo_id,
        "registration_address": form.registration_address,
        "residence_address": form.residence_address,
        "change_of_residence": form.change_of_residence,
        "representative": None
        if r is None
        else {
            "last_name": r.last_name,
            "first_name": r.first_name,
            "middle_name": r.middle_name,
            "snils": r.snils,
            "relation": r.relation,
            "document": _document_json(r.document),
        },
        "doctor_id": form.doctor_id,
        "comment": form.comment,
    }


def form_from_json(value: Any) -> ApplicationForm:
    d = _obj(value, "application")
    p = _obj(d.get("person"), "person")
    sex = _str(p, "sex")
    if sex not in ("M", "F"):
        raise WireError(f"некорректный пол {sex!r}")
    person = PersonData(
        last_name=_str(p, "last_name"),
        first_name=_str(p, "first_name"),
        middle_name=_opt_str(p, "middle_name"),
        birth_date=_date(p.get("birth_date"), "birth_date"),
        sex=sex,
        oms_number=_str(p, "oms_number"),
        snils=_opt_str(p, "snils"),
        phone=_opt_str(p, "phone"),
        email=_opt_str(p, "email"),
        document=_document(p.get("document")),
    )
    representative = None
    if d.get("representative") is not None:
        r = _obj(d["representative"], "representative")
        representative = Representative(
            last_name=_str(r, "last_name"),
            first_name=_str(r, "first_name"),
            middle_name=_opt_str(r, "middle_name"),
            snils=_str(r, "snils"),
            relation=_str(r, "relation"),
            document=_document(r.get("document")),
        )
    change = d.get("change_of_residence", False)
    if not isinstance(change, bool):
        raise WireError("change_of_residence должно быть логическим значением")
    return ApplicationForm(
        person=person,
        mo_id=_str(d, "mo_id"),
        registration_address=_str(d, "registration_address"),
        residence_address=_opt_str(d, "residence_address"),
        change_of_residence=change,
        representative=representative,
        doctor_id=_opt_str(d, "doctor_id"),
        comment=_opt_str(d, "comment"),
    )


# -- the record and the application --------------------------------------------------------------


def record_json(record: AttachmentRecord) -> dict[str, Any]:
    area = None
    if record.area_number is not None:
        area = {
            "number": record.area_number,
            "type": int(record.area_type) if record.area_type is not None else None,
            "doctor": None
            if record.doctor_id is None
            else {"id": record.doctor_id, "snils": record.doctor_snils, "name": record.doctor_name},
        }
    return {
        "oms_number": record.oms_number,
        "mo_id": record.mo_id,
        "mo_oid": record.mo_oid,
        "mo_name": record.mo_name,
        "area": area,
        "attached_on": record.attached_on.isoformat(),
        "method": record.method.value,
    }


def record_from_json(value: Any) -> AttachmentRecord:
    d = _obj(value, "attachment")
    area = d.get("area")
    number = area_type = doctor_id = doctor_snils = doctor_name = None
    if area is not None:
        a = _obj(area, "area")
        number = _str(a, "number")
        area_type = None if a.get("type") is None else _enum(AreaType, a.get("type"), "area.type")
        if a.get("doctor") is not None:
            doc = _obj(a["doctor"], "doctor")
            doctor_id, doctor_snils, doctor_name = _str(doc, "id"), _opt_str(doc, "snils"), _opt_str(doc, "name")
    return AttachmentRecord(
        oms_number=_str(d, "oms_number"),
        mo_id=_str(d, "mo_id"),
        mo_oid=_opt_str(d, "mo_oid"),
        mo_name=_opt_str(d, "mo_name"),
        area_number=number,
        area_type=area_type,
        doctor_id=doctor_id,
        doctor_snils=doctor_snils,
        doctor_name=doctor_name,
        attached_on=_date(d.get("attached_on"), "attached_on"),
        method=_enum(AttachmentMethod, d.get("method"), "method"),
    )


def application_json(info: ApplicationInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "status": info.status.value,
        "mo_id": info.mo_id,
        "oms_number": info.oms_number,
        "submitted_at": info.submitted_at.isoformat(timespec="seconds"),
        "updated_at": info.updated_at.isoformat(timespec="seconds"),
        "history": [
            {"status": s.status.value, "at": s.at.isoformat(timespec="seconds"), "comment": s.comment}
            for s in info.history
        ],
        "rejection": None
        if info.rejection_reason is None
        else {
            "reason": info.rejection_reason.value,
            "message": info.rejection_reason.message_ru,
            "comment": info.rejection_comment,
        },
        "attached_on": info.attached_on.isoformat() if info.attached_on else None,
    }


def application_from_json(value: Any) -> ApplicationInfo:
    d = _obj(value, "application")
    history = d.get("history")
    if not isinstance(history, list):
        raise WireError("нет истории статусов")
    steps = tuple(
        StatusStep(
            status=_enum(ApplicationStatus, _obj(s, "history").get("status"), "history.status"),
            at=_moment(s.get("at"), "history.at"),
            comment=_opt_str(s, "comment"),
        )
        for s in history
    )
    reason = comment = None
    if d.get("rejection") is not None:
        rejection = _obj(d["rejection"], "rejection")
        reason = _enum(RejectionReason, rejection.get("reason"), "rejection.reason")
        comment = _opt_str(rejection, "comment")
    status = _enum(ApplicationStatus, d.get("status"), "status")
    if status is ApplicationStatus.REJECTED and reason is None:
        raise WireError("отказ без причины")
    return ApplicationInfo(
        id=_str(d, "id"),
        status=status,
        mo_id=_str(d, "mo_id"),
        oms_number=_str(d, "oms_number"),
        submitted_at=_moment(d.get("submitted_at"), "submitted_at"),
        updated_at=_moment(d.get("updated_at"), "updated_at"),
        history=steps,
        rejection_reason=reason,
        rejection_comment=comment,
        attached_on=None if d.get("attached_on") is None else _date(d.get("attached_on"), "attached_on"),
    )
