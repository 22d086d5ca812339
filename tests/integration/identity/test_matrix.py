"""The authorization matrix: every GraphQL operation × every kind of caller, against one target patient.

Kept complete as domains are added: a root field of the built schema (Query, Mutation, Subscription)
without a row here fails :func:`test_every_operation_has_a_row`. Add a row per new operation:

* ``public("why")`` — reference data or a login step, open to anyone (not executed here);
* ``standard(doc, vars, scope)`` — a patient-data operation taking ``actingFor``: the patient, a valid
  proxy, and (within their scopes) an operator's on-behalf session and a kiosk session may; everyone
  else may not;
* ``sensitive(doc, vars, scope)`` — the same for a sensitive action (cancelling, rescheduling), except
  that an operator's on-behalf session must first have the caller's SMS code confirmed
  (``CONFIRMATION_REQUIRED`` without it);
* ``Row(doc, vars, expected)`` — anything else, with an explicit outcome per principal.

Each principal meets a world of its own (a fresh target patient the hub knows, fresh grants, a hold, a
booked appointment, free slots, a live SMS code where the row needs one; a plain query, which changes nothing
another principal could see, lets all principals read one world), so that an allowed call must
succeed: an allowed row ends in its success type, and its ``check`` proves it did what it says; a
business refusal past the policy fails the row. Subscriptions go over the app's websocket
(graphql-transport-ws); an allowed one receives an item published for the target.

Refusals must not leak the target: a refused answer, and anything another patient gets, never contains
the target's id or surname.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from backend.api.schema import build_schema
from backend.booking import service as booking
from backend.core.context import Channel
from backend.core.uow import UnitOfWork
from backend.documents.models import DocumentAccessGrant, MedicalDocument, ProfileEntry
from backend.home_visits import service as home_visits
from backend.identity import codes, policy, sessions, tokens
from backend.identity.models import ProxyGrant
from backend.identity.service import memory_sms
from backend.runtime import Runtime
from backend.settings import Settings
from backend.vault import service as vault
from backend.vault.store import FileBlobStore
from notifications.channels import InboxEvent
from tests.support import care_matrix, drugs_matrix
from tests.support.ambulance_matrix import ambulance_rows
from tests.support.booking import ADULT_MO, EYE, OTHER_MO, THERAPIST, TOMORROW, BookingEnv, ctx_for, start_env
from tests.support.call_record_matrix import call_record_rows
from tests.support.care_matrix import care_rows
from tests.support.client import WebSocketClosed, asgi_websocket, gql
from tests.support.home_visits import wire_visits
from tests.support.identity import (
    auth_headers,
    grant_proxy,
    identity_app,
    identity_client,
    identity_schema_modules,
    kiosk_device_token,
    kiosk_session_token,
    make_patient,
    operator_token,
    token_for,
)
from tests.support.insurance_matrix import insurance_rows
from tests.support.vaccination_matrix import vaccination_rows


class P(enum.StrEnum):
    """The principals, each looking at the target patient T."""

    PATIENT = "the patient"
    OTHER = "another patient"
    PROXY = "a valid proxy"
    EXPIRED_PROXY = "an expired proxy"
    NARROW_PROXY = "an out-of-scope proxy (booking only)"
    OPERATOR = "an operator without an on-behalf session"
    ON_BEHALF = "an operator with an on-behalf session for T"
    CONFIRMED = "an operator with an on-behalf session for T, the SMS code confirmed"
    KIOSK = "a kiosk session for T"
    DEVICE = "a kiosk device (no patient)"
    ANONYMOUS = "anonymous"


class O(enum.StrEnum):  # noqa: E742 - the outcome
    ALLOW = "allow"  # the policy let it through and the action succeeded
    REFUSED = "refused"  # the policy let it through but the action ended in a business problem
    DENY = "deny"  # ACCESS_DENIED (or NOT_FOUND for another's object)
    UNAUTH = "unauth"  # NOT_AUTHENTICATED
    CONFIRM = "confirm"  # CONFIRMATION_REQUIRED: an operator needs the caller's SMS code first


@dataclass
class World:
    target: uuid.UUID
    target_surname: str
    target_policy: str
    target_birth: date
    target_phone: str
    third_snils: str
    third_birth: date
    valid_grant: uuid.UUID
    pending_grant: uuid.UUID
    declared_grant: uuid.UUID
    grant_until: date  # a proxy grant's last day that the rules accept
    child_policy: str  # of a child nobody has declared yet
    # Booking: a free slot, T's live hold, T's booked appointment (slots of the hub simulator's region).
    free_slot: str = ""
    other_slot: str = ""
    hold: uuid.UUID | None = None
    appointment: uuid.UUID | None = None
    headers: dict[P, dict[str, str]] = field(default_factory=dict)
    on_behalf_sessions: dict[P, uuid.UUID] = field(default_factory=dict)
    # Vault: a file of T and a share of it.
    vault_file: uuid.UUID | None = None
    vault_share: uuid.UUID | None = None
    code: str = "000000"  # a live SMS code, when the row's ``prepare`` sent one for the principal
    # Documents: T's document row, own profile entry and access grant (made by ``_documents_world``).
    document: uuid.UUID | None = None
    profile_entry: uuid.UUID | None = None
    document_grant: uuid.UUID | None = None
    # Other domains' world (tests/support/<domain>_matrix.py): e.g. T's prescription.
    extra: dict[str, Any] = field(default_factory=dict)


Vars = Callable[[World], dict[str, Any]]
Check = Callable[[World, Any], bool]
Prepare = Callable[[Runtime, World, P], Awaitable[None]]


def _succeeded(w: World, data: Any) -> bool:
    return data is not None


@dataclass(frozen=True)
class Row:
    document: str | None
    variables: Vars
    expected: dict[P, O]
    public: str | None = None
    check: Check = _succeeded  # given the root field's data of an allowed call: did it do what it says?
    prepare: Prepare | None = None  # what the principal's world needs beyond the common one
    # The live bus a subscription row listens on (default: the inbox) and the event published on it.
    bus: Callable[[Runtime], Any] | None = None
    event: str = "e"
    # Business refusals past the policy accepted as "allowed", for rows whose success world is not built
    # yet; a row without them must succeed.
    policy_only: frozenset[str] = frozenset()
    # The hub world the row runs on (default: booking's region and hub client, ``start_env``); e.g. the care
    # world (tests/support/care.py: the prevention rooms, the referral operations, the attachment register).
    env: Callable[[Runtime], Awaitable[BookingEnv]] | None = None
    # ``prepare`` only for the principals the row allows (a refusal by the policy comes before the object is
    # looked up, so the others meet the common world and ids that name nothing): a costly world built less.
    prepare_allowed_only: bool = False
    # Once per row, before the first world: what the row's upstreams need over the hub's region (e.g. the
    # home-call and attachment simulators). Unlike ``prepare`` it keeps a plain query's one shared world.
    setup: Callable[[Runtime, BookingEnv], Awaitable[None]] | None = None


def public(reason: str) -> Row:
    return Row(document=None, variables=lambda w: {}, expected={}, public=reason)


def standard(document: str, variables: Vars, scope: str, check: Check = _succeeded, **extra: Any) -> Row:
    """The expectations of a patient-data operation about T within ``scope`` (called with actingFor: T)."""
    return Row(
        document,
        variables,
        {
            P.PATIENT: O.ALLOW,
            P.OTHER: O.DENY,
            P.PROXY: O.ALLOW,
            P.EXPIRED_PROXY: O.DENY,
            P.NARROW_PROXY: O.ALLOW if scope == policy.SCOPE_BOOKING else O.DENY,
            P.OPERATOR: O.DENY,
            P.ON_BEHALF: O.ALLOW if scope in policy.OPERATOR_SCOPES else O.DENY,
            P.CONFIRMED: O.ALLOW if scope in policy.OPERATOR_SCOPES else O.DENY,
            P.KIOSK: O.ALLOW if scope in policy.KIOSK_SCOPES else O.DENY,
            P.DEVICE: O.DENY,
            P.ANONYMOUS: O.UNAUTH,
        },
        check=check,
        **extra,
    )


def sensitive(document: str, variables: Vars, scope: str, check: Check = _succeeded, **extra: Any) -> Row:
    """A sensitive action about T (cancelling, rescheduling): as :func:`standard`, but an operator's
    on-behalf session without the caller's SMS code is asked for it."""
    row = standard(document, variables, scope, check, **extra)
    on_behalf = row.expected[P.ON_BEHALF]
    expected = row.expected | {P.ON_BEHALF: O.CONFIRM if on_behalf is O.ALLOW else on_behalf}
    return dataclasses.replace(row, expected=expected)


