"""The one policy layer: whose data a call is about, and may this actor touch it within this scope.

Every patient-side resolver starts with :func:`require_subject`::

    patient_id = await require_subject(info, SCOPE_BOOKING, acting_for=acting_for)

and then loads only objects owned by ``patient_id`` (object-level check: a row whose owner is not
``patient_id`` is "not found" for this caller).

The errors it raises (:class:`PolicyError`) are both a :class:`ProblemError` (an ``@atomic`` mutation
returns the typed ``NotAuthenticated`` / ``AccessDenied`` member — put them in the result union) and a
:class:`PublicError` (a query answers a GraphQL error with ``extensions.code`` and the Russian text).

Sensitive actions. A 122 operator's on-behalf session identifies the caller by what they know (OMS policy
or SNILS + birth date); for actions that take away something the patient already has, the caller must
also prove they hold the phone on file: the SMS code sent by ``openOnBehalfSession(sendSmsCode: true)``
and dictated to the operator (``confirmOnBehalfCode`` adds :data:`SCOPE_SENSITIVE` to the session), as
EMIAS asks for the relative's SMS code. The sensitive actions are:

* cancelling an existing appointment (``cancelAppointment``);
* rescheduling an existing appointment (``rescheduleAppointment``: the old slot is given up).

Booking a new appointment and viewing appointments need no code. A resolver of a sensitive action calls
``require_subject(..., sensitive=True)``; an operator acting for a caller without :data:`SCOPE_SENSITIVE`
gets :class:`ConfirmationRequired` (``CONFIRMATION_REQUIRED``; put it in the result union), and the
refusal is audited. Patients (themselves or through a proxy grant) and kiosk sessions (the patient in
person) are not asked for a code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.api.problems import AccessDenied, NotAuthenticated, Problem, ProblemError, PublicError
from backend.audit import service as audit
from backend.core.context import ActorKind, Channel, RequestContext
from backend.core.db import utcnow
from backend.identity import tokens
from backend.identity.models import ProxyGrant

SCOPE_BOOKING = "booking"
SCOPE_TICKETS = "tickets"
SCOPE_DOCUMENTS = "documents"
SCOPE_VACCINATION = "vaccination"
SCOPE_DRUGS = "drugs"
SCOPE_INSURANCE = "insurance"
SCOPE_PROFILE = "profile"
SCOPE_NOTIFICATIONS = "notifications"
SCOPE_HOME_VISITS = "home_visits"  # call a doctor home, follow the call
SCOPE_ATTACHMENT = "attachment"  # see the attached clinic, apply to change it
SCOPE_AMBULANCE = "ambulance"  # follow an ambulance call live, share location with the crew (not operators, kiosks)
#: A kiosk session's narrow vaccination right: print the patient's certificate (not read the calendar).
SCOPE_VACCINATION_CERTIFICATE = "vaccination.certificate"
#: Narrower parts of SCOPE_INSURANCE (which implies them in a proxy grant): the policy card and its print
#: (no billed care: a kiosk, an operator), and complaints to the insurer (an operator opens one for a caller).
SCOPE_INSURANCE_POLICY = "insurance_policy"
SCOPE_INSURANCE_COMPLAINTS = "insurance_complaints"
#: Elevated scope of an operator's on-behalf session once the caller confirmed an SMS code; required by
#: the sensitive actions (``require_subject(..., sensitive=True)``).
SCOPE_SENSITIVE = "sensitive"
#: Staff-only scopes (tokens of a staff login, not about a patient).
SCOPE_STAFF = "staff"
SCOPE_GUARDIANSHIP_REVIEW = "guardianship.review"
#: A doctor's staff login (``role = doctor``): reads only what patients shared with them (documents).
SCOPE_DOCTOR = "doctor"
#: A kiosk device's own token: it may only identify patients.
SCOPE_KIOSK_IDENTIFY = "kiosk.identify"

ALL_PATIENT_SCOPES: frozenset[str] = frozenset(
    {
        SCOPE_BOOKING,
        SCOPE_TICKETS,
        SCOPE_DOCUMENTS,
        SCOPE_VACCINATION,
        SCOPE_DRUGS,
        SCOPE_INSURANCE,
        SCOPE_PROFILE,
        SCOPE_NOTIFICATIONS,
        SCOPE_HOME_VISITS,
        SCOPE_ATTACHMENT,
        SCOPE_AMBULANCE,
        SCOPE_INSURANCE_POLICY,
        SCOPE_INSURANCE_COMPLAINTS,
    }
)
#: A grant holding the key scope also holds these narrower ones.
IMPLIED_SCOPES: dict[str, frozenset[str]] = {
    SCOPE_INSURANCE: frozenset({SCOPE_INSURANCE_POLICY, SCOPE_INSURANCE_COMPLAINTS}),
}
#: What a proxy grant may carry (a subset is chosen per grant).
GRANTABLE_SCOPES = ALL_PATIENT_SCOPES
#: An operator's on-behalf session: book, call a doctor home, see appointments, the attachment, the caller's
#: vaccination calendar and booking the due dose (never a certificate), the caller's prescriptions and where
#: the drug is (and put one on deferred service), the OMS policy and a complaint to the insurer, and who the
#: caller is; never documents. Cancelling or rescheduling also needs the caller's SMS code
#: (:data:`SCOPE_SENSITIVE`).
OPERATOR_SCOPES: frozenset[str] = frozenset(
    {
        SCOPE_BOOKING,
        SCOPE_TICKETS,
        SCOPE_PROFILE,
        SCOPE_HOME_VISITS,
        SCOPE_ATTACHMENT,
        SCOPE_VACCINATION,
        SCOPE_DRUGS,
        SCOPE_INSURANCE_POLICY,
        SCOPE_INSURANCE_COMPLAINTS,
    }
)
#: A kiosk session: booking and tickets, printing the vaccination certificate, prescriptions (showing and
#: printing their code and the pharmacies), the OMS policy to show and print; a kiosk does not offer home
#: visits, nor billed care (its screen is in a hall).
KIOSK_SCOPES: frozenset[str] = frozenset(
    {SCOPE_BOOKING, SCOPE_TICKETS, SCOPE_VACCINATION_CERTIFICATE, SCOPE_DRUGS, SCOPE_INSURANCE_POLICY}
)
#: A guardian's grant for a child (until the child's 15th birthday, 323-ФЗ art. 54).
GUARDIAN_SCOPES = ALL_PATIENT_SCOPES

GRANT_LOADER_KEY = "identity.active_grants"
#: The audit ``purpose`` of refusals by people with no relation to the patient (no active grant; an
#: operator's or kiosk's session about someone else): the security log, shown to the patient only as a
#: count (``myAccessLog``), never as entries that could push the real reads out.
SECURITY_PURPOSE = "security"


class PolicyError(ProblemError, PublicError):
    """Refused by the policy: a typed problem in mutations, a public GraphQL error in queries."""

    def __init__(self, problem: Problem) -> None:
        Exception.__init__(self, problem.message)
        self.problem = problem
        self.code = problem.code


@strawberry.type(description="Оператору нужно подтвердить личность звонящего кодом из СМС.")
class ConfirmationRequired(Problem):
    CODE: ClassVar[str] = "CONFIRMATION_REQUIRED"
    MESSAGE: ClassVar[str] = (
        "Для этого действия подтвердите личность звонящего: попросите его продиктовать код из СМС, "
        "отправленный на его телефон."
    )


def not_authenticated() -> PolicyError:
    return PolicyError(NotAuthenticated.default())


def access_denied() -> PolicyError:
    return PolicyError(AccessDenied.default())


def confirmation_required() -> PolicyError:
    return PolicyError(ConfirmationRequired.default())


def grant_is_valid(grant: ProxyGrant, scope: str, at: datetime) -> bool:
    return (
        grant.status == "active"
        and grant.revoked_at is None
        and (grant.expires_at is None or grant.expires_at > at)
        and (scope in (grant.scopes or []) or any(scope in IMPLIED_SCOPES.get(s, ()) for s in grant.scopes or []))
    )


async def active_grants(session: AsyncSession, proxy_id: uuid.UUID, principal_id: uuid.UUID) -> list[ProxyGrant]:
    rows = await session.scalars(
        select(ProxyGrant).where(
            ProxyGrant.proxy_id == proxy_id,
            ProxyGrant.principal_id == principal_id,
            ProxyGrant.status == "active",
        )
    )
    return list(rows)


def _grant_loader(sessionmaker: async_sessionmaker[AsyncSession]) -> Any:
    async def batch(keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> list[list[ProxyGrant]]:
        proxies = {k[0] for k in keys}
        principals = {k[1] for k in keys}
        async with sessionmaker() as session:
            rows = await session.scalars(
                select(ProxyGrant).where(
                    ProxyGrant.proxy_id.in_(proxies),
                    ProxyGrant.principal_id.in_(principals),
                    ProxyGrant.status == "active",
                )
            )
            found = list(rows)
        return [[g for g in found if (g.proxy_id, g.principal_id) == key] for key in keys]

    return batch


def _parts(info_or_ctx: Any) -> tuple[RequestContext, Any]:
    """(request context, GraphQL context or None) of an Info, a GraphQLContext or a RequestContext."""
    if isinstance(info_or_ctx, RequestContext):
        return info_or_ctx, None
    context = getattr(info_or_ctx, "context", info_or_ctx)
    ctx = getattr(context, "ctx", None)
    if not isinstance(ctx, RequestContext):
        raise TypeError("require_subject needs an Info, a GraphQLContext or a RequestContext")
    return ctx, context


async def require_subject(
    info_or_ctx: Any,
    scope: str,
    *,
    acting_for: uuid.UUID | None = None,
    session: AsyncSession | None = None,
    now: datetime | None = None,
    sensitive: bool = False,
) -> uuid.UUID:
    """The patient this call is about, once the actor may act for them within ``scope``.

    * a patient: themself, or ``acting_for`` when they hold an active, unexpired proxy grant for that
      person covering ``scope``;
    * an operator's on-behalf session or a kiosk session: the token's subject (``acting_for``, if given,
      must name the same person);
    * anyone else (anonymous → ``NotAuthenticated``; a staff login without an on-behalf session, a
      kiosk device, a scope the session lacks → ``AccessDenied``).

    ``sensitive``: the call is a sensitive action (see the module docstring); an operator's on-behalf
    session without :data:`SCOPE_SENSITIVE` (no SMS code confirmed) → ``ConfirmationRequired``.

    A grant check reads through the request's DataLoader (a session of its own), or ``session`` when
    given (services outside GraphQL). Refusals to act for someone else are audited.
    """
    ctx, context = _parts(info_or_ctx)
    actor = ctx.actor
    if not actor.is_authenticated:
        raise not_authenticated()
    if actor.kind is ActorKind.PATIENT and actor.subject_id is not None:
        me = actor.subject_id
        if scope not in actor.scopes:
            raise access_denied()
        if acting_for is None or acting_for == me:
            return me
        at = now or (_clock_of(context) if context is not None else utcnow())
        if session is not None:
            grants = await active_grants(session, me, acting_for)
        elif context is not None:
            loader = context.loaders.get(GRANT_LOADER_KEY, _grant_loader(context.read_sessionmaker))
            grants = await loader.load((me, acting_for))
        else:
            raise TypeError("checking a proxy grant needs a GraphQL context or a session")
        if any(grant_is_valid(g, scope, at) for g in grants):
            return acting_for
        await _audit_refusal(context, ctx, scope, acting_for, security=not grants)
        raise access_denied()
    if actor.kind in (ActorKind.OPERATOR, ActorKind.KIOSK) and actor.subject_id is not None:
        if acting_for is not None and acting_for != actor.subject_id:
            await _audit_refusal(context, ctx, scope, acting_for, security=True)
            raise access_denied()
        if scope not in actor.scopes:
            await _audit_refusal(context, ctx, scope, actor.subject_id)
            raise access_denied()
        if sensitive and actor.kind is ActorKind.OPERATOR and SCOPE_SENSITIVE not in actor.scopes:
            await _audit_refusal(
                context,
                ctx,
                scope,
                actor.subject_id,
                action="access.confirmation_required",
                outcome="CONFIRMATION_REQUIRED",
            )
            raise confirmation_required()
        return actor.subject_id
    raise access_denied()


async def require_certificate_subject(
    info_or_ctx: Any, *, acting_for: uuid.UUID | None = None, session: AsyncSession | None = None
) -> uuid.UUID:
    """Whose vaccination certificate may be issued or printed: the patient or a proxy
    (:data:`SCOPE_VACCINATION`), or the patient in person at a kiosk (:data:`SCOPE_VACCINATION_CERTIFICATE`);
    never a 122 operator (a signed document of the caller is not handed over the phone: their sessions lack
    the certificate scope). Refusals are audited as by :func:`require_subject`."""
    ctx, _ = _parts(info_or_ctx)
    scope = SCOPE_VACCINATION if ctx.actor.kind is ActorKind.PATIENT else SCOPE_VACCINATION_CERTIFICATE
    return await require_subject(info_or_ctx, scope, acting_for=acting_for, session=session)


def _clock_of(context: Any) -> datetime:
    return tokens.now(context.runtime)


async def _audit_refusal(
    context: Any,
    ctx: RequestContext,
    scope: str,
    subject: uuid.UUID,
    *,
    action: str = "access.denied",
    outcome: str = "ACCESS_DENIED",
    security: bool = False,
) -> None:
    if context is None:
        return
    await audit.record_now(
        context.sessionmaker,
        ctx,
        action,
        outcome=outcome,
        subject_id=subject,
        purpose=SECURITY_PURPOSE if security else None,
        details={"scope": scope},
    )


def require_staff(info_or_ctx: Any, scope: str = SCOPE_STAFF) -> str:
    """The staff id of a staff login (not an on-behalf session, not a patient); raises otherwise."""
    ctx, _ = _parts(info_or_ctx)
    actor = ctx.actor
    if not actor.is_authenticated:
        raise not_authenticated()
    if actor.kind is not ActorKind.OPERATOR or actor.subject_id is not None or scope not in actor.scopes:
        raise access_denied()
    if actor.channel is not Channel.CALLCENTRE or actor.id is None:
        raise access_denied()
    return actor.id


def require_doctor(info_or_ctx: Any) -> str:
    """The staff id of a doctor's staff login (:data:`SCOPE_DOCTOR`); raises for anyone else."""
    ctx, _ = _parts(info_or_ctx)
    actor = ctx.actor
    if not actor.is_authenticated:
        raise not_authenticated()
    if actor.kind is not ActorKind.OPERATOR or actor.subject_id is not None or SCOPE_DOCTOR not in actor.scopes:
        raise access_denied()
    if actor.id is None:
        raise access_denied()
    return actor.id


