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

Refusals must not leak the target: a refused answer, and anything another patient gets, never contains
the target's id or surname.
"""

from __future__ import annotations

import asyncio
import enum
import json
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from backend.api.loaders import LoaderRegistry
from backend.api.schema import Schema, build_schema
from backend.booking import service as booking
from backend.booking.models import Appointment, AppointmentState
from backend.core.context import Actor, Channel, RequestContext
from backend.core.uow import UnitOfWork
from backend.directory.service import doctor_card
from backend.identity import authn, policy, tokens
from backend.identity.models import ProxyGrant
from backend.runtime import Runtime
from backend.settings import Settings
from backend.vault import service as vault
from backend.vault.store import FileBlobStore
from integrations.fer import BookingChannel
from tests.support.booking import EYE, THERAPIST, Clock, ctx_for, start_env
from tests.support.client import gql
from tests.support.identity import (
    auth_headers,
    grant_proxy,
    identity_client,
    identity_schema_modules,
    kiosk_device_token,
    kiosk_session_token,
    make_patient,
    operator_on_behalf_token,
    operator_token,
    token_for,
)


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
    ALLOW = "allow"  # the policy let it through (a success or another business problem)
    DENY = "deny"  # ACCESS_DENIED (or NOT_FOUND for another's object)
    UNAUTH = "unauth"  # NOT_AUTHENTICATED
    CONFIRM = "confirm"  # CONFIRMATION_REQUIRED: an operator needs the caller's SMS code first


@dataclass
class World:
    target: uuid.UUID
    target_surname: str
    target_policy: str
    target_birth: date
    third_snils: str
    valid_grant: uuid.UUID
    pending_grant: uuid.UUID
    declared_grant: uuid.UUID
    # Booking: a free slot, T's live hold, T's booked appointment (slots of the hub simulator's region).
    free_slot: str = ""
    other_slot: str = ""
    hold: uuid.UUID | None = None
    appointment: uuid.UUID | None = None
    # Vault: a file of T and a share of it.
    vault_file: uuid.UUID | None = None
    vault_share: uuid.UUID | None = None
    headers: dict[P, dict[str, str]] = field(default_factory=dict)


Vars = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    document: str | None
    variables: Vars
    expected: dict[P, O]
    public: str | None = None


def public(reason: str) -> Row:
    return Row(document=None, variables=lambda w: {}, expected={}, public=reason)


def standard(document: str, variables: Vars, scope: str) -> Row:
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
    )


def sensitive(document: str, variables: Vars, scope: str) -> Row:
    """A sensitive action about T (cancelling, rescheduling): as :func:`standard`, but an operator's
    on-behalf session without the caller's SMS code is asked for it."""
    row = standard(document, variables, scope)
    on_behalf = row.expected[P.ON_BEHALF]
    return Row(document, variables, row.expected | {P.ON_BEHALF: O.CONFIRM if on_behalf is O.ALLOW else on_behalf})


def only(allowed: set[P], document: str, variables: Vars, *, also: dict[P, O] | None = None) -> Row:
    """Allowed for ``allowed``, refused (UNAUTH for anonymous) for everyone else."""
    expected = {p: (O.ALLOW if p in allowed else O.UNAUTH if p is P.ANONYMOUS else O.DENY) for p in P}
    return Row(document, variables, expected | (also or {}))


PATIENTS = {P.PATIENT, P.OTHER, P.PROXY, P.EXPIRED_PROXY, P.NARROW_PROXY}
PROBLEM = "__typename ... on Problem { code }"


def _t(w: World) -> dict[str, Any]:
    return {"t": str(w.target)}


def _keyed(**fields: Callable[[World], Any]) -> Vars:
    """Variables with actingFor T and a fresh idempotency key for every call (no replays between principals)."""
    return lambda w: {"t": str(w.target), "k": uuid.uuid4().hex} | {name: get(w) for name, get in fields.items()}


def _booking_mutation(field_name: str, arguments: str, declarations: str) -> str:
    return (
        f"mutation({declarations}, $k: String!, $t: UUID) {{ {field_name}({arguments}, idempotencyKey: $k, "
        f"actingFor: $t) {{ {PROBLEM} }} }}"
    )


