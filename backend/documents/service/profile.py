"""The digital medical profile: what the patient's documents say (blood group, allergies, chronic diagnoses,
long-term medications, disability, recent vital signs, vaccinations) and what the patient added in their
own words; and the emergency subset the patient chooses to share with an ambulance crew.

Facts were read from each CDA at sync (:mod:`backend.documents.service.sync`), so building the profile is
two queries and no upstream call. Each item says where it comes from: a document (its title and date)
or the patient («со слов пациента»).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.documents import problems
from backend.documents.models import ContentStatus, EmergencyProfileSetting, MedicalDocument, ProfileEntry
from backend.documents.service.sync import quantity_of

if TYPE_CHECKING:
    from backend.runtime import Runtime

#: What a patient may add: allergy, chronic condition, medication, blood group, disability, note.
ENTRY_KINDS = ("allergy", "chronic_condition", "medication", "blood_group", "disability", "note")
MAX_ENTRY = 500
MAX_ENTRIES = 100
ICD10 = re.compile(r"^[A-Z]\d{2}(\.\d{1,2})?$")
PHONE = re.compile(r"^\+7\d{10}$")
#: ICD-10 groups read as chronic wherever they appear (a diagnosis in two or more documents is chronic too):
#: hypertension, ischaemic heart disease, heart failure, cerebrovascular disease, diabetes, obesity,
#: thyroid disease, COPD and asthma, chronic kidney disease, chronic gastritis / ulcer, arthrosis.
CHRONIC_PREFIXES = (
    "I10", "I11", "I12", "I13", "I15", "I20", "I21", "I22", "I25", "I48", "I50", "I63", "I67", "I69",
    "E03", "E05", "E10", "E11", "E13", "E14", "E66", "E78", "J41", "J42", "J43", "J44", "J45",
    "N18", "K25", "K26", "K29", "M15", "M16", "M17", "M42",
)  # fmt: skip
RECENT_VITALS = 8
PATIENT_WORDS = "со слов пациента"


@dataclass(frozen=True)
class Source:
    """Where an item comes from: a document (id, title, date) or the patient's own words."""

    patient: bool
    document_id: uuid.UUID | None = None
    document_title: str | None = None
    at: datetime | date | None = None

    @property
    def shown(self) -> str:
        if self.patient:
            return PATIENT_WORDS.capitalize()
        when = f" от {self.at.strftime('%d.%m.%Y')}" if self.at is not None else ""
        return f"{self.document_title}{when}"


@dataclass(frozen=True)
class ProfileItem:
    kind: str
    text: str
    code: str | None
    source: Source
    at: datetime | date | None = None
    until: datetime | date | None = None
    detail: str | None = None
    value: Decimal | None = None
    unit: str | None = None
    entry_id: uuid.UUID | None = None  # the patient's own entry (removable)


@dataclass(frozen=True)
class EmergencySettings:
    enabled: bool
    share_allergies: bool
    share_conditions: bool
    share_blood_group: bool
    contact_name: str | None
    contact_phone: str | None


DEFAULT_EMERGENCY = EmergencySettings(False, True, True, True, None, None)


@dataclass(frozen=True)
class MedicalProfile:
    patient_id: uuid.UUID
    blood_group: ProfileItem | None
    allergies: tuple[ProfileItem, ...]
    chronic_conditions: tuple[ProfileItem, ...]
    medications: tuple[ProfileItem, ...]
    disability: ProfileItem | None
    vitals: tuple[ProfileItem, ...]
    vaccinations: tuple[ProfileItem, ...]
    notes: tuple[ProfileItem, ...]
    emergency: EmergencySettings
    unreadable_documents: int  # documents whose content could not be read (their facts are missing)


@dataclass(frozen=True)
class EmergencyProfile:
    """What an ambulance crew sees of a patient who chose to share it."""

    patient_id: uuid.UUID
    blood_group: str | None
    allergies: tuple[str, ...]
    chronic_conditions: tuple[str, ...]
    contact_name: str | None
    contact_phone: str | None


