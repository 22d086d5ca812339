"""The JSON of the СМП feed (``protocols.md`` §8 shape): encode and decode, :class:`WireError` on nonsense."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from integrations.smp.protocol import (
    MAX_BATCH,
    Brigade,
    CallSnapshot,
    CallStatus,
    CrewProfile,
    EventKind,
    FeedEvent,
    Hospital,
    PatientRef,
    Place,
    Position,
    SharedLocation,
    StatusStep,
)

BASE_PATH = "/smp/v1"


class WireError(ValueError):
    pass


def _aware(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        raise WireError(f"timestamp without an offset: {value!r}")
    return at


def position_json(p: Position) -> dict[str, Any]:
    return {"lat": p.lat, "lon": p.lon, "speedKmh": p.speed_kmh, "heading": p.heading, "ts": p.ts.isoformat()}


def position_from(d: dict[str, Any]) -> Position:
    return Position(float(d["lat"]), float(d["lon"]), float(d["speedKmh"]), float(d["heading"]), _aware(d["ts"]))


def call_json(c: CallSnapshot) -> dict[str, Any]:
    return {
        "callId": c.call_id,
        "status": c.status.value,
        "seq": c.seq,
        "caller": {"phone": c.caller_phone, "esiaOid": c.caller_esia_oid},
        "patient": None
        if c.patient is None
        else {
            "lastName": c.patient.last_name,
            "firstName": c.patient.first_name,
            "birthDate": c.patient.birth_date.isoformat() if c.patient.birth_date else None,
            "snils": c.patient.snils,
            "omsPolicy": c.patient.oms_policy,
        },
        "place": {"lat": c.place.lat, "lon": c.place.lon, "address": c.place.address},
        "districtId": c.district_id,
        "acceptedAt": c.accepted_at.isoformat(),
        "brigade": None
        if c.brigade is None
        else {"id": c.brigade.id, "stationId": c.brigade.station_id, "station": c.brigade.station_name},
        "position": None if c.position is None else position_json(c.position),
        "etaMinutes": c.eta_minutes,
        "hospital": None
        if c.hospital is None
        else {"id": c.hospital.id, "name": c.hospital.name, "lat": c.hospital.lat, "lon": c.hospital.lon},
        "history": [{"status": s.status.value, "at": s.at.isoformat()} for s in c.history],
    }


def call_from(d: dict[str, Any]) -> CallSnapshot:
    try:
        patient = d.get("patient")
        brigade = d.get("brigade")
        hospital = d.get("hospital")
        caller = d["caller"]
        return CallSnapshot(
            call_id=str(d["callId"]),
            status=CallStatus(d["status"]),
            seq=int(d.get("seq") or 0),
            caller_phone=str(caller["phone"]),
            caller_esia_oid=caller.get("esiaOid"),
            patient=None
            if not patient
            else PatientRef(
                last_name=str(patient["lastName"]),
                first_name=str(patient["firstName"]),
                birth_date=date.fromisoformat(patient["birthDate"]) if patient.get("birthDate") else None,
                snils=patient.get("snils"),
                oms_policy=patient.get("omsPolicy"),
            ),
            place=Place(float(d["place"]["lat"]), float(d["place"]["lon"]), str(d["place"].get("address") or "")),
            district_id=str(d.get("districtId") or ""),
            accepted_at=_aware(d["acceptedAt"]),
            brigade=None
            if not brigade
            else Brigade(str(brigade["id"]), str(brigade["stationId"]), str(brigade["station"])),
            position=position_from(d["position"]) if d.get("position") else None,
            eta_minutes=int(d["etaMinutes"]) if d.get("etaMinutes") is not None else None,
            hospital=None
            if not hospital
            else Hospital(str(hospital["id"]), str(hospital["name"]), float(hospital["lat"]), float(hospital["lon"])),
            history=tuple(StatusStep(CallStatus(s["status"]), _aware(s["at"])) for s in d.get("history") or ()),
        )
    except WireError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"not a call document: {exc}") from None


def event_json(e: FeedEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"callId": e.call_id, "seq": e.seq, "kind": e.kind.value, "sentAt": e.sent_at.isoformat()}
    if e.call is not None:
        out["call"] = call_json(e.call)
    if e.position is not None:
        out["position"] = position_json(e.position)
    if e.eta_minutes is not None:
        out["etaMinutes"] = e.eta_minutes
    return out


def event_from(d: Any) -> FeedEvent:
    if not isinstance(d, dict):
        raise WireError("an event is a JSON object")
    try:
        kind = EventKind(d["kind"])
        event = FeedEvent(
            call_id=str(d["callId"]),
            seq=int(d["seq"]),
            kind=kind,
            sent_at=_aware(d["sentAt"]),
            call=call_from(d["call"]) if d.get("call") else None,
            position=position_from(d["position"]) if d.get("position") else None,
            eta_minutes=int(d["etaMinutes"]) if d.get("etaMinutes") is not None else None,
        )
    except WireError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"not a feed event: {exc}") from None
    if (
        event.seq < 1
        or (kind is EventKind.STATUS and event.call is None)
        or (kind is EventKind.POSITION and event.position is None)
    ):
        raise WireError("a status event carries the call, a position event the position; seq starts at 1")
    return event


def batch_json(events: list[FeedEvent]) -> dict[str, Any]:
    """A push of several events: ``{"events": [...]}``, in the order they happened."""
    return {"events": [event_json(e) for e in events]}


def events_from(d: Any) -> list[FeedEvent]:
    """The events of one push: a single event object, or a batch ``{"events": [...]}`` (1 to
    :data:`~integrations.smp.protocol.MAX_BATCH` events)."""
    if isinstance(d, dict) and "events" in d:
        batch = d["events"]
        if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_BATCH:
            raise WireError(f"a batch is a list of 1 to {MAX_BATCH} events")
        return [event_from(e) for e in batch]
    return [event_from(d)]


def location_json(loc: SharedLocation) -> dict[str, Any]:
    return {"lat": loc.lat, "lon": loc.lon, "accuracyM": loc.accuracy_m, "at": loc.at.isoformat()}


def location_from(d: dict[str, Any]) -> SharedLocation:
    acc = d.get("accuracyM")
    return SharedLocation(float(d["lat"]), float(d["lon"]), float(acc) if acc is not None else None, _aware(d["at"]))


def profile_json(p: CrewProfile) -> dict[str, Any]:
    return {
        "bloodGroup": p.blood_group,
        "allergies": list(p.allergies),
        "chronicConditions": list(p.chronic_conditions),
        "contact": {"name": p.contact_name, "phone": p.contact_phone} if p.contact_phone else None,
    }


def profile_from(d: dict[str, Any]) -> CrewProfile:
    contact = d.get("contact") or {}
    return CrewProfile(
        blood_group=d.get("bloodGroup"),
        allergies=tuple(str(a) for a in d.get("allergies") or ()),
        chronic_conditions=tuple(str(c) for c in d.get("chronicConditions") or ()),
        contact_name=contact.get("name"),
        contact_phone=contact.get("phone"),
    )
