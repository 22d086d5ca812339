"""Sharing with a doctor: files or folders opened for a period (1 hour … 30 days) to a recipient.

* By SNILS: a doctor signs in with their own ESIA account; the share is theirs when their SNILS matches.
* By code: an 8-character code (``ABCD-EFGH``, read over the phone) or the link carrying it; only its
  SHA-256 is stored, and it is shown once, when the share is made.

The recipient only reads (lists and downloads). Each download is audited about the owner (their
``myAccessLog`` shows who and when); the first opening and the eve of expiry are notified. A revoked or
expired share answers a clear Russian refusal at once (checked on every request, nothing cached).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from backend.audit import service as audit
from backend.core.context import ActorKind, RequestContext
from backend.core.uow import UnitOfWork
from backend.identity.ratelimit import failure_counter
from backend.identity.service import get_patient, get_patients, normalise_snils
from backend.vault import problems as p
from backend.vault.models import VaultFile, VaultShare
from backend.vault.service.files import FileView, Opened, clean_folder, clean_name, open_blob, recovery_of
from notifications import service as notifications

if TYPE_CHECKING:
    from backend.runtime import Runtime

MIN_PERIOD = timedelta(hours=1)
MAX_PERIOD = timedelta(days=30)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
CODE_LENGTH = 8
EXPIRY_NOTICE = timedelta(days=1)
CODE_ATTEMPTS = 20
CODE_WINDOW_S = 900


@dataclass(frozen=True)
class ShareView:
    id: uuid.UUID
    patient_id: uuid.UUID
    file_ids: tuple[uuid.UUID, ...]
    folders: tuple[str, ...]
    recipient_snils: str | None
    by_code: bool
    note: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    first_opened_at: datetime | None

    @classmethod
    def of(cls, row: VaultShare) -> ShareView:
        return cls(
            id=row.id,
            patient_id=row.patient_id,
            file_ids=tuple(uuid.UUID(f) for f in row.file_ids or ()),
            folders=tuple(row.folders or ()),
            recipient_snils=row.recipient_snils,
            by_code=row.code_hash is not None,
            note=row.note,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            first_opened_at=row.first_opened_at,
        )

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


@dataclass(frozen=True)
class CreatedShare:
    share: ShareView
    code: str | None  # shown once
    link: str | None


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def code_hash(code: str) -> str:
    return hashlib.sha256(f"mz-vault-share:{normalise_code(code)}".encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


async def create_share(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    *,
    file_ids: Sequence[uuid.UUID],
    folders: Sequence[str],
    period: timedelta,
    recipient_snils: str | None,
    note: str | None = None,
) -> CreatedShare:
    if not file_ids and not folders:
        raise p.fail(p.NothingToShare.default())
    if period < MIN_PERIOD or period > MAX_PERIOD:
        raise p.fail(p.BadSharePeriod.default())
    wanted_folders = tuple(dict.fromkeys(clean_folder(f) for f in folders))
    wanted_files = tuple(dict.fromkeys(file_ids))
    if wanted_files:
        rows = list(
            await uow.session.scalars(
                select(VaultFile.id).where(
                    VaultFile.id.in_(wanted_files),
                    VaultFile.patient_id == patient_id,
                    VaultFile.deleted_at.is_(None),
                )
            )
        )
        if len(rows) != len(wanted_files):
            raise p.fail(p.FileNotFound.default())
    snils: str | None = None
    if recipient_snils:
        snils = normalise_snils(recipient_snils)
        if snils is None:
            raise p.fail(p.InvalidInput.of("recipientSnils", "СНИЛС — 11 цифр."))
        owner = await get_patient(uow.session, patient_id)
        actor_self = await _actor_snils(uow)
        if (owner is not None and owner.snils == snils) or (actor_self is not None and actor_self == snils):
            raise p.fail(p.ShareToSelf.default())
    code = None if snils else new_code()
    now = uow.runtime.now()
    row = VaultShare(
        id=uuid.uuid4(),
        patient_id=patient_id,
        file_ids=[str(f) for f in wanted_files],
        folders=list(wanted_folders),
        recipient_snils=snils,
        code_hash=code_hash(code) if code else None,
        note=clean_name(note or "", "note", required=False) or None,
        created_at=now,
        expires_at=now + period,
        created_by=f"{uow.ctx.actor.kind.value}:{uow.ctx.actor.id or '-'}",
    )
    uow.session.add(row)
    await uow.session.flush()
    uow.audit(
        "vault.share_created",
        object_type="vault_share",
        object_id=row.id,
        subject_id=patient_id,
        details={"files": len(wanted_files), "folders": list(wanted_folders), "by_code": code is not None},
    )
    link = f"{uow.runtime.settings.public_url.rstrip('/')}/api/v1/vault/shared/{normalise_code(code)}" if code else None
    return CreatedShare(ShareView.of(row), code, link)


async def _actor_snils(uow: UnitOfWork) -> str | None:
    actor = uow.ctx.actor
    if actor.kind is not ActorKind.PATIENT or not actor.id:
        return None
    try:
        me = await get_patient(uow.session, uuid.UUID(actor.id))
    except ValueError:
        return None
    return me.snils if me else None


async def revoke_share(uow: UnitOfWork, patient_id: uuid.UUID, share_id: uuid.UUID) -> ShareView:
    row = await uow.session.get(VaultShare, share_id)
    if row is None or row.patient_id != patient_id:
        raise p.fail(p.ShareNotFound.default())
    if row.revoked_at is None:
        row.revoked_at = uow.runtime.now()
        await uow.session.flush()
        uow.audit("vault.share_revoked", object_type="vault_share", object_id=share_id, subject_id=patient_id)
    return ShareView.of(row)


async def list_shares(runtime: Runtime, patient_id: uuid.UUID) -> list[ShareView]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(VaultShare).where(VaultShare.patient_id == patient_id).order_by(VaultShare.created_at.desc())
        )
        return [ShareView.of(r) for r in rows]


# ---------------------------------------------------------------------------------------------- the recipient


def _check_live(row: VaultShare | None, now: datetime) -> VaultShare:
    if row is None:
        raise p.fail(p.ShareNotFound.default())
    if row.revoked_at is not None:
        raise p.fail(p.ShareRevoked.default())
    if row.expires_at <= now:
        raise p.fail(p.ShareExpired.default())
    return row


async def share_by_code(runtime: Runtime, code: str, *, client: str | None = None) -> VaultShare:
    """The live share a code opens. Wrong codes are counted per client address: past
    :data:`CODE_ATTEMPTS` in :data:`CODE_WINDOW_S` the client is refused until the window ends."""
    counter = failure_counter(runtime)
    key = f"vault-code:{client or '-'}"
    if await counter.locked(key, limit=CODE_ATTEMPTS):
        raise p.fail(p.TooManyCodeAttempts.default())
    row = None
    if len(normalise_code(code)) == CODE_LENGTH:
        async with runtime.sessionmaker() as session:
            row = await session.scalar(select(VaultShare).where(VaultShare.code_hash == code_hash(code)))
    if row is None:
        await counter.fail(key, window_s=CODE_WINDOW_S)
    return _check_live(row, runtime.now())


async def doctor_snils(runtime: Runtime, ctx: RequestContext) -> str | None:
    """The SNILS of a signed-in person acting as themself (a doctor is a person with an ESIA account)."""
    actor = ctx.actor
    if actor.kind is not ActorKind.PATIENT or not actor.id:
        return None
    async with runtime.sessionmaker() as session:
        me = await get_patient(session, uuid.UUID(actor.id))
    return me.snils if me else None


async def share_for_doctor(runtime: Runtime, ctx: RequestContext, share_id: uuid.UUID) -> VaultShare:
    snils = await doctor_snils(runtime, ctx)
    if snils is None:
        raise p.fail(p.AccessDenied.default())
    async with runtime.sessionmaker() as session:
        row = await session.get(VaultShare, share_id)
    if row is None or row.recipient_snils != snils:
        raise p.fail(p.ShareNotFound.default())
    return _check_live(row, runtime.now())


@dataclass(frozen=True)
class IncomingShare:
    share: ShareView
    owner_name: str
    files: list[FileView]


async def shared_files(runtime: Runtime, share: VaultShare) -> list[FileView]:
    """The files a live share opens: those named, and those now in its folders (not in the bin)."""
    async with runtime.sessionmaker() as session:
        rows = await _live_files(session, [share.patient_id])
    return _opened_by(runtime, share, rows)


async def _live_files(session: Any, owners: Sequence[uuid.UUID]) -> list[VaultFile]:
    if not owners:
        return []
    return list(
        await session.scalars(
            select(VaultFile).where(
                VaultFile.patient_id.in_(list(dict.fromkeys(owners))),
                VaultFile.deleted_at.is_(None),
                VaultFile.erased_at.is_(None),
            )
        )
    )


def _opened_by(runtime: Runtime, share: VaultShare, rows: Sequence[VaultFile]) -> list[FileView]:
    named = set(share.file_ids or ())
    folders = set(share.folders or ())
    chosen = [r for r in rows if r.patient_id == share.patient_id and (str(r.id) in named or r.folder in folders)]
    recovery = recovery_of(runtime)
    return [FileView.of(r, recovery) for r in sorted(chosen, key=lambda r: r.created_at, reverse=True)]


async def view_share(runtime: Runtime, ctx: RequestContext, share: VaultShare) -> IncomingShare:
    """What the recipient sees (an audited read; the first opening notifies the owner)."""
    files = await shared_files(runtime, share)
    await _opened(runtime, ctx, share, "vault.share_viewed", None)
    async with runtime.sessionmaker() as session:
        owner = await get_patient(session, share.patient_id)
    return IncomingShare(ShareView.of(share), owner.short_name if owner else "", files)


async def shares_for_doctor(runtime: Runtime, ctx: RequestContext) -> list[IncomingShare]:
    """The live shares addressed to the signed-in person's SNILS (listing them is not an opening)."""
    snils = await doctor_snils(runtime, ctx)
    if snils is None:
        return []
    now = runtime.now()
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(VaultShare)
                .where(
                    VaultShare.recipient_snils == snils,
                    VaultShare.revoked_at.is_(None),
                    VaultShare.expires_at > now,
                )
                .order_by(VaultShare.created_at.desc())
            )
        )
        owners = await get_patients(session, [r.patient_id for r in rows])
        files = await _live_files(session, [r.patient_id for r in rows])
    out = []
    for row in rows:
        owner = owners.get(row.patient_id)
        out.append(IncomingShare(ShareView.of(row), owner.short_name if owner else "", _opened_by(runtime, row, files)))
    return out


