"""A 122 operator's sessions: the staff login, then a session on behalf of an identified caller.

An on-behalf session identifies the caller by what they know (OMS policy or SNILS + birth date); an SMS
code sent to the caller's phone and dictated back (``confirm_on_behalf_code``) adds the ``sensitive``
scope (see :mod:`backend.identity.policy`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from backend.core.context import Channel
from backend.core.uow import UnitOfWork
from backend.identity import codes, policy, problems, ratelimit, sessions, tokens
from backend.identity.identification import identified_patient
from backend.identity.models import AuthSession
from backend.identity.service import PatientView, get_patients
from backend.identity.staff import LOCKOUT, MAX_FAILED_LOGINS, StaffAuthError, StaffPrincipal, staff_provider

TOTP_REUSED = (
    "Этот одноразовый код уже использован. Дождитесь следующего кода в приложении-аутентификаторе и введите его."
)
ON_BEHALF_SMS = "Код {code}: подтвердите оператору 122 действия от вашего имени. Никому больше не сообщайте."


@dataclass(frozen=True)
class OnBehalf:
    """An on-behalf session and the caller it is about."""

    session: sessions.IssuedSession
    patient: PatientView
    sms_code_sent: bool


def staff_scopes(role: str) -> set[str]:
    """A staff login's scopes: a doctor reads what patients shared with them and nothing of the call centre's."""
    if role == "doctor":
        return {policy.SCOPE_DOCTOR}
    return {policy.SCOPE_STAFF} | ({policy.SCOPE_GUARDIANSHIP_REVIEW} if role in ("registrar", "operator") else set())


async def staff_login(
    uow: UnitOfWork, *, login: str, password: str, totp_code: str
) -> tuple[sessions.IssuedSession, StaffPrincipal]:
    """A staff session for valid credentials; :class:`problems.InvalidCredentials` or ``AccountLocked``."""
    if not login.strip() or not password or not totp_code.strip():
        raise problems.InvalidInput("login", "Укажите логин, пароль и одноразовый код.")
    rt = uow.runtime
    at = tokens.now(rt)
    # Failure counters must survive the rollback of a refused login: their own transaction.
    async with rt.sessionmaker() as session, session.begin():
        failed: StaffAuthError | None = None
        try:
            staff = await staff_provider(rt).authenticate(
                session, login=login.strip(), password=password, totp_code=totp_code, at=at
            )
        except StaffAuthError as exc:
            failed = exc
    if failed is not None and failed.reason == "unknown_login":
        # An unknown login locks as an account does: the answers tell nobody which logins exist.
        locked = await ratelimit.failure_counter(rt).lockout(
            f"staff-login:{login.strip().casefold()}",
            at=at.timestamp(),
            limit=MAX_FAILED_LOGINS,
            lockout_s=int(LOCKOUT.total_seconds()),
        )
        raise problems.AccountLocked() if locked else problems.InvalidCredentials()
    if failed is not None and failed.reason == "totp_reused":
        raise problems.InvalidCredentials(TOTP_REUSED)
    if failed is not None:
        raise problems.AccountLocked() if failed.reason == "locked" else problems.InvalidCredentials()
    row = await sessions.open_session(
        uow.session,
        kind=sessions.SessionKind.STAFF,
        channel=Channel.CALLCENTRE,
        at=at,
        ttl_s=rt.settings.operator_session_ttl_s,
        scopes=staff_scopes(staff.role),
        actor_id=staff.id,
    )
    issued = sessions.issued(rt, row)
    uow.audit("identity.staff_login", object_type="staff", object_id=staff.id)
    return issued, staff


async def open_on_behalf_session(
    uow: UnitOfWork,
    *,
    staff_id: str,
    staff_session_id: uuid.UUID | None,
    birth_date: date,
    oms_policy: str | None,
    snils: str | None,
    send_sms_code: bool,
    patient_id: uuid.UUID | None = None,
) -> OnBehalf:
    """The operator's session for the caller identified by policy or SNILS + birth date (or ``patient_id``,
    a person the call's number offered, + birth date: :func:`backend.call_record.service.caller_candidates`);
    it ends with the staff session ``staff_session_id`` it is opened from."""
    rt = uow.runtime
    at = tokens.now(rt)
    patient = await identified_patient(
        rt,
        uow.ctx,
        channel_key=f"operator:{staff_id}",
        at=at,
        birth_date=birth_date,
        oms_policy=oms_policy,
        snils=snils,
        at_kiosk=False,
        patient_id=patient_id,
    )
    send = send_sms_code and bool(patient.phone)
    if send:
        await codes.reserve(rt, uow.ctx, patient_id=patient.id, phone=patient.phone, requester=f"staff:{staff_id}")
    row = await sessions.open_session(
        uow.session,
        kind=sessions.SessionKind.ON_BEHALF,
        channel=Channel.CALLCENTRE,
        at=at,
        ttl_s=rt.settings.operator_session_ttl_s,
        scopes=policy.OPERATOR_SCOPES,
        patient_id=patient.id,
        actor_id=staff_id,
        parent_session_id=staff_session_id,
    )
    if send and patient.phone:
        await codes.send_code(
            uow,
            purpose="on_behalf",
            target_id=row.id,
            patient_id=patient.id,
            phone=patient.phone,
            text=ON_BEHALF_SMS,
            at=at,
        )
    issued = sessions.issued(rt, row)
    uow.audit("identity.on_behalf_opened", subject_id=patient.id, object_type="session", object_id=row.id)
    return OnBehalf(session=issued, patient=patient, sms_code_sent=send)


async def confirm_on_behalf_code(
    uow: UnitOfWork, *, session_id: uuid.UUID, patient_id: uuid.UUID, code: str
) -> OnBehalf:
    """Add the ``sensitive`` scope to on-behalf session ``session_id`` once the caller's code matches."""
    rt = uow.runtime
    # The code first (its own transaction), then the unit of work's reads: see codes.check_code.
    checked = await codes.check_code(rt, purpose="on_behalf", target_id=session_id, code=code, patient_id=patient_id)
    if checked is codes.CodeCheck.WRONG:
        raise problems.WrongCode()
    if checked is not codes.CodeCheck.OK:
        raise problems.CodeExpired()
    row = await uow.session.get(AuthSession, session_id, with_for_update=True)
    if row is None or row.kind != sessions.SessionKind.ON_BEHALF.value or row.revoked_at is not None:
        raise policy.access_denied()
    row.elevated_at = tokens.now(rt)
    row.scopes = sorted({*row.scopes, policy.SCOPE_SENSITIVE})
    await uow.session.flush()
    issued = sessions.issued(rt, row)
    uow.audit("identity.on_behalf_elevated", subject_id=row.patient_id, object_type="session", object_id=row.id)
    async with rt.sessionmaker() as session:
        found = await get_patients(session, [patient_id])
    if patient_id not in found:
        raise policy.access_denied()
    return OnBehalf(session=issued, patient=found[patient_id], sms_code_sent=False)
