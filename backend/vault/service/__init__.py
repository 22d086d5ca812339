"""The vault's services: files (upload, download, edit, bin, erase, sweep, re-wrap) and shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.vault.service.files import (
    FOLDERS,
    FileMeta,
    FileView,
    Opened,
    delete_file,
    erase_expired,
    list_files,
    open_file,
    recovery_of,
    restore_file,
    rewrap_all,
    sweep_orphans,
    update_file,
    upload,
    used_bytes,
)
from backend.vault.service.idempotency import Claim, claim
from backend.vault.service.shares import (
    CODE_ATTEMPTS,
    CreatedShare,
    IncomingShare,
    ShareView,
    create_share,
    list_shares,
    notify_expiring,
    open_shared_file,
    record_refusal,
    revoke_share,
    share_by_code,
    share_for_doctor,
    shares_for_doctor,
    view_share,
)

if TYPE_CHECKING:
    from backend.runtime import Runtime

__all__ = [
    "CODE_ATTEMPTS",
    "FOLDERS",
    "Claim",
    "CreatedShare",
    "FileMeta",
    "FileView",
    "IncomingShare",
    "Opened",
    "ShareView",
    "claim",
    "create_share",
    "delete_file",
    "erase_expired",
    "housekeeping",
    "list_files",
    "list_shares",
    "notify_expiring",
    "open_file",
    "open_shared_file",
    "record_refusal",
    "recovery_of",
    "restore_file",
    "revoke_share",
    "rewrap_all",
    "share_by_code",
    "share_for_doctor",
    "shares_for_doctor",
    "sweep_orphans",
    "update_file",
    "upload",
    "used_bytes",
    "view_share",
]


async def housekeeping(runtime: Runtime) -> dict[str, int]:
    """The vault's periodic jobs: erase what stayed in the bin past recovery, remove orphan blobs, and
    tell owners about shares expiring within a day."""
    return {
        "erased": await erase_expired(runtime),
        "orphans": await sweep_orphans(runtime),
        "expiring": await notify_expiring(runtime),
    }