def only(
    allowed: set[P],
    document: str,
    variables: Vars,
    *,
    check: Check = _succeeded,
    prepare: Prepare | None = None,
) -> Row:
    """Allowed for ``allowed``, refused (UNAUTH for anonymous) for everyone else."""
    expected = {p: (O.ALLOW if p in allowed else O.UNAUTH if p is P.ANONYMOUS else O.DENY) for p in P}
    return Row(document, variables, expected, check=check, prepare=prepare)


PATIENTS = {P.PATIENT, P.OTHER, P.PROXY, P.EXPIRED_PROXY, P.NARROW_PROXY}
PROBLEM = "__typename ... on Problem { code }"


def is_type(typename: str) -> Check:
    """The answer is the union member ``typename`` (the mutation's success)."""
    return lambda w, data: data.get("__typename") == typename


def _the_target(w: World, data: Any) -> bool:
    return bool(data.get("id") == str(w.target))


def _lists_the_appointment(w: World, data: Any) -> bool:
    return str(w.appointment) in {a["id"] for a in data}


async def _on_behalf_code(runtime: Runtime, w: World, principal: P) -> None:
    """A live SMS code for the principal's on-behalf session (as ``openOnBehalfSession(sendSmsCode)``)."""
    session_id = w.on_behalf_sessions.get(principal)
    if session_id is not None:
        w.code = await _sent_code(runtime, w, "on_behalf", session_id)


async def _proxy_grant_code(runtime: Runtime, w: World, principal: P) -> None:
    """A live SMS code for T's pending grant (as ``grantProxy`` sends it to the principal)."""
    w.code = await _sent_code(runtime, w, "proxy_grant", w.pending_grant)


async def _sent_code(runtime: Runtime, w: World, purpose: str, target_id: uuid.UUID) -> str:
    async with UnitOfWork(runtime, ctx_for(w.target)) as uow:
        await codes.send_code(
            uow,
            purpose=purpose,
            target_id=target_id,
            patient_id=w.target,
            phone=w.target_phone,
            text="Код {code}",
            at=tokens.now(runtime),
        )
    await runtime.relay.drain()
    code = memory_sms(runtime).last_code(w.target_phone)
    assert code is not None
    return code


def _t(w: World) -> dict[str, Any]:
    return {"t": str(w.target)}


def _keyed(**fields: Callable[[World], Any]) -> Vars:
    """Variables with actingFor T and a fresh idempotency key for every call (no replays between principals)."""
    return lambda w: {"t": str(w.target), "k": uuid.uuid4().hex} | {name: get(w) for name, get in fields.items()}


_SUCCESS = {
    "holdSlot": "... on SlotHeld { hold { id status } }",
    "releaseHold": "... on HoldReleased { hold { id status } }",
    "confirmAppointment": "... on AppointmentBooked { appointment { id status } }",
    "bookAppointment": "... on AppointmentBooked { appointment { id status } }",
    "cancelAppointment": "... on AppointmentCancelled { appointment { id status } }",
    "rescheduleAppointment": "... on AppointmentRescheduled { appointment { id status } previous { id status } }",
}


def _booking_mutation(field_name: str, arguments: str, declarations: str) -> str:
    return (
        f"mutation({declarations}, $k: String!, $t: UUID) {{ {field_name}({arguments}, idempotencyKey: $k, "
        f"actingFor: $t) {{ {PROBLEM} {_SUCCESS[field_name]} }} }}"
    )


def _vault_mutation(field_name: str, arguments: str, declarations: str) -> str:
    return (
        f"mutation({declarations}, $k: String!, $t: UUID) {{ {field_name}({arguments}, idempotencyKey: $k, "
        f"actingFor: $t) {{ {PROBLEM} }} }}"
    )


def _hold_is(status: str, *, same: bool) -> Check:
    """A hold in ``status``: T's own hold (``same``) or a new one."""
    return lambda w, d: d["hold"]["status"] == status and (d["hold"]["id"] == str(w.hold)) is same


def _appointment_is(status: str, *, same: bool) -> Check:
    """An appointment in ``status``: T's booked one (``same``) or a new one."""
    return lambda w, d: d["appointment"]["status"] == status and (d["appointment"]["id"] == str(w.appointment)) is same


def _rescheduled(w: World, d: Any) -> bool:
    return bool(
        d["previous"] == {"id": str(w.appointment), "status": "RESCHEDULED"} and d["appointment"]["status"] == "BOOKED"
    )