def _parse_moment(value: str | None) -> datetime | date | None:
    if not value:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def _sort_key(item: ProfileItem) -> str:
    at = item.at or item.source.at
    return at.isoformat() if at is not None else ""


def _is_current(until: datetime | date | None, today: date) -> bool:
    if until is None:
        return True
    return (until.date() if isinstance(until, datetime) else until) >= today


async def _load(
    runtime: Runtime, patient_id: uuid.UUID
) -> tuple[list[MedicalDocument], list[ProfileEntry], EmergencySettings]:
    async with runtime.sessionmaker() as session:
        documents = list(
            await session.scalars(
                select(MedicalDocument)
                .where(MedicalDocument.patient_id == patient_id)
                .order_by(MedicalDocument.created_at.desc(), MedicalDocument.id.desc())
            )
        )
        entries = list(
            await session.scalars(
                select(ProfileEntry)
                .where(ProfileEntry.patient_id == patient_id, ProfileEntry.removed_at.is_(None))
                .order_by(ProfileEntry.created_at.desc(), ProfileEntry.id)
            )
        )
        setting = await session.get(EmergencyProfileSetting, patient_id)
    emergency = DEFAULT_EMERGENCY
    if setting is not None:
        emergency = EmergencySettings(
            setting.enabled,
            setting.share_allergies,
            setting.share_conditions,
            setting.share_blood_group,
            setting.contact_name,
            setting.contact_phone,
        )
    return documents, entries, emergency


def build_profile(  # noqa: PLR0912 - one branch per kind of fact
    patient_id: uuid.UUID,
    documents: list[MedicalDocument],
    entries: list[ProfileEntry],
    emergency: EmergencySettings,
    today: date,
) -> MedicalProfile:
    """The profile from the documents' facts (newest document first) and the patient's entries."""
    blood: ProfileItem | None = None
    disability: ProfileItem | None = None
    allergies: dict[str, ProfileItem] = {}
    diagnoses: dict[str, ProfileItem] = {}
    diagnosis_documents: dict[str, set[uuid.UUID]] = {}
    medications: dict[str, ProfileItem] = {}
    vitals: dict[str, ProfileItem] = {}
    vaccinations: list[ProfileItem] = []
    for document in documents:
        if document.content_status != ContentStatus.OK:
            continue
        source = Source(False, document.id, document.title, document.created_at)
        for fact in document.facts or []:
            code = (fact.get("code") or {}).get("code")
            quantity = quantity_of(fact.get("quantity"))
            item = ProfileItem(
                kind=fact["kind"],
                text=fact.get("shown") or code or "",
                code=code,
                source=source,
                at=_parse_moment(fact.get("known_at")),
                until=_parse_moment(fact.get("until")),
                detail=fact.get("detail"),
                value=quantity[0] if quantity else None,
                unit=quantity[1] if quantity else None,
            )
            key = code or item.text
            kind = fact["kind"]
            if kind == "blood_group" and blood is None:
                blood = item
            elif kind == "disability" and disability is None:
                disability = item
            elif kind == "allergy":
                allergies.setdefault(key, item)
            elif kind == "diagnosis":
                diagnoses.setdefault(key, item)
                diagnosis_documents.setdefault(key, set()).add(document.id)
            elif kind == "medication" and _is_current(item.until, today):
                medications.setdefault(key, item)
            elif kind == "vital":
                label = fact.get("label") or key
                vitals.setdefault(label, ProfileItem(**{**item.__dict__, "text": f"{label}: {item.text}"}))
            elif kind == "vaccination":
                vaccinations.append(item)
    chronic = [
        item
        for key, item in diagnoses.items()
        if (item.code or "").startswith(CHRONIC_PREFIXES) or len(diagnosis_documents.get(key, ())) >= 2
    ]
    notes: list[ProfileItem] = []
    own = {"allergy": [], "chronic_condition": [], "medication": []}  # type: dict[str, list[ProfileItem]]
    for entry in entries:
        item = ProfileItem(
            kind=entry.kind, text=entry.text, code=entry.code, source=Source(True, at=entry.created_at),
            at=entry.created_at, entry_id=entry.id,
        )  # fmt: skip
        if entry.kind in own:
            own[entry.kind].append(item)
        elif entry.kind == "blood_group" and blood is None:
            blood = item
        elif entry.kind == "disability" and disability is None:
            disability = item
        else:
            notes.append(item)
    return MedicalProfile(
        patient_id=patient_id,
        blood_group=blood,
        allergies=(*own["allergy"], *allergies.values()),
        chronic_conditions=(*own["chronic_condition"], *chronic),
        medications=(*own["medication"], *medications.values()),
        disability=disability,
        vitals=tuple(sorted(vitals.values(), key=_sort_key, reverse=True)[:RECENT_VITALS]),
        vaccinations=tuple(sorted(vaccinations, key=_sort_key, reverse=True)),
        notes=tuple(notes),
        emergency=emergency,
        unreadable_documents=sum(1 for d in documents if d.content_status != ContentStatus.OK),
    )


