"""require_subject: whose data a call is about, for every kind of caller."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.api.problems import ProblemError, PublicError
from backend.audit.models import AuditEvent
from backend.core.context import Actor, ActorKind, Channel, RequestContext
from backend.identity import policy, tokens
from backend.identity.policy import (
    SCOPE_BOOKING,
    SCOPE_DOCUMENTS,
    SCOPE_PROFILE,
    SCOPE_VACCINATION,
    require_subject,
)
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import (
    auth_headers,
    grant_proxy,
    identity_client,
    kiosk_session_token,
    make_patient,
    operator_on_behalf_token,
    operator_token,
    token_for,
)

pytestmark = pytest.mark.dialect


def _ctx(actor: Actor) -> RequestContext:
    return RequestContext(actor=actor, request_id="t")


def _patient(pid: uuid.UUID, scopes: frozenset[str] = policy.ALL_PATIENT_SCOPES) -> Actor:
    return Actor(kind=ActorKind.PATIENT, channel=Channel.MOBILE, id=str(pid), subject_id=pid, scopes=scopes)


async def test_patient_acts_for_self_and_not_for_others_without_a_grant(runtime: Runtime) -> None:
    me, other = await make_patient(runtime), await make_patient(runtime)
    async with runtime.sessionmaker() as session:
        assert await require_subject(_ctx(_patient(me.id)), SCOPE_BOOKING, session=session) == me.id
        assert await require_subject(_ctx(_patient(me.id)), SCOPE_BOOKING, acting_for=me.id, session=session) == me.id
        with pytest.raises(ProblemError) as denied:
            await require_subject(_ctx(_patient(me.id)), SCOPE_BOOKING, acting_for=other.id, session=session)
    assert denied.value.problem.code == "ACCESS_DENIED"
    assert isinstance(denied.value, PublicError)  # a query shows it with its code, unmasked


async def test_proxy_grant_checks_scope_and_expiry(runtime: Runtime) -> None:
    principal, proxy = await make_patient(runtime), await make_patient(runtime)
    now = tokens.now(runtime)
    await grant_proxy(runtime, principal.id, proxy.id, scopes={SCOPE_BOOKING}, expires_at=now + timedelta(days=1))
    ctx = _ctx(_patient(proxy.id))
    async with runtime.sessionmaker() as session:
        got = await require_subject(ctx, SCOPE_BOOKING, acting_for=principal.id, session=session, now=now)
        assert got == principal.id
        with pytest.raises(ProblemError):  # out of scope
            await require_subject(ctx, SCOPE_DOCUMENTS, acting_for=principal.id, session=session, now=now)
        with pytest.raises(ProblemError):  # past expiry
            await require_subject(
                ctx, SCOPE_BOOKING, acting_for=principal.id, session=session, now=now + timedelta(days=2)
            )


async def test_anonymous_and_staff_and_kiosk_device_are_refused(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    with pytest.raises(ProblemError) as anonymous:
        await require_subject(_ctx(Actor.anonymous()), SCOPE_BOOKING)
    assert anonymous.value.problem.code == "NOT_AUTHENTICATED"
    staff = Actor(kind=ActorKind.OPERATOR, channel=Channel.CALLCENTRE, id="op", scopes=frozenset({"staff"}))
    device = Actor(kind=ActorKind.KIOSK, channel=Channel.KIOSK, id="k1", scopes=frozenset({"kiosk.identify"}))
    for actor in (staff, device):
        with pytest.raises(ProblemError) as refused:
            await require_subject(_ctx(actor), SCOPE_BOOKING, acting_for=patient.id)
        assert refused.value.problem.code == "ACCESS_DENIED"


async def test_on_behalf_and_kiosk_sessions_act_for_their_subject_within_their_scopes(runtime: Runtime) -> None:
    patient, other = await make_patient(runtime), await make_patient(runtime)
    operator = Actor(
        kind=ActorKind.OPERATOR,
        channel=Channel.CALLCENTRE,
        id="op",
        subject_id=patient.id,
        scopes=policy.OPERATOR_SCOPES,
    )
    kiosk = Actor(
        kind=ActorKind.KIOSK, channel=Channel.KIOSK, id="k", subject_id=patient.id, scopes=policy.KIOSK_SCOPES
    )
    assert await require_subject(_ctx(operator), SCOPE_BOOKING) == patient.id
    assert await require_subject(_ctx(kiosk), SCOPE_BOOKING, acting_for=patient.id) == patient.id
    for actor, scope, acting_for in (
        (operator, SCOPE_DOCUMENTS, None),  # operators never read documents
        (operator, SCOPE_BOOKING, other.id),  # only the caller they identified
        (kiosk, SCOPE_PROFILE, None),  # booking and tickets only
        (kiosk, SCOPE_VACCINATION, None),
    ):
        with pytest.raises(ProblemError):
            await require_subject(_ctx(actor), scope, acting_for=acting_for)


async def test_graphql_acting_for_uses_grants_and_audits_refusals(runtime: Runtime) -> None:
    principal, proxy, stranger = [await make_patient(runtime) for _ in range(3)]
    await grant_proxy(runtime, principal.id, proxy.id, scopes={SCOPE_PROFILE})
    query = "query($p: UUID) { me(actingFor: $p) { id } }"
    async with identity_client(runtime) as client:
        ok = await gql(client, query, {"p": str(principal.id)}, headers=auth_headers(token_for(runtime, proxy.id)))
        refused = await gql(
            client, query, {"p": str(principal.id)}, headers=auth_headers(token_for(runtime, stranger.id))
        )
    assert ok["data"]["me"]["id"] == str(principal.id)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.subject_id))).all()
    assert ("access.denied", str(stranger.id), principal.id) in rows
    assert ("patient.profile.read", str(proxy.id), principal.id) in rows


async def test_support_tokens_work_through_the_api(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    query = "{ me { id } }"
    async with identity_client(runtime) as client:
        operator = await gql(client, query, headers=auth_headers(await operator_on_behalf_token(runtime, patient.id)))
        kiosk = await gql(client, query, headers=auth_headers(await kiosk_session_token(runtime, patient.id)))
        staff = await gql(client, query, headers=auth_headers(await operator_token(runtime)))
    assert operator["data"]["me"]["id"] == str(patient.id)
    assert kiosk["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"  # no profile scope at a kiosk
    assert staff["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"  # no caller identified