async def _documents_world(runtime: Runtime, world: World, principal: P) -> None:
    """T's document (as a sync writes it), own profile entry and access grant to a doctor."""
    at = tokens.now(runtime)
    document = MedicalDocument(
        id=uuid.uuid4(), patient_id=world.target, registry_number=f"REMD-{uuid.uuid4().hex[:10]}",
        local_uid=uuid.uuid4().hex, kind="119", title="Протокол консультации", created_at=at,
        org_oid="1.2.643.5.1.13.13.12.2.26.100", content_status="ok", facts=[],
    )  # fmt: skip
    entry = ProfileEntry(
        id=uuid.uuid4(), patient_id=world.target, kind="allergy", text="Пыльца", created_at=at,
        idempotency_key=uuid.uuid4().hex,
    )  # fmt: skip
    grant = DocumentAccessGrant(
        id=uuid.uuid4(), patient_id=world.target, doctor_snils="112-233-445 95", include_profile=True,
        document_ids=[], created_at=at, expires_at=at + timedelta(hours=24), idempotency_key=uuid.uuid4().hex,
    )  # fmt: skip
    async with runtime.sessionmaker() as session, session.begin():
        session.add_all([document, entry, grant])
    world.document, world.profile_entry, world.document_grant = document.id, entry.id, grant.id


def _documents_row(row: Row) -> Row:
    return replace(row, prepare=_documents_world)


HOME_ADDRESS = "г. Ставрополь, ул. Ленина, д. 1"


async def _visits_setup(runtime: Runtime, env: BookingEnv) -> None:
    """The home-call and attachment simulators over the hub's region: its people insured and attached."""
    await wire_visits(runtime, env)


def _passes_home_visit_policy(principal: P) -> bool:
    """Whether the principal gets past the home-visit policy (only their worlds need a window or a visit)."""
    return standard("", _t, policy.SCOPE_HOME_VISITS).expected[principal] in (O.ALLOW, O.CONFIRM)


async def _home_visit_window(runtime: Runtime, w: World, principal: P) -> None:
    """A window T's clinic offers at the address (as ``homeVisitWindows`` shows it); a principal the policy
    turns away gets none (its call never reaches the clinic)."""
    w.extra["window"] = "w-none"
    if not _passes_home_visit_policy(principal):
        return
    offered = await home_visits.windows(
        runtime, ctx_for(w.target), w.target, home_visits.AddressInput(line=HOME_ADDRESS), "+79001234567"
    )
    w.extra["window"] = offered.slots[0].id


async def _home_visit_requested(runtime: Runtime, w: World, principal: P) -> None:
    """T's home visit, requested by T and not yet assigned (so it may be cancelled); none for a principal the
    policy turns away."""
    w.extra["visit"] = uuid.uuid4()
    if not _passes_home_visit_policy(principal):
        return
    await _home_visit_window(runtime, w, principal)
    request = home_visits.VisitRequest(
        reason="fever", window_id=w.extra["window"], phone="+79001234567",
        address=home_visits.AddressInput(line=HOME_ADDRESS),
    )  # fmt: skip
    async with UnitOfWork(runtime, ctx_for(w.target)) as uow:
        visit = await home_visits.request_visit(uow, w.target, request)
    w.extra["visit"] = visit.id


