"""The in-memory ИЭМК of the ИЭМК simulator: stored documents per person, pending registrations, signing.
No HTTP here: :mod:`integrations.iemk.simulator` is the JSON layer and the ASGI app."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from integrations.common.faults import FaultInjector
from integrations.demo_region.model import Person, Region
from integrations.iemk.cda import CdaBuilder, DocumentSpec, parse_cda, snils_digits
from integrations.iemk.cms import CmsSigner, RsaCmsSigner, check_detached
from integrations.iemk.demo import PlannedDocument, demo_documents, new_document, vaccination_document
from integrations.iemk.protocol import (
    DocumentAuthor,
    DocumentMetadata,
    Registration,
    RegistrationError,
    RegistrationStatus,
    SignatureRole,
)
from integrations.iemk.types import SEMD_TYPES
from integrations.iemk.validation import validate_cda
from integrations.nsi.snapshot import Terminology, default_terminology

BASE_PATH = "/iemk/api/v1"
SCENARIO_PATH = "/iemk/scenario"
POSITIONS_OID = "1.2.643.5.1.13.13.11.1002"
MAX_PAGE_SIZE = 100
_UID_NS = uuid.UUID("0c1d2e3f-4a5b-5c6d-8e7f-90a1b2c3d4e5")

SignerFactory = Callable[[str, str | None, str | None], CmsSigner]  # (common name, organisation, snils)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class StoredDocument:
    metadata: DocumentMetadata
    cda: bytes
    signer_names: tuple[str, str | None, str]  # doctor's name, doctor's SNILS, organisation's name
    signatures: dict[SignatureRole, bytes] | None = None


@dataclass
class Pending:
    registration: Registration
    due_at: datetime
    metadata: DocumentMetadata
    cda: bytes
    signatures: dict[SignatureRole, bytes]
    errors: tuple[RegistrationError, ...] = ()
    signer_names: tuple[str, str | None, str] = ("", None, "")


@dataclass
class _PersonDocs:
    person: Person
    documents: list[StoredDocument] = field(default_factory=list)


class IemkSimulatorState:
    """The register's in-memory world: demo documents, registrations, signers, faults, counters."""

    def __init__(
        self,
        region: Region,
        *,
        faults: FaultInjector,
        clock: Callable[[], datetime] | None = None,
        api_key: str | None = None,
        terminology: Terminology | None = None,
        registration_delay: timedelta = timedelta(minutes=5),
        key_size: int = 2048,
        signer_factory: SignerFactory | None = None,
    ) -> None:
        self.region = region
        self.faults = faults
        self.api_key = api_key
        self.terminology = terminology or default_terminology()
        self.registration_delay = registration_delay
        self._clock = clock or (lambda: datetime.now(UTC))
        self._builder = CdaBuilder(self.terminology)
        self._signer_factory: SignerFactory = signer_factory or (
            lambda name, org, snils: RsaCmsSigner.generate(name, organisation=org, snils=snils, key_size=key_size)
        )
        self._signers: dict[str, CmsSigner] = {}
        self._people: dict[str, _PersonDocs] = {}  # ESIA oid -> documents (built on first use)
        self._index = {p.esia_oid: i for i, p in enumerate(region.people)}
        self._by_snils = {snils_digits(p.snils): p for p in region.people}
        self._by_number: dict[str, tuple[str, StoredDocument]] = {}  # registry number -> (oid, document)
        self.registrations: dict[str, Pending] = {}
        self._next_number = 9_000_001
        self.calls: Counter[str] = Counter()

    # -- time ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        moment = self._clock()
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    # -- people and documents --------------------------------------------------------------------

    def person(self, *, snils: str | None = None, esia_oid: str | None = None) -> Person:
        person = self._by_snils.get(snils_digits(snils)) if snils else None
        if esia_oid is not None:
            index = self._index.get(esia_oid)
            person = self.region.people[index] if index is not None else None
        if person is None:
            raise _Refused(404, "PATIENT_NOT_FOUND", "Пациент не найден в реестре")
        return person

    def _ensure(self, person: Person) -> _PersonDocs:
        """The person's documents, the demo ones built on first use."""
        docs = self._people.get(person.esia_oid)
        if docs is None:
            docs = self._people[person.esia_oid] = _PersonDocs(person)
            base = (self._index[person.esia_oid] + 1) * 10_000
            for n, planned in enumerate(demo_documents(self.region, person), start=1):
                number = f"REMD-{base + n:07d}"
                doc = self._store(planned.spec, number, planned.spec.created_at + timedelta(minutes=10))
                docs.documents.append(doc)
                self._by_number[number] = (person.esia_oid, doc)
        return docs

    def documents_of(self, person: Person) -> list[StoredDocument]:
        """Every registered document of the person (registrations that came due included)."""
        self.process_due()
        return list(self._ensure(person).documents)

    def _metadata(
        self, spec: DocumentSpec, number: str | None, registered_at: datetime | None, uid: str
    ) -> DocumentMetadata:
        kind = SEMD_TYPES[spec.remd_code]
        position = self.terminology.display(POSITIONS_OID, spec.author.position_code) or ""
        return DocumentMetadata(
            registry_number=number or "",
            local_uid=uid,
            kind=spec.remd_code,
            org_oid=spec.organisation.oid,
            created_at=spec.created_at,
            author=DocumentAuthor(snils=spec.author.snils, position=position, name=spec.author.name.full),
            patient_snils=spec.patient.snils,
            signatures=tuple(SignatureRole(s) for s in kind.signatures),
            status=RegistrationStatus.REGISTERED if number else RegistrationStatus.ACCEPTED,
            title=kind.title,
            org_name=spec.organisation.name,
            registered_at=registered_at,
        )

    def _store(self, spec: DocumentSpec, number: str, registered_at: datetime) -> StoredDocument:
        uid = str(uuid.uuid5(_UID_NS, f"{self.region.seed}:{spec.patient.local_id}:{spec.number}"))
        return StoredDocument(
            metadata=self._metadata(spec, number, registered_at, uid),
            cda=self._builder.build(spec),
            signer_names=(spec.author.name.full, spec.author.snils, spec.organisation.name),
        )

    def document(self, registry_number: str, snils: str | None) -> StoredDocument:
        """A registered document of the patient ``snils`` (one answer for "absent" and "not yours")."""
        person = self._by_snils.get(snils_digits(snils or ""))
        if person is not None:
            self.documents_of(person)  # builds the demo documents, resolves due registrations
        found = self._by_number.get(registry_number)
        if found is None or person is None or found[0] != person.esia_oid:
            raise _Refused(404, "DOCUMENT_NOT_FOUND", "Документ не найден")
        return found[1]

    # -- signatures ------------------------------------------------------------------------------

    def _signer(self, key: str, name: str, org: str | None, snils: str | None) -> CmsSigner:
        signer = self._signers.get(key)
        if signer is None:
            signer = self._signers[key] = self._signer_factory(name, org, snils)
        return signer

    def _sign(
        self, cda: bytes, names: tuple[str, str | None, str], org_oid: str, roles: Sequence[SignatureRole]
    ) -> dict[SignatureRole, bytes]:
        doctor_name, doctor_snils, org_name = names
        signed: dict[SignatureRole, bytes] = {}
        for role in roles:
            if role is SignatureRole.DOCTOR:
                signer = self._signer(f"doctor:{doctor_snils}", doctor_name, org_name, doctor_snils)
            else:
                signer = self._signer(f"org:{org_oid}", org_name, org_name, None)
            signed[role] = signer.sign_detached(cda)
        return signed

    def signatures(self, doc: StoredDocument) -> dict[SignatureRole, bytes]:
        if doc.signatures is None:
            doc.signatures = self._sign(doc.cda, doc.signer_names, doc.metadata.org_oid, doc.metadata.signatures)
        return doc.signatures

    # -- registration ----------------------------------------------------------------------------

    def submit(
        self,
        *,
        local_uid: str,
        kind: str,
        patient_snils: str,
        cda: bytes,
        signatures: Mapping[SignatureRole, bytes],
        delay: timedelta | None = None,
        forced_errors: Sequence[RegistrationError] = (),
    ) -> Registration:
        """The MIS side: accept a document now; register or reject it once ``delay`` has passed."""
        if local_uid in self.registrations:
            raise _Refused(409, "DUPLICATE_LOCAL_UID", f"Документ с localUid {local_uid} уже передан")
        now = self.now()
        errors = list(forced_errors)
        person = self._by_snils.get(snils_digits(patient_snils))
        if person is None:
            errors.append(RegistrationError("PATIENT_NOT_FOUND", "Пациент не найден в реестре"))
        report = validate_cda(cda, remd_code=kind if kind in SEMD_TYPES else None)
        if kind not in SEMD_TYPES:
            errors.append(RegistrationError("KIND_NOT_SUPPORTED", f"Тип СЭМД {kind} не поддерживается"))
        errors.extend(RegistrationError("SEMD_INVALID", e) for e in report.errors[:10])
        if SignatureRole.DOCTOR not in signatures:
            errors.append(RegistrationError("SIGNATURE_MISSING", "Нет подписи врача"))
        for role, cms in signatures.items():
            check = check_detached(cda, cms)
            if not check.ok:
                errors.append(RegistrationError("SIGNATURE_INVALID", f"Подпись ({role.value}): {check.reason}"))
        metadata: DocumentMetadata | None = None
        names: tuple[str, str | None, str] = ("", None, "")
        doc = parse_cda(cda) if report.ok else None
        if (
            doc is not None
            and person is not None
            and snils_digits(doc.patient.snils or "") != snils_digits(person.snils)
        ):
            errors.append(RegistrationError("PATIENT_MISMATCH", "СНИЛС пациента в документе не совпадает с заявкой"))
        if doc is not None:
            metadata = DocumentMetadata(
                registry_number="",
                local_uid=local_uid,
                kind=kind,
                org_oid=doc.organisation_oid or "",
                created_at=doc.created_at if isinstance(doc.created_at, datetime) else now,
                author=DocumentAuthor(
                    snils=doc.author.snils or "",
                    position=(doc.author.position.display_name or "") if doc.author.position else "",
                    name=doc.author.name,
                ),
                patient_snils=doc.patient.snils or patient_snils,
                signatures=tuple(signatures),
                status=RegistrationStatus.ACCEPTED,
                title=doc.title,
                org_name=doc.organisation_name,
            )
            names = (doc.author.name, doc.author.snils, doc.organisation_name or "")
        registration = Registration(local_uid=local_uid, kind=kind, status=RegistrationStatus.ACCEPTED, accepted_at=now)
        self.registrations[local_uid] = Pending(
            registration=registration,
            due_at=now + (self.registration_delay if delay is None else delay),
            metadata=metadata or _placeholder(local_uid, kind, patient_snils, now),
            cda=cda,
            signatures=dict(signatures),
            errors=tuple(errors),
            signer_names=names,
        )
        return registration

    def register_document(
        self,
        *,
        snils: str | None = None,
        esia_oid: str | None = None,
        kind: str = "119",
        delay: timedelta | None = None,
        reject: Sequence[RegistrationError] = (),
        created_at: datetime | None = None,
        purpose: str | None = None,
    ) -> Registration:
        """Scenario hook: the person's MIS submits a new, signed document of ``kind`` now.

        It becomes visible to the patient when the clock passes ``delay`` (the state's
        ``registration_delay`` by default), unless ``reject`` names errors: then it is rejected.
        ``purpose``: a certificate's (166) purpose line, for one the person asked their clinic for.
        """
        person = self.person(snils=snils, esia_oid=esia_oid)
        sequence = sum(1 for p in self.registrations.values() if p.metadata.patient_snils == person.snils) + 1
        if kind not in SEMD_TYPES:
            raise _Refused(400, "BAD_REQUEST", f"Тип СЭМД {kind} не поддерживается")
        try:
            planned = new_document(
                self.region, person, kind, created_at or self.now(), sequence=sequence, purpose=purpose
            )
        except ValueError as exc:
            raise _Refused(400, "BAD_REQUEST", str(exc)) from exc
        return self._submit_planned(person, kind, planned, delay=delay, reject=reject)

    def register_vaccination(
        self,
        *,
        snils: str,
        given: Sequence[tuple[str, date, str]],
        delay: timedelta | None = None,
        created_at: datetime | None = None,
    ) -> Registration:
        """Scenario hook: the clinic's MIS records vaccinations given at a visit as a new СЭМД 170.

        ``given``: (vaccine code of НСИ 1.2.643.5.1.13.13.11.1078, the day, the series) per vaccination.
        """
        person = self.person(snils=snils)
        sequence = sum(1 for p in self.registrations.values() if p.metadata.patient_snils == person.snils) + 1
        planned = vaccination_document(self.region, person, given, created_at or self.now(), sequence=sequence)
        return self._submit_planned(person, "170", planned, delay=delay, reject=())

    def _submit_planned(
        self,
        person: Person,
        kind: str,
        planned: PlannedDocument,
        *,
        delay: timedelta | None,
        reject: Sequence[RegistrationError],
    ) -> Registration:
        cda = self._builder.build(planned.spec)
        spec = planned.spec
        names = (spec.author.name.full, spec.author.snils, spec.organisation.name)
        signatures = self._sign(
            cda, names, spec.organisation.oid, tuple(SignatureRole(s) for s in SEMD_TYPES[kind].signatures)
        )
        local_uid = str(uuid.uuid5(_UID_NS, f"{self.region.seed}:{person.esia_oid}:new:{spec.number}"))
        return self.submit(
            local_uid=local_uid,
            kind=kind,
            patient_snils=person.snils,
            cda=cda,
            signatures=signatures,
            delay=delay,
            forced_errors=reject,
        )

    def process_due(self) -> None:
        """Resolve every registration whose time has come (called before each answer)."""
        now = self.now()
        for pending in self.registrations.values():
            if pending.registration.status is not RegistrationStatus.ACCEPTED or pending.due_at > now:
                continue
            if pending.errors:
                pending.registration = replace(
                    pending.registration, status=RegistrationStatus.REJECTED, errors=pending.errors
                )
                continue
            number = f"REMD-{self._next_number:07d}"
            self._next_number += 1
            metadata = replace(
                pending.metadata,
                registry_number=number,
                status=RegistrationStatus.REGISTERED,
                registered_at=pending.due_at,
            )
            pending.registration = replace(
                pending.registration,
                status=RegistrationStatus.REGISTERED,
                registry_number=number,
                registered_at=pending.due_at,
            )
            doc = StoredDocument(metadata, pending.cda, pending.signer_names, dict(pending.signatures))
            person = self._by_snils[snils_digits(metadata.patient_snils)]
            self._ensure(person).documents.append(doc)
            self._by_number[number] = (person.esia_oid, doc)
            pending.metadata = metadata

    def registration(self, local_uid: str) -> Registration:
        self.process_due()
        pending = self.registrations.get(local_uid)
        if pending is None:
            raise _Refused(404, "REGISTRATION_NOT_FOUND", "Регистрация с таким localUid не найдена")
        return pending.registration

    # -- scenario: broken documents --------------------------------------------------------------

    def corrupt(self, registry_number: str, what: str) -> None:
        """Break a registered document: ``cda-byte`` (one byte changed after signing: signatures fail),
        ``cda-malformed`` (not XML any more) or ``signature`` (the doctor's CMS is damaged)."""
        found = self._by_number.get(registry_number)
        if found is None:
            raise _Refused(404, "DOCUMENT_NOT_FOUND", "Документ не найден")
        doc = found[1]
        signed = self.signatures(doc)
        if what == "cda-byte":
            changed = bytearray(doc.cda)
            at = doc.cda.index(b"<title>") + len(b"<title>")
            changed[at] ^= 0x01
            doc.cda = bytes(changed)
        elif what == "cda-malformed":
            doc.cda = doc.cda[: len(doc.cda) // 2]
        elif what == "signature":
            cms = bytearray(signed[SignatureRole.DOCTOR])
            cms[-20] ^= 0xFF
            signed[SignatureRole.DOCTOR] = bytes(cms)
        else:
            raise _Refused(400, "BAD_REQUEST", f"Неизвестный вид повреждения {what!r}")


def _placeholder(local_uid: str, kind: str, snils: str, now: datetime) -> DocumentMetadata:
    return DocumentMetadata(
        registry_number="",
        local_uid=local_uid,
        kind=kind,
        org_oid="",
        created_at=now,
        author=DocumentAuthor(snils="", position=""),
        patient_snils=snils,
        signatures=(),
        status=RegistrationStatus.ACCEPTED,
    )