async def medical_profile(
    runtime: Runtime, ctx: RequestContext | None, patient_id: uuid.UUID, *, action: str = "documents.profile_read"
) -> MedicalProfile:
    """The patient's profile; audited as ``action`` when a reader's ``ctx`` is given."""
    documents, entries, emergency = await _load(runtime, patient_id)
    today = runtime.now().date()
    profile = build_profile(patient_id, documents, entries, emergency, today)
    if ctx is not None:
        await audit.record_now(runtime.sessionmaker, ctx, action, subject_id=patient_id, object_type="medical_profile")
    return profile


# -- the patient's own entries ------------------------------------------------------------------------


async def add_entry(
    uow: UnitOfWork, patient_id: uuid.UUID, *, kind: str, text: str, code: str | None, idempotency_key: str
) -> ProfileEntry:
    """Add the patient's own words to their profile (a repeat of ``idempotency_key`` returns the first)."""
    text = " ".join(text.split())
    code = code.strip().upper() if code and code.strip() else None
    if kind not in ENTRY_KINDS:
        raise problems.fail(problems.InvalidInput.of("kind", "Неизвестный вид записи профиля."))
    if not text or len(text) > MAX_ENTRY:
        raise problems.fail(problems.InvalidInput.of("text", f"Опишите запись (до {MAX_ENTRY} символов)."))
    if code is not None and not ICD10.match(code):
        raise problems.fail(problems.InvalidInput.of("code", "Код МКБ-10 указывается так: J45 или J45.0."))
    if not idempotency_key or len(idempotency_key) > 128:
        raise problems.fail(problems.InvalidInput.of("idempotencyKey", "Ключ идемпотентности: от 1 до 128 символов."))
    session = uow.session
    existing = await session.scalar(
        select(ProfileEntry).where(
            ProfileEntry.patient_id == patient_id, ProfileEntry.idempotency_key == idempotency_key
        )
    )
    if existing is not None:
        if (existing.kind, existing.text, existing.code) != (kind, text, code):
            raise problems.fail(
                problems.InvalidInput.of("idempotencyKey", "Этот ключ уже использован для другой записи.")
            )
        return existing
    count = len(
        list(
            await session.scalars(
                select(ProfileEntry.id).where(ProfileEntry.patient_id == patient_id, ProfileEntry.removed_at.is_(None))
            )
        )
    )
    if count >= MAX_ENTRIES:
        raise problems.fail(problems.InvalidInput.of("text", f"В профиле не больше {MAX_ENTRIES} своих записей."))
    entry = ProfileEntry(
        id=uuid.uuid4(),
        patient_id=patient_id,
        kind=kind,
        text=text,
        code=code,
        created_at=uow.runtime.now(),
        idempotency_key=idempotency_key,
    )
    session.add(entry)
    await session.flush()
    uow.audit("documents.profile_entry_added", subject_id=patient_id, object_type="profile_entry", object_id=entry.id)
    return entry