MATRIX: dict[str, Row] = {
    # ------------------------------------------------------------------------------ system, directory
    "apiInfo": public("service version and region"),
    "node": public("relay lookup of public nodes (the region)"),
    "heartbeat": public("connectivity check, no data"),
    "districts": public("directory reference data"),
    "organisations": public("directory reference data"),
    "specialties": public("directory reference data"),
    # ------------------------------------------------------------------------------ identity
    "me": standard("query($t: UUID) { me(actingFor: $t) { id lastName } }", _t, policy.SCOPE_PROFILE, _the_target),
    # The log is read by the patient or their proxy, never by an operator or a kiosk.
    "myAccessLog": Row(
        "query($t: UUID) { myAccessLog(actingFor: $t) { action } }",
        _t,
        standard("", _t, policy.SCOPE_PROFILE).expected | {P.ON_BEHALF: O.DENY, P.CONFIRMED: O.DENY},
    ),
    "myProxies": only(PATIENTS, "{ myProxies { id } }", lambda w: {}),
    "myPrincipals": only(PATIENTS, "{ myPrincipals { id } }", lambda w: {}),
    "staffLogin": public("the operator login step: credentials decide"),
    "openOnBehalfSession": only(
        {P.OPERATOR},
        f"mutation($b: Date!, $p: String) {{ openOnBehalfSession(birthDate: $b, omsPolicy: $p) {{ {PROBLEM}"
        " ... on OnBehalfSession { patient { id } } } }",
        lambda w: {"b": w.target_birth.isoformat(), "p": w.target_policy},
        check=lambda w, d: d["__typename"] == "OnBehalfSession" and d["patient"]["id"] == str(w.target),
    ),
    "confirmOnBehalfCode": only(
        {P.ON_BEHALF, P.CONFIRMED},
        f"mutation($c: String!) {{ confirmOnBehalfCode(code: $c) {{ {PROBLEM}"
        " ... on OnBehalfSession { scopes } } }",
        lambda w: {"c": w.code},
        check=lambda w, d: d["__typename"] == "OnBehalfSession" and policy.SCOPE_SENSITIVE in d["scopes"],
        prepare=_on_behalf_code,
    ),
    "identifyAtKiosk": only(
        {P.DEVICE},
        f"mutation($b: Date!, $p: String!) {{ identifyAtKiosk(birthDate: $b, omsPolicy: $p) {{ {PROBLEM}"
        " ... on KioskSession { patient { id } } } }",
        lambda w: {"b": w.target_birth.isoformat(), "p": w.target_policy},
        check=lambda w, d: d["__typename"] == "KioskSession" and d["patient"]["id"] == str(w.target),
    ),
    "grantProxy": only(
        PATIENTS,
        "mutation($s: String!, $b: Date!, $e: Date!) { grantProxy(proxySnils: $s, proxyBirthDate: $b,"
        f' scopes: ["booking"], expiresOn: $e) {{ {PROBLEM} }} }}',
        lambda w: {"s": w.third_snils, "b": w.third_birth.isoformat(), "e": w.grant_until.isoformat()},
        check=is_type("ProxyGrantPending"),
    ),
    "confirmProxyGrant": only(
        {P.PATIENT},
        f"mutation($g: UUID!, $c: String!) {{ confirmProxyGrant(grantId: $g, code: $c) {{ {PROBLEM}"
        " ... on ProxyGrantNode { status } } }",
        lambda w: {"g": str(w.pending_grant), "c": w.code},
        check=lambda w, d: d["__typename"] == "ProxyGrantNode" and d["status"] == "active",
        prepare=_proxy_grant_code,
    ),
    "revokeProxyGrant": only(
        {P.PATIENT, P.PROXY},
        f"mutation($g: UUID!) {{ revokeProxyGrant(grantId: $g) {{ {PROBLEM} ... on ProxyGrantNode {{ status }} }} }}",
        lambda w: {"g": str(w.valid_grant)},
        check=lambda w, d: d["__typename"] == "ProxyGrantNode" and d["status"] == "revoked",
    ),
    "declareGuardianship": only(
        PATIENTS,
        'mutation($p: String!) { declareGuardianship(child: {lastName: "Малов", firstName: "Иван", birthDate:'
        ' "2020-01-01", sex: "M", omsPolicy: $p}, document: {type: "BIRTH_CERTIFICATE", number: "1",'
        f' issuedOn: "2020-02-01"}}) {{ {PROBLEM} ... on ProxyGrantNode {{ status }} }} }}',
        lambda w: {"p": w.child_policy},
        check=lambda w, d: d["__typename"] == "ProxyGrantNode" and d["status"] == "pending",
    ),
    "confirmGuardianship": only(
        {P.OPERATOR},
        f"mutation($g: UUID!) {{ confirmGuardianship(grantId: $g) {{ {PROBLEM}"
        " ... on ProxyGrantNode { status } } }",
        lambda w: {"g": str(w.declared_grant)},
        check=lambda w, d: d["__typename"] == "ProxyGrantNode" and d["status"] == "active",
    ),
    # ------------------------------------------------------------------------------ booking
    # Search reads T's data (their own clinic) only for a caller about a patient with the booking scope:
    # such a caller must be allowed to act for T. Anyone else searches the public schedule (actingFor unused).
    "searchSlots": Row(
        'query($t: UUID) { searchSlots(specialtyCode: "46", actingFor: $t) { partial items { doctorId } } }',
        _t,
        dict.fromkeys(P, O.ALLOW) | {P.OTHER: O.DENY, P.EXPIRED_PROXY: O.DENY},
    ),
    "nearestFreeSlots": public("free slots near a point: the public schedule, no patient data"),
    "myAppointments": standard(
        "query($t: UUID) { myAppointments(actingFor: $t) { id doctorName } }",
        _t,
        policy.SCOPE_BOOKING,
        _lists_the_appointment,
    ),
    "slotHold": standard(
        "query($h: UUID!, $t: UUID) { slotHold(id: $h, actingFor: $t) { id status } }",
        lambda w: {"h": str(w.hold), "t": str(w.target)},
        policy.SCOPE_BOOKING,
        lambda w, d: d["id"] == str(w.hold),
    ),
    # Staff only: a staff login, not an operator's session for a caller, not a patient.
    "remoteBookingShare": only(
        {P.OPERATOR},
        "query($a: Date!, $b: Date!) { remoteBookingShare(dateFrom: $a, dateTo: $b) { total } }",
        lambda w: {"a": "2025-03-01", "b": "2025-03-31"},
    ),
    "holdSlot": standard(
        _booking_mutation("holdSlot", "slot: $s", "$s: String!"),
        _keyed(s=lambda w: w.free_slot),
        policy.SCOPE_BOOKING,
        _hold_is("held", same=False),
    ),
    "releaseHold": standard(
        _booking_mutation("releaseHold", "holdId: $h", "$h: UUID!"),
        _keyed(h=lambda w: str(w.hold)),
        policy.SCOPE_BOOKING,
        _hold_is("released", same=True),
    ),
    "confirmAppointment": standard(
        _booking_mutation("confirmAppointment", "holdId: $h", "$h: UUID!"),
        _keyed(h=lambda w: str(w.hold)),
        policy.SCOPE_BOOKING,
        _appointment_is("BOOKED", same=False),
    ),
    "bookAppointment": standard(
        _booking_mutation("bookAppointment", "slot: $s", "$s: String!"),
        _keyed(s=lambda w: w.free_slot),
        policy.SCOPE_BOOKING,
        _appointment_is("BOOKED", same=False),
    ),
    "cancelAppointment": sensitive(
        _booking_mutation("cancelAppointment", "appointmentId: $a", "$a: UUID!"),
        _keyed(a=lambda w: str(w.appointment)),
        policy.SCOPE_BOOKING,
        _appointment_is("CANCEL_PENDING", same=True),
    ),
    "rescheduleAppointment": sensitive(
        _booking_mutation("rescheduleAppointment", "appointmentId: $a, slot: $s", "$a: UUID!, $s: String!"),
        _keyed(a=lambda w: str(w.appointment), s=lambda w: w.other_slot),
        policy.SCOPE_BOOKING,
        _rescheduled,
    ),
    # ------------------------------------------------------------------------------ home visits
    # The home-call and attachment simulators over the hub's region (``_visits_setup``): T, the region's person,
    # is insured and attached, so the clinic offers windows, a visit is created on one, and T's visit cancelled.
    "homeVisitChecklist": public("the reasons and the symptoms checklist: reference data"),
    "homeVisitWindows": standard(
        'query($t: UUID) { homeVisitWindows(address: {line: "г. Ставрополь, ул. Ленина, д. 1"}, phone: "+79001234567",'
        f" actingFor: $t) {{ {PROBLEM} ... on HomeVisitWindows {{ moId windows {{ id }} }} }} }}",
        _t,
        policy.SCOPE_HOME_VISITS,
        lambda w, d: d["__typename"] == "HomeVisitWindows" and d["moId"] == ADULT_MO and bool(d["windows"]),
        setup=_visits_setup,
    ),
    "myHomeVisits": standard(
        "query($t: UUID) { myHomeVisits(actingFor: $t) { id status } }", _t, policy.SCOPE_HOME_VISITS
    ),
    "homeVisitRequestsKpi": only(
        {P.OPERATOR},
        "query($a: Date!, $b: Date!) { homeVisitRequestsKpi(dateFrom: $a, dateTo: $b) { total } }",
        lambda w: {"a": "2025-03-01", "b": "2025-03-31"},
    ),
    "requestHomeVisit": standard(
        _vault_mutation("requestHomeVisit", "input: $i", "$i: HomeVisitInput!").replace(
            f"{{ {PROBLEM} }}", f"{{ {PROBLEM} ... on HomeVisitRequested {{ visit {{ status moId }} }} }}"
        ),
        _keyed(
            i=lambda w: {
                "reason": "fever",
                "windowId": w.extra["window"],
                "phone": "+79001234567",
                "address": {"line": HOME_ADDRESS},
            }
        ),
        policy.SCOPE_HOME_VISITS,
        lambda w, d: d["__typename"] == "HomeVisitRequested" and d["visit"]["moId"] == ADULT_MO,
        setup=_visits_setup,
        prepare=_home_visit_window,
    ),
    "cancelHomeVisit": sensitive(
        _vault_mutation("cancelHomeVisit", "visitId: $v", "$v: UUID!").replace(
            f"{{ {PROBLEM} }}", f"{{ {PROBLEM} ... on HomeVisitCancelled {{ visit {{ id status }} }} }}"
        ),
        _keyed(v=lambda w: str(w.extra["visit"])),
        policy.SCOPE_HOME_VISITS,
        lambda w, d: d["__typename"] == "HomeVisitCancelled" and d["visit"]["id"] == str(w.extra["visit"]),
        setup=_visits_setup,
        prepare=_home_visit_requested,
    ),
    "homeVisitUpdated": standard(
        "subscription($t: UUID) { homeVisitUpdated(actingFor: $t) { visitId status } }",
        _t,
        policy.SCOPE_HOME_VISITS,
        bus=lambda runtime: runtime.adapters.home_visit_bus,
        event="doctor_assigned",
    ),
    # ------------------------------------------------------------------------------ attachment
    "myAttachment": standard(
        f"query($t: UUID) {{ myAttachment(actingFor: $t) {{ {PROBLEM} ... on Attachment {{ moId }} }} }}",
        _t,
        policy.SCOPE_ATTACHMENT,
        lambda w, d: d["__typename"] == "Attachment" and d["moId"] == ADULT_MO,
        setup=_visits_setup,
    ),
    "myAttachmentApplications": standard(
        "query($t: UUID) { myAttachmentApplications(actingFor: $t) { id status } }", _t, policy.SCOPE_ATTACHMENT
    ),
    "attachmentApplicationsKpi": only(
        {P.OPERATOR},
        "query($a: Date!, $b: Date!) { attachmentApplicationsKpi(dateFrom: $a, dateTo: $b) { total } }",
        lambda w: {"a": "2025-03-01", "b": "2025-03-31"},
    ),
    "applyForAttachment": standard(
        _vault_mutation("applyForAttachment", "input: $i", "$i: AttachmentApplicationInput!").replace(
            f"{{ {PROBLEM} }}", f"{{ {PROBLEM} ... on AttachmentApplied {{ application {{ moId status }} }} }}"
        ),
        _keyed(i=lambda w: {"moId": OTHER_MO, "registrationAddress": HOME_ADDRESS}),
        policy.SCOPE_ATTACHMENT,
        lambda w, d: d["__typename"] == "AttachmentApplied" and d["application"]["moId"] == OTHER_MO,
        setup=_visits_setup,
    ),
    # ------------------------------------------------------------------------------ waitlist
    "myWaitlist": standard("query($t: UUID) { myWaitlist(actingFor: $t) { id status } }", _t, policy.SCOPE_BOOKING),
    "joinWaitlist": standard(
        _vault_mutation("joinWaitlist", "input: $i", "$i: WaitlistInput!"),
        _keyed(
            i=lambda w: {
                "moId": "1001",
                "specialtyCode": "46",
                "doctorId": EYE,
                "dateFrom": TOMORROW.isoformat(),
                "dateTo": (TOMORROW + timedelta(days=5)).isoformat(),
                "reason": "NO_CONVENIENT_TIME",
            }
        ),
        policy.SCOPE_BOOKING,
        is_type("WaitlistJoined"),
    ),
    # T's entry and offer (tests/support/care_matrix.py), as the waitlist writes them.
    "leaveWaitlist": sensitive(
        _vault_mutation("leaveWaitlist", "entryId: $e", "$e: UUID!"),
        _keyed(e=lambda w: w.extra.get("entry_id", str(uuid.UUID(int=0)))),
        policy.SCOPE_BOOKING,
        is_type("WaitlistLeft"),
        prepare=care_matrix.waitlist_entry,
        prepare_allowed_only=True,
    ),
    "acceptWaitlistOffer": standard(
        _vault_mutation("acceptWaitlistOffer", "offerId: $o", "$o: UUID!"),
        _keyed(o=lambda w: w.extra.get("offer_id", str(uuid.UUID(int=0)))),
        policy.SCOPE_BOOKING,
        is_type("WaitlistOfferAccepted"),
        prepare=care_matrix.waitlist_offer,
        prepare_allowed_only=True,
    ),
    "declineWaitlistOffer": sensitive(
        _vault_mutation("declineWaitlistOffer", "offerId: $o", "$o: UUID!"),
        _keyed(o=lambda w: w.extra.get("offer_id", str(uuid.UUID(int=0)))),
        policy.SCOPE_BOOKING,
        is_type("WaitlistOfferDeclined"),
        prepare=care_matrix.waitlist_offer,
        prepare_allowed_only=True,
    ),
    "waitlistOfferUpdated": standard(
        "subscription($t: UUID) { waitlistOfferUpdated(actingFor: $t) { offerId status } }",
        _t,
        policy.SCOPE_BOOKING,
        bus=lambda runtime: runtime.adapters.waitlist_bus,
        event="offered",
    ),
    # ------------------------------------------------------------------------------ survey after a visit
    "mySurveys": standard("query($t: UUID) { mySurveys(actingFor: $t) { id status } }", _t, policy.SCOPE_BOOKING),
    # T's invitation for the world's appointment (tests/support/care_matrix.py).
    "answerSurvey": standard(
        _vault_mutation("answerSurvey", "invitationId: $i, answers: $a", "$i: UUID!, $a: SurveyAnswersInput!"),
        _keyed(
            i=lambda w: w.extra.get("invitation_id", str(uuid.UUID(int=0))),
            a=lambda w: {
                "quality": 5,
                "bookingEase": 5,
                "bookingChannel": "EPGU",
                "futureUse": True,
                "recommend": True,
            },
        ),
        policy.SCOPE_BOOKING,
        is_type("SurveyAnswered"),
        prepare=care_matrix.survey_invitation,
        prepare_allowed_only=True,
    ),
    "satisfactionKpi": only(
        {P.OPERATOR},
        "query($a: Date!, $b: Date!) { satisfactionKpi(dateFrom: $a, dateTo: $b) { clinics { moId } } }",
        lambda w: {"a": "2025-03-01", "b": "2025-03-31"},
    ),
    # ------------------------------------------------------------------------------ notifications
    "myNotifications": standard(
        "query($t: UUID) { myNotifications(actingFor: $t) { key title } }", _t, policy.SCOPE_NOTIFICATIONS
    ),
    "myInbox": standard("query($t: UUID) { myInbox(actingFor: $t) { id title } }", _t, policy.SCOPE_NOTIFICATIONS),
    "unreadCount": standard("query($t: UUID) { unreadCount(actingFor: $t) }", _t, policy.SCOPE_NOTIFICATIONS),
    "notificationPreferences": standard(
        "query($t: UUID) { notificationPreferences(actingFor: $t) { sms phone } }", _t, policy.SCOPE_NOTIFICATIONS
    ),
    "updateNotificationPreferences": standard(
        "mutation($i: NotificationPreferencesInput!, $t: UUID) {"
        f" updateNotificationPreferences(input: $i, actingFor: $t) {{ {PROBLEM} }} }}",
        lambda w: {"i": {"push": True}, "t": str(w.target)},
        policy.SCOPE_NOTIFICATIONS,
        is_type("PreferencesUpdated"),
    ),
    "markInboxRead": standard(
        f"mutation($t: UUID) {{ markInboxRead(actingFor: $t) {{ {PROBLEM} }} }}",
        _t,
        policy.SCOPE_NOTIFICATIONS,
        is_type("InboxMarkedRead"),
    ),
    # Takes no actingFor: every patient registers their own device; sessions for a patient may not.
    "registerPushDevice": only(
        PATIENTS,
        f"mutation($p: String!, $k: String!) {{ registerPushDevice(provider: $p, token: $k) {{ {PROBLEM} }} }}",
        lambda w: {"p": "fcm", "k": "fcm-token-" + uuid.uuid4().hex},
        check=is_type("PushDeviceRegistered"),
    ),
    # Over the app's websocket (see _subscribe): refused at once, or subscribed and given T's next item.
    # ------------------------------------------------------------------------------ vault
    # The documents scope: patients and their proxies with it; operators and kiosks never see a vault.
    "myVault": standard(
        "query($t: UUID) { myVault(actingFor: $t) { files { id } } }",
        _t,
        policy.SCOPE_DOCUMENTS,
        check=lambda w, d: [f["id"] for f in d["files"]] == [str(w.vault_file)],
    ),
    "myVaultShares": standard(
        "query($t: UUID) { myVaultShares(actingFor: $t) { id status } }",
        _t,
        policy.SCOPE_DOCUMENTS,
        check=lambda w, d: [s["id"] for s in d] == [str(w.vault_share)],
    ),
    # A doctor reads what is shared with their SNILS as themself: any person signed in, never a session
    # for someone (an operator's or a kiosk's).
    "sharedWithMe": only(PATIENTS, "{ sharedWithMe { id patient } }", lambda w: {}, check=lambda w, d: d == []),
    "updateVaultFile": standard(
        "mutation($i: UpdateVaultFileInput!, $k: String!, $t: UUID) { updateVaultFile(input: $i, "
        f"idempotencyKey: $k, actingFor: $t) {{ {PROBLEM} }} }}",
        _keyed(i=lambda w: {"fileId": str(w.vault_file), "tags": ["матрица"]}),
        policy.SCOPE_DOCUMENTS,
        check=is_type("VaultFileChanged"),
    ),
    "deleteVaultFile": standard(
        _vault_mutation("deleteVaultFile", "fileId: $f", "$f: UUID!"),
        _keyed(f=lambda w: str(w.vault_file)),
        policy.SCOPE_DOCUMENTS,
        check=is_type("VaultFileChanged"),
    ),
    "restoreVaultFile": standard(
        _vault_mutation("restoreVaultFile", "fileId: $f", "$f: UUID!"),
        _keyed(f=lambda w: str(w.vault_file)),
        policy.SCOPE_DOCUMENTS,
        check=is_type("VaultFileChanged"),
    ),
    "shareVault": standard(
        _vault_mutation("shareVault", "input: $i", "$i: ShareVaultInput!"),
        _keyed(i=lambda w: {"fileIds": [str(w.vault_file)], "hours": 1}),
        policy.SCOPE_DOCUMENTS,
        check=is_type("VaultShared"),
    ),
    "revokeVaultShare": standard(
        _vault_mutation("revokeVaultShare", "shareId: $s", "$s: UUID!"),
        _keyed(s=lambda w: str(w.vault_share)),
        policy.SCOPE_DOCUMENTS,
        check=is_type("VaultShareRevoked"),
    ),
    "inboxItemAdded": standard(
        "subscription($t: UUID) { inboxItemAdded(actingFor: $t) { id title } }",
        _t,
        policy.SCOPE_NOTIFICATIONS,
        lambda w, d: d["title"] == f"Для {w.target}",
    ),
    # ------------------------------------------------------------------------------ documents
    # The documents scope: never an operator's or a kiosk's session (the operator has the existence view).
    "myDocuments": standard(
        "query($t: UUID) { myDocuments(actingFor: $t) { edges { node { id title } } } }", _t, policy.SCOPE_DOCUMENTS
    ),
    "medicalDocument": _documents_row(
        standard(
            "query($d: UUID!, $t: UUID) { medicalDocument(id: $d, actingFor: $t) { state } }",
            lambda w: {"d": str(w.document), "t": str(w.target)},
            policy.SCOPE_DOCUMENTS,
        )
    ),
    "medicalProfile": standard(
        "query($t: UUID) { medicalProfile(actingFor: $t) { allergies { text } } }", _t, policy.SCOPE_DOCUMENTS
    ),
    "myDocumentAccessGrants": standard(
        "query($t: UUID) { myDocumentAccessGrants(actingFor: $t) { id } }", _t, policy.SCOPE_DOCUMENTS
    ),
    "callerDocumentsSummary": only({P.ON_BEHALF, P.CONFIRMED}, "{ callerDocumentsSummary { total } }", lambda w: {}),
    "syncMyDocuments": standard(
        f"mutation($t: UUID) {{ syncMyDocuments(actingFor: $t) {{ {PROBLEM} }} }}", _t, policy.SCOPE_DOCUMENTS
    ),
    "addProfileEntry": standard(
        'mutation($k: String!, $t: UUID) { addProfileEntry(input: {kind: ALLERGY, text: "Пыльца"}, '
        f"idempotencyKey: $k, actingFor: $t) {{ {PROBLEM} }} }}",
        _keyed(),
        policy.SCOPE_DOCUMENTS,
    ),
    "removeProfileEntry": _documents_row(
        standard(
            f"mutation($e: UUID!, $t: UUID) {{ removeProfileEntry(entryId: $e, actingFor: $t) {{ {PROBLEM} }} }}",
            lambda w: {"e": str(w.profile_entry), "t": str(w.target)},
            policy.SCOPE_DOCUMENTS,
        )
    ),
    "setEmergencyProfile": standard(
        f"mutation($t: UUID) {{ setEmergencyProfile(input: {{enabled: true}}, actingFor: $t) {{ {PROBLEM} }} }}",
        _t,
        policy.SCOPE_DOCUMENTS,
    ),
    "grantDocumentAccess": standard(
        "mutation($k: String!, $t: UUID) { grantDocumentAccess(input: {hours: 1}, idempotencyKey: $k, "
        f"actingFor: $t) {{ {PROBLEM} }} }}",
        _keyed(),
        policy.SCOPE_DOCUMENTS,
    ),
    "revokeDocumentAccess": _documents_row(
        standard(
            f"mutation($g: UUID!, $t: UUID) {{ revokeDocumentAccess(grantId: $g, actingFor: $t) {{ {PROBLEM} }} }}",
            lambda w: {"g": str(w.document_grant), "t": str(w.target)},
            policy.SCOPE_DOCUMENTS,
        )
    ),
    # Doctors only (a staff login with role doctor; none of these principals is one): their own reads are
    # tested in tests/integration/documents/test_access.py.
    "doctorSharedPatients": only(set(), "{ doctorSharedPatients { grantId } }", lambda w: {}),
    "doctorSharedRecord": only(
        set(),
        "query($g: UUID!) { doctorSharedRecord(grantId: $g) { patientName } }",
        lambda w: {"g": str(uuid.uuid4())},
    ),
    "doctorSharedDocument": only(
        set(),
        "query($g: UUID!, $d: UUID!) { doctorSharedDocument(grantId: $g, documentId: $d) { state } }",
        lambda w: {"g": str(uuid.uuid4()), "d": str(uuid.uuid4())},
    ),
    "claimDocumentAccess": only(
        set(), f'mutation {{ claimDocumentAccess(code: "AAAA-BBBB-CCCC") {{ {PROBLEM} }} }}', lambda w: {}
    ),
    # ------------------------------------------------------------------------------ drugs
    **drugs_matrix.rows(
        standard=standard, only=only, public=public, is_type=is_type, keyed=_keyed, operator=P.OPERATOR
    ),
}
MATRIX.update(vaccination_rows(sys.modules[__name__]))