async def open_shared_file(runtime: Runtime, ctx: RequestContext, share: VaultShare, file_id: uuid.UUID) -> Opened:
    """A recipient's download: only a file the share opens; logged about the owner."""
    files = {f.id: f for f in await shared_files(runtime, share)}
    view = files.get(file_id)
    if view is None:
        raise p.fail(p.FileNotFound.default())
    async with runtime.sessionmaker() as session:
        row = await session.get(VaultFile, file_id)
    assert row is not None
    body = await open_blob(runtime, row)
    await _opened(runtime, ctx, share, "vault.share_file_downloaded", file_id)
    return Opened(view, body)


async def _opened(
    runtime: Runtime, ctx: RequestContext, share: VaultShare, action: str, file_id: uuid.UUID | None
) -> None:
    """Audit a recipient's read about the owner; the first one also marks the share opened and notifies."""
    details = {"share_id": str(share.id), "recipient": "snils" if share.recipient_snils else "code"}
    async with UnitOfWork(runtime, ctx) as uow:
        uow.audit(
            action,
            object_type="vault_file" if file_id else "vault_share",
            object_id=file_id or share.id,
            subject_id=share.patient_id,
            details=details,
        )
        first = await uow.session.execute(
            update(VaultShare)
            .where(VaultShare.id == share.id, VaultShare.first_opened_at.is_(None))
            .values(first_opened_at=runtime.now())
        )
        if first.rowcount:  # type: ignore[attr-defined]
            notifications.notify(
                uow,
                patient_id=share.patient_id,
                event="vault.share_opened",
                data={"opened_at": runtime.now(), "expires_at": share.expires_at},
                dedupe_key=f"vault-share:{share.id}:opened",
            )


async def notify_expiring(runtime: Runtime) -> int:
    """Tell owners a day before a live share expires (once per share)."""
    now = runtime.now()
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(VaultShare).where(
                    VaultShare.revoked_at.is_(None),
                    VaultShare.expiry_notified_at.is_(None),
                    VaultShare.expires_at > now,
                    VaultShare.expires_at <= now + EXPIRY_NOTICE,
                )
            )
        )
    ctx = RequestContext.for_system("vault.share_expiry")
    for row in rows:
        async with UnitOfWork(runtime, ctx) as uow:
            await uow.session.execute(update(VaultShare).where(VaultShare.id == row.id).values(expiry_notified_at=now))
            notifications.notify(
                uow,
                patient_id=row.patient_id,
                event="vault.share_expiring",
                data={"expires_at": row.expires_at},
                dedupe_key=f"vault-share:{row.id}:expiring",
            )
    return len(rows)


async def record_refusal(runtime: Runtime, ctx: RequestContext, share_id: uuid.UUID | None, code: str) -> None:
    """A refused recipient request (expired, revoked) is on record too, about nobody's data."""
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "vault.share_refused",
        outcome=code,
        object_type="vault_share",
        object_id=share_id,
    )