def require_patient_self(info_or_ctx: Any) -> uuid.UUID:
    """The patient themself in their own session (managing their proxies is never delegated)."""
    ctx, _ = _parts(info_or_ctx)
    actor = ctx.actor
    if not actor.is_authenticated:
        raise not_authenticated()
    if actor.kind is not ActorKind.PATIENT or actor.subject_id is None or SCOPE_PROFILE not in actor.scopes:
        raise access_denied()
    return actor.subject_id


def require_on_behalf_operator(info_or_ctx: Any) -> uuid.UUID:
    """The caller's patient id in an operator's on-behalf session; raises otherwise."""
    ctx, _ = _parts(info_or_ctx)
    actor = ctx.actor
    if not actor.is_authenticated:
        raise not_authenticated()
    if actor.kind is not ActorKind.OPERATOR or actor.subject_id is None:
        raise access_denied()
    return actor.subject_id


def require_kiosk_device(info_or_ctx: Any) -> str:
    """The client id of a kiosk device token (before any patient identified at it)."""
    ctx, _ = _parts(info_or_ctx)
    actor = ctx.actor
    if not actor.is_authenticated:
        raise not_authenticated()
    if actor.kind is not ActorKind.KIOSK or actor.id is None or SCOPE_KIOSK_IDENTIFY not in actor.scopes:
        raise access_denied()
    return actor.id