MATRIX |= ambulance_rows(
    standard=standard, only=only, public=public, keyed=_keyed, operator=P.OPERATOR, problem=PROBLEM
)

MATRIX |= insurance_rows(standard, only, public, P)
# Referrals, no-shows, dispanserization (issue 24): tests/support/care_matrix.py.
MATRIX.update(care_rows(sys.modules[__name__]))
MATRIX.update(call_record_rows(only, public, P.OPERATOR))  # the 122 call record (tests/support)


def _modules() -> list[ModuleType]:
    return identity_schema_modules()


def root_fields(settings: Settings) -> set[str]:
    schema = build_schema(settings, _modules())._schema
    return {
        name
        for root in (schema.query_type, schema.mutation_type, schema.subscription_type)
        if root is not None
        for name in root.fields
    }


def test_every_operation_has_a_row(settings: Settings) -> None:
    fields = root_fields(settings)
    missing = sorted(fields - MATRIX.keys())
    assert not missing, f"operations without a row in the authorization matrix: {missing}"
    stale = sorted(MATRIX.keys() - fields)
    assert not stale, f"matrix rows for operations that no longer exist: {stale}"
    for name, row in MATRIX.items():
        if row.public is None:
            assert set(row.expected) == set(P), f"{name}: every principal needs an expected outcome"