MATRIX: dict[str, Row] = {
    # ------------------------------------------------------------------------------ system, directory
    "apiInfo": public("service version and region"),
    "node": public("relay lookup of public nodes (the region)"),
    "heartbeat": public("connectivity check, no data"),
    "districts": public("directory reference data"),
    "organisations": public("directory reference data"),
    "specialties": public("directory reference data"),
    # ------------------------------------------------------------------------------ identity
    "me": standard("query($t: UUID) { me(actingFor: $t) { id lastName } }", _t, policy.SCOPE_PROFILE),
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
        f"mutation($b: Date!, $p: String) {{ openOnBehalfSession(birthDate: $b, omsPolicy: $p) {{ {PROBLEM} }} }}",
        lambda w: {"b": w.target_birth.isoformat(), "p": w.target_policy},
    ),
    "confirmOnBehalfCode": only(
        {P.ON_BEHALF, P.CONFIRMED}, f'mutation {{ confirmOnBehalfCode(code: "000000") {{ {PROBLEM} }} }}', lambda w: {}
    ),
    "identifyAtKiosk": only(
        {P.DEVICE},
        f"mutation($b: Date!, $p: String!) {{ identifyAtKiosk(birthDate: $b, omsPolicy: $p) {{ {PROBLEM} }} }}",
        lambda w: {"b": w.target_birth.isoformat(), "p": w.target_policy},
    ),
    "grantProxy": only(
        PATIENTS,
        'mutation($s: String!) { grantProxy(proxySnils: $s, proxyBirthDate: "1970-01-01", scopes: ["booking"], '
        f'expiresOn: "2099-01-01") {{ {PROBLEM} }} }}',
        lambda w: {"s": w.third_snils},
    ),
    "confirmProxyGrant": only(
        {P.PATIENT},
        f'mutation($g: UUID!) {{ confirmProxyGrant(grantId: $g, code: "000000") {{ {PROBLEM} }} }}',
        lambda w: {"g": str(w.pending_grant)},
    ),
    "revokeProxyGrant": only(
        {P.PATIENT, P.PROXY},
        f"mutation($g: UUID!) {{ revokeProxyGrant(grantId: $g) {{ {PROBLEM} }} }}",
        lambda w: {"g": str(w.valid_grant)},
    ),
    "declareGuardianship": only(
        PATIENTS,
        'mutation { declareGuardianship(child: {lastName: "Малов", firstName: "Иван", birthDate: "2020-01-01", '
        'sex: "M", omsPolicy: "2600000000009999"}, document: {type: "BIRTH_CERTIFICATE", number: "1", '
        f'issuedOn: "2020-02-01"}}) {{ {PROBLEM} }} }}',
        lambda w: {},
    ),
    "confirmGuardianship": only(
        {P.OPERATOR},
        f"mutation($g: UUID!) {{ confirmGuardianship(grantId: $g) {{ {PROBLEM} }} }}",
        lambda w: {"g": str(w.declared_grant)},
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
        "query($t: UUID) { myAppointments(actingFor: $t) { id doctorName } }", _t, policy.SCOPE_BOOKING
    ),
    "slotHold": standard(
        "query($h: UUID!, $t: UUID) { slotHold(id: $h, actingFor: $t) { id status } }",
        lambda w: {"h": str(w.hold), "t": str(w.target)},
        policy.SCOPE_BOOKING,
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
    ),
    "releaseHold": standard(
        _booking_mutation("releaseHold", "holdId: $h", "$h: UUID!"),
        _keyed(h=lambda w: str(w.hold)),
        policy.SCOPE_BOOKING,
    ),
    "confirmAppointment": standard(
        _booking_mutation("confirmAppointment", "holdId: $h", "$h: UUID!"),
        _keyed(h=lambda w: str(w.hold)),
        policy.SCOPE_BOOKING,
    ),
    "bookAppointment": standard(
        _booking_mutation("bookAppointment", "slot: $s", "$s: String!"),
        _keyed(s=lambda w: w.free_slot),
        policy.SCOPE_BOOKING,
    ),
    "cancelAppointment": sensitive(
        _booking_mutation("cancelAppointment", "appointmentId: $a", "$a: UUID!"),
        _keyed(a=lambda w: str(w.appointment)),
        policy.SCOPE_BOOKING,
    ),
    "rescheduleAppointment": sensitive(
        _booking_mutation("rescheduleAppointment", "appointmentId: $a, slot: $s", "$a: UUID!, $s: String!"),
        _keyed(a=lambda w: str(w.appointment), s=lambda w: w.other_slot),
        policy.SCOPE_BOOKING,
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
    ),
    "markInboxRead": standard(
        f"mutation($t: UUID) {{ markInboxRead(actingFor: $t) {{ {PROBLEM} }} }}", _t, policy.SCOPE_NOTIFICATIONS
    ),
    # Takes no actingFor: every patient registers their own device; sessions for a patient may not.
    "registerPushDevice": only(
        PATIENTS,
        f"mutation($p: String!, $k: String!) {{ registerPushDevice(provider: $p, token: $k) {{ {PROBLEM} }} }}",
        lambda w: {"p": "fcm", "k": "fcm-token-" + uuid.uuid4().hex},
    ),
    # Run as over the websocket (see _subscribe): refused at once, or subscribed and waiting.
    # ------------------------------------------------------------------------------ vault
    # The documents scope: patients and their proxies with it; operators and kiosks never see a vault.
    "myVault": standard("query($t: UUID) { myVault(actingFor: $t) { usedBytes } }", _t, policy.SCOPE_DOCUMENTS),
    "myVaultShares": standard(
        "query($t: UUID) { myVaultShares(actingFor: $t) { id status } }", _t, policy.SCOPE_DOCUMENTS
    ),
    # A doctor reads what is shared with their SNILS as themself: any person signed in, never a session
    # for someone (an operator's or a kiosk's).
    "sharedWithMe": only(PATIENTS, "{ sharedWithMe { id patient } }", lambda w: {}),
    "updateVaultFile": standard(
        "mutation($i: UpdateVaultFileInput!, $k: String!, $t: UUID) { updateVaultFile(input: $i, "
        f"idempotencyKey: $k, actingFor: $t) {{ {PROBLEM} }} }}",
        _keyed(i=lambda w: {"fileId": str(w.vault_file), "tags": ["матрица"]}),
        policy.SCOPE_DOCUMENTS,
    ),
    "deleteVaultFile": standard(
        _booking_mutation("deleteVaultFile", "fileId: $f", "$f: UUID!"),
        _keyed(f=lambda w: str(w.vault_file)),
        policy.SCOPE_DOCUMENTS,
    ),
    "restoreVaultFile": standard(
        _booking_mutation("restoreVaultFile", "fileId: $f", "$f: UUID!"),
        _keyed(f=lambda w: str(w.vault_file)),
        policy.SCOPE_DOCUMENTS,
    ),
    "shareVault": standard(
        _booking_mutation("shareVault", "input: $i", "$i: ShareVaultInput!"),
        _keyed(i=lambda w: {"fileIds": [str(w.vault_file)], "hours": 1}),
        policy.SCOPE_DOCUMENTS,
    ),
    "revokeVaultShare": standard(
        _booking_mutation("revokeVaultShare", "shareId: $s", "$s: UUID!"),
        _keyed(s=lambda w: str(w.vault_share)),
        policy.SCOPE_DOCUMENTS,
    ),
    "inboxItemAdded": standard(
        "subscription($t: UUID) { inboxItemAdded(actingFor: $t) { id title } }", _t, policy.SCOPE_NOTIFICATIONS
    ),
}


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


