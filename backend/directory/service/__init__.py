"""The directory's services: the sync from the booking hub, the reads, the per-process caches.

* :mod:`.sync` — :func:`sync_directory` and its :class:`SyncSummary`;
* :mod:`.reads` — organisations, districts, specialties and doctors, one statement each, batched by ids;
* :mod:`.cache` — doctor cards and a specialty's offering, cached per process for seconds;
* :mod:`.referrals` — whether a specialty is booked without a referral, learned from the hub's answers.

Callers import from here (``from backend.directory import service as directory``).
"""

from backend.directory.service.cache import (
    CARD_CACHE_SIZE,
    CARD_TTL_S,
    CARDS_KEY,
    OFFERINGS_KEY,
    DoctorCard,
    Offering,
    doctor_card,
    forget_cached,
    offering,
)
from backend.directory.service.reads import (
    MAX_SEARCH_WORDS,
    OrganisationCursor,
    districts_by_ids,
    districts_by_upstream_ids,
    doctors_by_ids,
    doctors_by_organisation,
    fold,
    list_districts,
    list_organisations,
    list_specialties,
    organisations_by_ids,
    organisations_by_upstream_ids,
    specialties_by_codes,
    specialties_by_ids,
    specialties_by_organisation,
)
from backend.directory.service.referrals import direct_booking_known, record_direct_booking
from backend.directory.service.sync import (
    MAX_FAILURE_MESSAGE,
    STAGE_LABELS,
    SYNC_ACTION,
    Counts,
    Progress,
    SyncFailure,
    SyncSummary,
    sync_directory,
)

__all__ = [
    "CARDS_KEY",
    "CARD_CACHE_SIZE",
    "CARD_TTL_S",
    "MAX_FAILURE_MESSAGE",
    "MAX_SEARCH_WORDS",
    "OFFERINGS_KEY",
    "STAGE_LABELS",
    "SYNC_ACTION",
    "Counts",
    "DoctorCard",
    "Offering",
    "OrganisationCursor",
    "Progress",
    "SyncFailure",
    "SyncSummary",
    "direct_booking_known",
    "districts_by_ids",
    "districts_by_upstream_ids",
    "doctor_card",
    "doctors_by_ids",
    "doctors_by_organisation",
    "fold",
    "forget_cached",
    "list_districts",
    "list_organisations",
    "list_specialties",
    "offering",
    "organisations_by_ids",
    "organisations_by_upstream_ids",
    "record_direct_booking",
    "specialties_by_codes",
    "specialties_by_ids",
    "specialties_by_organisation",
    "sync_directory",
]