class Slots:
    """Free slots of the hub simulator's region handed out one by one, so that no world takes another's."""

    def __init__(self, refs: dict[str, list[str]]) -> None:
        self._refs = refs

    @classmethod
    async def of(cls, env: BookingEnv) -> Slots:
        days = [TOMORROW + timedelta(days=n) for n in range(4)]  # Tuesday to Friday: working days
        return cls(
            {doctor: [r for day in days for r in await env.slot_refs(doctor, day=day)] for doctor in (EYE, THERAPIST)}
        )

    def take(self, doctor: str) -> str:
        return self._refs[doctor].pop(0)


async def _world(runtime: Runtime, env: BookingEnv, slots: Slots, n: int) -> World:
    """A world of its own: the target T is the hub region's person ``n`` (the hub knows T by policy, birth
    date and names), with their proxies, grants, a live hold, a booked appointment and free slots."""
    person = env.region.people[n]
    target = await make_patient(
        runtime,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        birth_date=person.birth_date,
        oms_policy=person.oms_policy,
    )
    others = [await make_patient(runtime) for _ in range(4)]
    third = await make_patient(runtime, birth_date=date(1970, 1, 1), last_name="Третьяков")
    other, proxy, expired, narrow = others
    now = tokens.now(runtime)
    valid_grant = await grant_proxy(runtime, target.id, proxy.id)
    await grant_proxy(runtime, target.id, expired.id, expires_at=now - timedelta(days=1))
    await grant_proxy(runtime, target.id, narrow.id, scopes={policy.SCOPE_BOOKING})
    pending = await grant_proxy(runtime, target.id, third.id, scopes={policy.SCOPE_BOOKING})
    declared = await grant_proxy(runtime, other.id, target.id, kind="guardian_declared")
    async with runtime.sessionmaker() as session, session.begin():
        for grant_id in (pending, declared):
            row = await session.get_one(ProxyGrant, grant_id)
            row.status, row.confirmed_at = "pending", None
    world = World(
        target=target.id,
        target_surname=target.last_name,
        target_policy=target.oms_policy or "",
        target_birth=target.birth_date,
        target_phone=target.phone or "",
        third_snils=third.snils or "",
        third_birth=third.birth_date,
        valid_grant=valid_grant,
        pending_grant=pending,
        declared_grant=declared,
        grant_until=now.date() + timedelta(days=30),
        child_policy=f"26{uuid.uuid4().int % 10**14:014d}",
    )
    world.extra.update(env=env, person=person)  # for a row's ``prepare`` (tests/support/care_matrix.py)
    await _booking_world(runtime, slots, world)
    await _vault_world(runtime, world)
    on_behalf, on_behalf_session = await _on_behalf_token(runtime, target.id, sensitive=False)
    confirmed, confirmed_session = await _on_behalf_token(runtime, target.id, sensitive=True)
    world.on_behalf_sessions = {P.ON_BEHALF: on_behalf_session, P.CONFIRMED: confirmed_session}
    world.headers = {
        P.PATIENT: auth_headers(token_for(runtime, target.id)),
        P.OTHER: auth_headers(token_for(runtime, other.id)),
        P.PROXY: auth_headers(token_for(runtime, proxy.id)),
        P.EXPIRED_PROXY: auth_headers(token_for(runtime, expired.id)),
        P.NARROW_PROXY: auth_headers(token_for(runtime, narrow.id)),
        P.OPERATOR: auth_headers(await operator_token(runtime)),
        P.ON_BEHALF: auth_headers(on_behalf),
        P.CONFIRMED: auth_headers(confirmed),
        P.KIOSK: auth_headers(await kiosk_session_token(runtime, target.id)),
        P.DEVICE: auth_headers(await kiosk_device_token(runtime)),
        P.ANONYMOUS: {},
    }
    return world