async def _world(runtime: Runtime) -> World:
    booking.set_clock(runtime, Clock())  # one clock for the runtime: the whole world lives on the booking world's
    target = await make_patient(runtime, last_name="Целевая", birth_date=date(1980, 7, 7))
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
        third_snils=third.snils or "",
        valid_grant=valid_grant,
        pending_grant=pending,
        declared_grant=declared,
    )
    await _booking_world(runtime, world)
    await _vault_world(runtime, world)
    world.headers = {
        P.PATIENT: auth_headers(token_for(runtime, target.id)),
        P.OTHER: auth_headers(token_for(runtime, other.id)),
        P.PROXY: auth_headers(token_for(runtime, proxy.id)),
        P.EXPIRED_PROXY: auth_headers(token_for(runtime, expired.id)),
        P.NARROW_PROXY: auth_headers(token_for(runtime, narrow.id)),
        P.OPERATOR: auth_headers(await operator_token(runtime)),
        P.ON_BEHALF: auth_headers(await operator_on_behalf_token(runtime, target.id)),
        P.CONFIRMED: auth_headers(await operator_on_behalf_token(runtime, target.id, sensitive=True)),
        P.KIOSK: auth_headers(await kiosk_session_token(runtime, target.id)),
        P.DEVICE: auth_headers(await kiosk_device_token(runtime)),
        P.ANONYMOUS: {},
    }
    return world