async def remove_entry(uow: UnitOfWork, patient_id: uuid.UUID, entry_id: uuid.UUID) -> ProfileEntry:
    entry = await uow.session.get(ProfileEntry, entry_id, with_for_update=True)
    if entry is None or entry.patient_id != patient_id:
        raise problems.fail(problems.EntryNotFound.default())
    if entry.removed_at is None:
        entry.removed_at = uow.runtime.now()
        uow.audit(
            "documents.profile_entry_removed", subject_id=patient_id, object_type="profile_entry", object_id=entry.id
        )
    return entry


# -- the emergency profile ----------------------------------------------------------------------------


async def set_emergency(uow: UnitOfWork, patient_id: uuid.UUID, settings: EmergencySettings) -> EmergencySettings:
    name = " ".join((settings.contact_name or "").split()) or None
    phone = (settings.contact_phone or "").replace(" ", "").replace("-", "") or None
    if phone is not None and not PHONE.match(phone):
        raise problems.fail(problems.InvalidInput.of("contactPhone", "Телефон указывается так: +79280000000."))
    if name is not None and len(name) > 255:
        raise problems.fail(problems.InvalidInput.of("contactName", "Имя контакта длиннее 255 символов."))
    if (name is None) != (phone is None):
        raise problems.fail(problems.InvalidInput.of("contactPhone", "Укажите и имя, и телефон контакта."))
    row = await uow.session.get(EmergencyProfileSetting, patient_id, with_for_update=True)
    if row is None:
        row = EmergencyProfileSetting(patient_id=patient_id)
        uow.session.add(row)
    row.enabled = settings.enabled
    row.share_allergies = settings.share_allergies
    row.share_conditions = settings.share_conditions
    row.share_blood_group = settings.share_blood_group
    row.contact_name, row.contact_phone = name, phone
    row.updated_at = uow.runtime.now()
    uow.audit("documents.emergency_profile_set", subject_id=patient_id, details={"enabled": settings.enabled})
    return EmergencySettings(row.enabled, row.share_allergies, row.share_conditions, row.share_blood_group, name, phone)


async def emergency_profile(
    runtime: Runtime, patient_id: uuid.UUID, *, ctx: RequestContext | None = None
) -> EmergencyProfile | None:
    """What an ambulance crew may see of ``patient_id``: None unless the patient turned sharing on.

    The API other domains call (the ambulance): only the parts the patient chose (allergies, chronic
    conditions, blood group) and the emergency contact. Audited as a read by ``ctx`` when given.
    """
    profile = await medical_profile(runtime, None, patient_id)
    settings = profile.emergency
    if not settings.enabled:
        return None
    if ctx is not None:
        await audit.record_now(runtime.sessionmaker, ctx, "documents.emergency_profile_read", subject_id=patient_id)
    return EmergencyProfile(
        patient_id=patient_id,
        blood_group=profile.blood_group.text if settings.share_blood_group and profile.blood_group else None,
        allergies=tuple(_with_source(i) for i in profile.allergies) if settings.share_allergies else (),
        chronic_conditions=tuple(_with_source(i) for i in profile.chronic_conditions)
        if settings.share_conditions
        else (),
        contact_name=settings.contact_name,
        contact_phone=settings.contact_phone,
    )


def _with_source(item: ProfileItem) -> str:
    code = f" ({item.code})" if item.code and item.code not in item.text else ""
    return f"{item.text}{code}, {PATIENT_WORDS}" if item.source.patient else f"{item.text}{code}"


def patient_source(at: datetime) -> Source:
    """The source of what the patient said themself."""
    return Source(True, at=at)