async def _on_behalf_token(runtime: Runtime, patient_id: uuid.UUID, *, sensitive: bool) -> tuple[str, uuid.UUID]:
    """An operator's on-behalf session for T (``sensitive``: the SMS code confirmed): (token, session id)."""
    scopes = set(policy.OPERATOR_SCOPES) | ({policy.SCOPE_SENSITIVE} if sensitive else set())
    async with runtime.sessionmaker() as session, session.begin():
        row = await sessions.open_session(
            session,
            kind=sessions.SessionKind.ON_BEHALF,
            channel=Channel.CALLCENTRE,
            at=tokens.now(runtime),
            ttl_s=runtime.settings.operator_session_ttl_s,
            scopes=scopes,
            patient_id=patient_id,
            actor_id=str(uuid.uuid4()),
        )
        token, _ = sessions.access_token(runtime, row)
    return token, row.id


async def _booking_world(runtime: Runtime, slots: Slots, world: World) -> None:
    """T's booking data, made through the service as a patient would: a live hold on one eye doctor's
    slot, an appointment the hub booked with the therapist, and free slots of each (to hold or book, to
    reschedule to)."""
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        hold = await booking.hold_slot(uow, world.target, booking.parse_ref(slots.take(EYE)))
    world.hold = hold.id
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        appointment = await booking.book_now(uow, world.target, booking.parse_ref(slots.take(THERAPIST)))
    world.appointment = appointment.id
    world.free_slot, world.other_slot = slots.take(EYE), slots.take(THERAPIST)
    await runtime.relay.drain()