async def _booking_world(runtime: Runtime, world: World) -> None:
    """The hub simulator's region and T's booking data: a live hold (held through the service) and a booked
    appointment (written as the service would after the hub booked it: T is not one of the hub's people,
    so the hub refuses T's new bookings, an outcome past the policy like any other)."""
    env = await start_env(runtime)
    eye = await env.slot_refs(EYE)
    therapist = await env.slot_refs(THERAPIST)
    world.free_slot, world.other_slot = eye[1], therapist[1]
    async with booking.booking_unit(runtime, ctx_for(world.target)) as uow:
        hold = await booking.hold_slot(uow, world.target, booking.parse_ref(eye[0]))
    world.hold = hold.id
    ref = booking.parse_ref(therapist[0])
    slot = await booking.find_slot(runtime, ref)
    assert slot is not None
    async with runtime.sessionmaker() as session, session.begin():
        info = await doctor_card(runtime, session, ref.mo_id, ref.doctor_id)
        assert info is not None
        appointment = Appointment(
            id=uuid.uuid4(),
            patient_id=world.target,
            mo_id=ref.mo_id,
            mo_name=info.mo_name,
            doctor_id=ref.doctor_id,
            doctor_name=info.doctor_name,
            specialty_code=info.specialty_code,
            specialty_name=info.specialty_name,
            slot_id=ref.slot_id,
            slot_start=booking.to_utc(runtime, slot.start),
            slot_end=booking.to_utc(runtime, slot.end),
            room=slot.room,
            address=slot.address,
            hub_patient_id="hub-target",
            status=AppointmentState.BOOKED.value,
            channel=Channel.MOBILE.value,
            source_type=int(BookingChannel.INTERNET),
            actor_kind="patient",
            actor_id=str(world.target),
        )
        session.add(appointment)
    world.appointment = appointment.id


async def _vault_world(runtime: Runtime, world: World) -> None:
    """T's vault: one uploaded file (blobs in a temporary directory) and a share of it by code."""
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
    runtime: Runtime, schema: Schema, document: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """A subscription as a websocket client meets it, in this event loop: the token of ``connection_init``
    adopted as ``authn.on_ws_connect`` does, then the schema's own subscription. A refusal arrives at once
    as an error; a subscription the policy let through waits for items (no answer within a moment)."""
    token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
    actor, session_id = await authn.authenticate_token(token, runtime) if token else (Actor.anonymous(), None)
    context = authn.IdentityContext(
        runtime=runtime,
        ctx=RequestContext(actor=actor, request_id=uuid.uuid4().hex),
        loaders=LoaderRegistry(),
        session_id=session_id,
    )
    stream = await schema.subscribe(document, variable_values=variables, context_value=context)
    if not isinstance(stream, AsyncGenerator):
        return _formatted(stream)
    try:
        first = await asyncio.wait_for(anext(stream), timeout=0.3)
    except TimeoutError:
        return {"data": None}  # subscribed: nothing to send yet
    finally:
        await stream.aclose()
    return _formatted(first)


def _formatted(result: Any) -> dict[str, Any]:
    errors = []
    for error in result.errors or []:
        code = (error.extensions or {}).get("code") or getattr(error.original_error, "code", None)
        errors.append({"message": error.message, "extensions": {"code": code}})
    return {"data": result.data, "errors": errors}


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
    return O.ALLOW, ",".join(codes)


@pytest.mark.parametrize("name", sorted(n for n, r in MATRIX.items() if r.public is None))
async def test_matrix(runtime: Runtime, name: str) -> None:
    row = MATRIX[name]
    assert row.document is not None
    world = await _world(runtime)
    got: dict[P, O] = {}
    details: dict[P, str] = {}
    subscription = row.document.lstrip().startswith("subscription")
    schema = build_schema(runtime.settings, _modules()) if subscription else None
    async with identity_client(runtime) as client:
        for principal in P:
            variables, headers = row.variables(world), world.headers[principal]
            if schema is not None:
                body = await _subscribe(runtime, schema, row.document, variables, headers)
            else:
                body = await gql(client, row.document, variables, headers=headers)
            got[principal], details[principal] = _outcome(body, name)
            text = json.dumps(body, ensure_ascii=False)
            if got[principal] is not O.ALLOW or principal is P.OTHER:
                assert str(world.target) not in text and world.target_surname not in text, (
                    f"{name}: {principal} saw the target: {text}"
                )
    wrong = {p.value: (got[p].value, details[p]) for p in P if got[p] is not row.expected[p]}
    assert not wrong, f"{name}: unexpected outcomes {wrong}"