async def _vault_world(runtime: Runtime, world: World) -> None:
    """T's vault: one uploaded file (blobs in a temporary directory) and a share of it by code."""
    if not isinstance(runtime.adapters.vault_store, FileBlobStore):
        runtime.adapters.vault_store = FileBlobStore(Path(tempfile.mkdtemp(prefix="mz-matrix-vault-")))

    async def one_file() -> AsyncIterator[bytes]:
        yield b"%PDF-1.4\nmatrix"

    ctx = ctx_for(world.target)
    meta = vault.FileMeta(folder="analyses", title="Анализ", file_name="analiz.pdf")
    view = await vault.upload(runtime, ctx, world.target, meta, one_file())
    world.vault_file = view.id
    async with UnitOfWork(runtime, ctx) as uow:
        created = await vault.create_share(
            uow, world.target, file_ids=[view.id], folders=[], period=timedelta(hours=2), recipient_snils=None
        )
    world.vault_share = created.share.id


async def _subscribe(
    runtime: Runtime,
    app: Any,
    w: World,
    document: str,
    variables: dict[str, Any],
    headers: dict[str, str],
    bus: Any,
    event: str,
) -> dict[str, Any]:
    """The subscription over the app's websocket (graphql-transport-ws), with the principal's token in
    ``connection_init``. A refusal arrives as an error (or the socket is closed); once the bus holds a
    subscriber for T, an item is published for T and must arrive as the subscription's next result."""
    before = bus.subscriber_count(w.target)
    init: dict[str, Any] = {"type": "connection_init"}
    if headers:
        init["payload"] = dict(headers)
    async with asgi_websocket(app, "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json(init)
        try:
            ack = await ws.receive_json()
        except WebSocketClosed as closed:
            return {"data": None, "errors": [{"message": str(closed), "extensions": {"code": "NOT_AUTHENTICATED"}}]}
        assert ack["type"] == "connection_ack", ack
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": document, "variables": variables}})
        for _ in range(500):  # until the server answers or the bus holds the new subscriber
            if ws.pending() or bus.subscriber_count(w.target) > before:
                break
            await asyncio.sleep(0.01)
        if not ws.pending():
            assert bus.subscriber_count(w.target) > before, "neither an answer nor a subscription"
            item = InboxEvent(
                id=uuid.uuid4(), patient_id=w.target, event=event, title=f"Для {w.target}", text="т", created_at=_AT
            )
            await bus.publish(item)
        message = await ws.receive_json()
    if message["type"] == "next":
        return dict(message["payload"])
    assert message["type"] == "error", message
    return {"data": None, "errors": message["payload"]}


_AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def _outcome(body: dict[str, Any], name: str) -> tuple[O, str]:
    codes = [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]
    data = (body.get("data") or {}).get(name)
    if isinstance(data, dict) and "code" in data:
        codes.append(str(data["code"]))
    if "NOT_AUTHENTICATED" in codes:
        return O.UNAUTH, ",".join(codes)
    if "CONFIRMATION_REQUIRED" in codes:
        return O.CONFIRM, ",".join(codes)
    if "ACCESS_DENIED" in codes or "NOT_FOUND" in codes:
        return O.DENY, ",".join(codes)
    if "INTERNAL_ERROR" in codes:
        raise AssertionError(f"{name}: internal error {body}")
    if codes or data is None:
        return O.REFUSED, ",".join(codes) or "no data"
    return O.ALLOW, ""


@pytest.mark.parametrize("name", sorted(n for n, r in MATRIX.items() if r.public is None))
async def test_matrix(runtime: Runtime, name: str) -> None:
    row = MATRIX[name]
    assert row.document is not None
    env = await (row.env or start_env)(runtime)
    if row.setup is not None:
        await row.setup(runtime, env)
    slots = await Slots.of(env)
    got: dict[P, O] = {}
    details: dict[P, str] = {}
    subscription = row.document.lstrip().startswith("subscription")
    app = identity_app(runtime)
    # A query without a ``prepare`` changes nothing another principal could see: every principal reads the one
    # world. A mutation, a subscription or a prepared row gets a world per principal.
    shared = not subscription and row.prepare is None and row.document.lstrip().startswith(("query", "{"))
    world: World | None = None
    async with identity_client(runtime) as client:
        for n, principal in enumerate(P):
            if world is None or not shared:
                world = await _world(runtime, env, slots, n)  # its own: nothing an earlier principal changed
            if row.prepare is not None and (not row.prepare_allowed_only or row.expected[principal] is O.ALLOW):
                await row.prepare(runtime, world, principal)
            variables, headers = row.variables(world), world.headers[principal]
            if subscription:
                bus = row.bus(runtime) if row.bus is not None else runtime.adapters.inbox_bus
                body = await _subscribe(runtime, app, world, row.document, variables, headers, bus, row.event)
            else:
                body = await gql(client, row.document, variables, headers=headers)
            got[principal], details[principal] = _outcome(body, name)
            if got[principal] is O.REFUSED and set(details[principal].split(",")) <= row.policy_only:
                got[principal] = O.ALLOW  # past the policy; the row's success world is not built
            data = (body.get("data") or {}).get(name)
            if got[principal] is O.ALLOW and not row.check(world, data):
                got[principal], details[principal] = O.REFUSED, f"did not do what it says: {data}"
            text = json.dumps(body, ensure_ascii=False)
            if got[principal] is not O.ALLOW or principal is P.OTHER:
                assert str(world.target) not in text and world.target_surname not in text, (
                    f"{name}: {principal} saw the target: {text}"
                )
    wrong = {p.value: (got[p].value, details[p]) for p in P if got[p] is not row.expected[p]}
    assert not wrong, f"{name}: unexpected outcomes {wrong}"
