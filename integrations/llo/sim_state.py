"""The in-memory ЛЛО register and clinic MIS of the ЛЛО simulator: beneficiaries, prescriptions, pharmacies and
stock, deferrals, clinic requests. No HTTP here: :mod:`integrations.llo.simulator` is the JSON layer and the ASGI
app."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from integrations.common.faults import FaultInjector
from integrations.common.simulator import (
    SimulatorApiError,
)
from integrations.demo_region.model import Person, Region
from integrations.llo.protocol import (
    Beneficiary,
    Benefit,
    BenefitLevel,
    CertificateKind,
    ClinicRequestForm,
    ClinicRequestInfo,
    ClinicRequestKind,
    ClinicRequestStatus,
    ClinicRequestStep,
    Deferral,
    Drug,
    Financing,
    LloEvent,
    LloEventKind,
    NsuDecision,
    OpeningHours,
    Pharmacy,
    Prescription,
    PrescriptionSemd,
    PrescriptionStatus,
)

#: (snils, REMD kind, purpose) -> the registry number of a СЭМД registered for the person, or None.
SemdHook = Callable[[str, str, str | None], str | None]

METFORMIN = Drug("Метформин", "1000 мг")
ENALAPRIL = Drug("Эналаприл", "10 мг")
ATORVASTATIN = Drug("Аторвастатин", "20 мг")
BISOPROLOL = Drug("Бисопролол", "5 мг")
MORPHINE = Drug("Морфин", "10 мг/мл", form="раствор для инъекций", narcotic_schedule="II")
#: What preferential pharmacies keep (metformin 1000 mg is in shortage: none anywhere).
PREFERENTIAL_STOCK = (ENALAPRIL, ATORVASTATIN, BISOPROLOL, Drug("Метформин", "500 мг"))
COMMERCIAL_STOCK = (ATORVASTATIN, BISOPROLOL)

_BENEFIT_NAMES = {
    "082": ("Инвалиды II группы", BenefitLevel.FEDERAL),
    "083": ("Инвалиды III группы", BenefitLevel.FEDERAL),
    "R01": ("Сахарный диабет (региональная льгота)", BenefitLevel.REGIONAL),
}

_STATE_HOURS = (
    OpeningHours("пн-пт", (0, 1, 2, 3, 4), time(8), time(20)),
    OpeningHours("сб", (5,), time(9), time(17)),
)
_DAILY_HOURS = (OpeningHours("ежедневно", (0, 1, 2, 3, 4, 5, 6), time(8), time(22)),)
_ROUND_THE_CLOCK = (OpeningHours("круглосуточно", (0, 1, 2, 3, 4, 5, 6), time(0), time(0)),)


class LloApiError(SimulatorApiError):
    """A refusal of this simulator (``status_code``, ``code``, ``message``)."""


def digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


def _draw(*parts: object) -> int:
    """A stable number from ``parts`` (the world is the same for a seed, run after run)."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:6], "big")


@dataclass
class SimBeneficiary:
    snils: str
    benefits: tuple[Benefit, ...]
    nsu: tuple[NsuDecision, ...]
    address: str | None
    latitude: float | None
    longitude: float | None
    seeded: bool = False  # its first prescriptions were written

    def record(self) -> Beneficiary:
        return Beneficiary(self.snils, self.benefits, self.nsu, self.address, self.latitude, self.longitude)


@dataclass
class SimRequest:
    info: ClinicRequestInfo
    form: ClinicRequestForm
    key: str


@dataclass
class DeferralKeyed:
    prescription_id: str
    answer: Prescription


class LloSimulatorState:
    def __init__(
        self,
        region: Region,
        *,
        faults: FaultInjector,
        clock: Callable[[], datetime] | None = None,
        token: str | None = None,
        semd_hook: SemdHook | None = None,
        deferral_days: int = 10,
        auto_restock: timedelta | None = None,
        auto_decide: timedelta | None = None,
    ) -> None:
        self.region = region
        self.faults = faults
        self.token = token
        self.semd_hook = semd_hook
        self.deferral_days = deferral_days
        self.auto_restock = auto_restock
        self.auto_decide = auto_decide
        self.tz = ZoneInfo(region.timezone)
        self._clock = clock or (lambda: datetime.now(self.tz))
        self.calls: Counter[str] = Counter()
        self.people = {digits(p.snils): p for p in region.people}
        self.beneficiaries: dict[str, SimBeneficiary] = {}
        for person in region.people:
            if person.drug_rights:
                self.beneficiaries[digits(person.snils)] = self._beneficiary_of(person)
        self.prescriptions: dict[str, Prescription] = {}
        self.events: list[LloEvent] = []
        self.pharmacies: dict[str, Pharmacy] = {p.id: p for p in (self._pharmacy_of(i, x) for i, x in
                                                                   enumerate(region.pharmacies))}  # fmt: skip
        self.stock: dict[tuple[str, str, str], int] = {}
        self.stock_updated: dict[tuple[str, str, str], datetime] = {}
        start = self.now()
        for pharmacy in self.pharmacies.values():
            for drug in PREFERENTIAL_STOCK if pharmacy.preferential else COMMERCIAL_STOCK:
                key = (pharmacy.id, drug.mnn, drug.dosage)
                self.stock[key] = 10 + _draw(region.seed, pharmacy.id, drug.mnn, drug.dosage) % 90
                self.stock_updated[key] = start
        self.deferred_at: dict[str, datetime] = {}
        self.requests: dict[str, SimRequest] = {}
        self.refuse_next: list[str] = []  # test hook: the doctor's next refusal reasons
        self._deferral_keys: dict[str, DeferralKeyed] = {}
        self._request_keys: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._numbers = itertools.count(100001)
        for record in list(self.beneficiaries.values()):  # in the region's order: the same ids run after run
            self._seed_prescriptions(record)

    # -- time ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        moment = self._clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.astimezone(self.tz).replace(microsecond=0)

    def today(self) -> date:
        return self.now().date()

    # -- the world -------------------------------------------------------------------------------

    def _beneficiary_of(self, person: Person) -> SimBeneficiary:
        benefits = []
        for right in person.drug_rights:
            name, level = _BENEFIT_NAMES.get(right.code, (right.name, BenefitLevel(right.category)))
            since = date(2018 + _draw(self.region.seed, person.esia_oid, right.code) % 6, 1, 15)
            benefits.append(Benefit(right.code, name, level, since, right.valid_until))
        nsu: list[NsuDecision] = []
        if any(b.level is BenefitLevel.FEDERAL for b in benefits):
            year = self.today().year
            refused = _draw(self.region.seed, person.esia_oid, "nsu") % 10 < 3
            nsu.append(NsuDecision(year, refused, date(year - 1, 9, 12) if refused else None))
        return SimBeneficiary(
            person.snils, tuple(benefits), tuple(nsu), person.address, person.latitude, person.longitude
        )

    def _pharmacy_of(self, index: int, pharmacy: Any) -> Pharmacy:
        hours = _STATE_HOURS if pharmacy.preferential else _ROUND_THE_CLOCK if index % 4 == 0 else _DAILY_HOURS
        phone = f"+7 (8652) {50 + index % 40:02d}-{_draw(pharmacy.id) % 100:02d}-{_draw(pharmacy.id, 2) % 100:02d}"
        return Pharmacy(
            pharmacy.id, pharmacy.name, pharmacy.address, pharmacy.latitude, pharmacy.longitude,
            pharmacy.preferential, hours, phone,
        )  # fmt: skip

    def enrol(self, snils: str, code: str = "R01", *, valid_until: date | None = None, address: str | None = None,
              latitude: float | None = None, longitude: float | None = None) -> SimBeneficiary:  # fmt: skip
        """Test hook: put a person (not of the region) on a register, with no prescriptions yet."""
        name, level = _BENEFIT_NAMES.get(code, ("Региональная льгота", BenefitLevel.REGIONAL))
        record = SimBeneficiary(
            snils, (Benefit(code, name, level, date(2020, 1, 15), valid_until),), (), address, latitude, longitude,
            seeded=True,
        )  # fmt: skip
        self.beneficiaries[digits(snils)] = record
        return record

    def beneficiary(self, snils: str) -> SimBeneficiary:
        found = self.beneficiaries.get(digits(snils))
        if found is None:
            raise LloApiError(404, "not_beneficiary", "Гражданин не найден в регистрах льготополучателей")
        return found

    def _seed_prescriptions(self, record: SimBeneficiary) -> None:
        if record.seeded:
            return
        record.seeded = True
        codes = {b.code for b in record.benefits}
        today = self.today()
        if "R01" in codes:
            self.issue(record.snils, METFORMIN, quantity=60, valid_days=90, benefit_code="R01", chronic=True,
                       issued_on=today - timedelta(days=7), dosing="По 1 таблетке 2 раза в день")  # fmt: skip
        federal = sorted(codes & {"082", "083"})
        if federal:
            self.issue(record.snils, ENALAPRIL, quantity=30, valid_days=30, benefit_code=federal[0], chronic=True,
                       issued_on=today - timedelta(days=3), dosing="По 1 таблетке утром")  # fmt: skip
        self.issue(record.snils, ATORVASTATIN, quantity=30, valid_days=30, issued_on=today - timedelta(days=2),
                   dosing="По 1 таблетке вечером")  # fmt: skip

    # -- prescriptions ---------------------------------------------------------------------------

    def issue(
        self,
        snils: str,
        drug: Drug,
        *,
        quantity: int,
        valid_days: int,
        benefit_code: str | None = None,
        chronic: bool = False,
        issued_on: date | None = None,
        dosing: str | None = None,
        doctor_name: str | None = None,
        mo_name: str | None = None,
    ) -> Prescription:
        """The doctor writes a prescription (the MIS sends it here): the ``issued`` event follows."""
        if valid_days not in (15, 30, 90):
            raise ValueError("validity is 15, 30 or 90 days")
        if drug.narcotic_schedule == "II" and valid_days != 15:
            raise ValueError("a Schedule II prescription is valid 15 days")
        person = self.people.get(digits(snils))
        record = self.beneficiaries.get(digits(snils))
        level = next((b.level for b in record.benefits if b.code == benefit_code), None) if record else None
        financing = Financing.PERSONAL if benefit_code is None else Financing(
            (level or BenefitLevel.REGIONAL).value)  # fmt: skip
        number = next(self._numbers)
        serial = next(self._ids)
        region = self.region.code
        series = f"{region}-{'Л' if benefit_code else 'О'}{serial % 100:02d}"
        kind = "141" if benefit_code else "148"
        home = None
        if person is not None:
            try:
                home = self.region.organisation(person.attached_mo_id)
            except KeyError:
                home = None
        doctor = doctor_name or (home.doctors[0].full_name if home and home.doctors else "Иванова Мария Петровна")
        prescription = Prescription(
            id=f"RX-{serial:06d}",
            snils=(person.snils if person else snils),
            series=series,
            number=f"{number:06d}",
            barcode=f"{region}{serial:06d}{number:06d}{valid_days:02d}",
            issued_on=issued_on or self.today(),
            valid_days=valid_days,
            drug=drug,
            quantity=quantity,
            dispensed_quantity=0,
            financing=financing,
            status=PrescriptionStatus.ISSUED,
            semd=PrescriptionSemd(prescription=None, kind=kind),
            benefit_code=benefit_code,
            chronic=chronic,
            doctor_name=doctor,
            mo_name=mo_name or (home.name if home else "Городская поликлиника № 1"),
            dosing=dosing,
        )
        if self.semd_hook is not None and person is not None:
            number_semd = self.semd_hook(person.snils, kind, None)
            prescription = replace(prescription, semd=replace(prescription.semd, prescription=number_semd))
        self.prescriptions[prescription.id] = prescription
        self._event(LloEventKind.ISSUED, prescription)
        return prescription

    def _event(self, kind: LloEventKind, p: Prescription) -> None:
        self.events.append(LloEvent(len(self.events) + 1, kind, p.id, p.snils, self.now()))

    def prescriptions_of(self, snils: str) -> list[Prescription]:
        record = self.beneficiaries.get(digits(snils))
        if record is not None:
            self._seed_prescriptions(record)
        found = [p for p in self.prescriptions.values() if digits(p.snils) == digits(snils)]
        return sorted(found, key=lambda p: (p.issued_on, p.id), reverse=True)

    def prescription(self, prescription_id: str) -> Prescription:
        found = self.prescriptions.get(prescription_id)
        if found is None:
            raise LloApiError(404, "prescription_not_found", "Рецепт не найден")
        return found

    def _open(self, p: Prescription) -> None:
        if p.status is PrescriptionStatus.EXPIRED:
            raise LloApiError(409, "prescription_expired", "Срок действия рецепта истёк")
        if p.status is PrescriptionStatus.DISPENSED:
            raise LloApiError(409, "already_dispensed", "Лекарство по рецепту уже отпущено")

    def in_stock(self, pharmacy_id: str, drug: Drug) -> int:
        return self.stock.get((pharmacy_id, drug.mnn, drug.dosage), 0)

    def defer(self, prescription_id: str, pharmacy_id: str, key: str) -> Prescription:
        known = self._deferral_keys.get(key)
        if known is not None:
            if known.prescription_id != prescription_id:
                raise LloApiError(422, "bad_request", "Ключ идемпотентности уже использован для другого рецепта")
            return known.answer
        p = self.prescription(prescription_id)
        self._open(p)
        if not p.preferential:
            raise LloApiError(409, "not_preferential", "Отсроченное обслуживание — только по льготным рецептам")
        if p.deferral is not None:
            raise LloApiError(409, "already_deferred", "Рецепт уже на отсроченном обслуживании")
        pharmacy = self.pharmacies.get(pharmacy_id)
        if pharmacy is None or not pharmacy.preferential:
            raise LloApiError(404, "pharmacy_not_found", "Аптека не найдена или не отпускает льготные лекарства")
        if self.in_stock(pharmacy_id, p.drug) > 0:
            raise LloApiError(409, "drug_in_stock", "Лекарство есть в наличии в этой аптеке")
        today = self.today()
        deferral = Deferral(pharmacy_id, today, today + timedelta(days=self.deferral_days))
        p = replace(p, status=PrescriptionStatus.DEFERRED, deferral=deferral)
        self.prescriptions[p.id] = p
        self.deferred_at[p.id] = self.now()
        self._deferral_keys[key] = DeferralKeyed(p.id, p)
        self._event(LloEventKind.DEFERRED, p)
        return p

    def restock(self, pharmacy_id: str, drug: Drug, quantity: int) -> list[Prescription]:
        """Drug delivered to a pharmacy: the deferred queue there is served first (``drug_arrived``)."""
        if pharmacy_id not in self.pharmacies:
            raise KeyError(pharmacy_id)
        key = (pharmacy_id, drug.mnn, drug.dosage)
        available = self.stock.get(key, 0) + quantity
        arrived = []
        today = self.today()
        queue = sorted(
            (p for p in self.prescriptions.values()
             if p.deferral and p.deferral.pharmacy_id == pharmacy_id and p.deferral.arrived_on is None
             and (p.drug.mnn, p.drug.dosage) == (drug.mnn, drug.dosage)),
            key=lambda p: (p.deferral.registered_on if p.deferral else today, p.id),
        )  # fmt: skip
        for waiting in queue:
            need = waiting.quantity - waiting.dispensed_quantity
            if need > available or waiting.deferral is None:
                break
            available -= need  # reserved for the queue
            served = replace(waiting, deferral=replace(waiting.deferral, arrived_on=today))
            self.prescriptions[served.id] = served
            self._event(LloEventKind.DRUG_ARRIVED, served)
            arrived.append(served)
        self.stock[key] = available
        self.stock_updated[key] = self.now()
        return arrived

    def dispense(self, prescription_id: str, pharmacy_id: str, quantity: int) -> Prescription:
        """The pharmacy dispenses ``quantity`` (less than left: partially); a СЭМД 140 per dispensing."""
        p = self.prescription(prescription_id)
        self._open(p)
        if quantity <= 0 or quantity > p.quantity - p.dispensed_quantity:
            raise LloApiError(422, "bad_request", "Количество больше оставшегося по рецепту")
        reserved = (
            p.deferral is not None and p.deferral.arrived_on is not None and p.deferral.pharmacy_id == pharmacy_id
        )
        if not reserved:
            key = (pharmacy_id, p.drug.mnn, p.drug.dosage)
            if self.stock.get(key, 0) < quantity:
                raise LloApiError(409, "bad_request", "Недостаточно лекарства в аптеке")
            self.stock[key] -= quantity
            self.stock_updated[key] = self.now()
        done = p.dispensed_quantity + quantity
        status = PrescriptionStatus.DISPENSED if done >= p.quantity else PrescriptionStatus.PARTIALLY_DISPENSED
        dispensing = (*p.semd.dispensing, f"REMD-D{next(self._numbers):07d}")
        p = replace(p, dispensed_quantity=done, status=status, semd=replace(p.semd, dispensing=dispensing))
        self.prescriptions[p.id] = p
        kind = LloEventKind.DISPENSED if status is PrescriptionStatus.DISPENSED else LloEventKind.PARTIALLY_DISPENSED
        self._event(kind, p)
        return p

    def tick(self) -> None:
        """What the clock makes happen: expiry, the demo's automatic restock and the clinic's decisions."""
        today = self.today()
        now = self.now()
        for p in list(self.prescriptions.values()):
            if (
                p.status in (PrescriptionStatus.ISSUED, PrescriptionStatus.PARTIALLY_DISPENSED)
                and today > p.valid_until
                and p.deferral is None  # accepted for deferred service in time: served to the end
            ):
                expired = replace(p, status=PrescriptionStatus.EXPIRED)
                self.prescriptions[p.id] = expired
                self._event(LloEventKind.EXPIRED, expired)
                continue
            deferred = self.deferred_at.get(p.id)
            if (
                self.auto_restock is not None
                and deferred is not None
                and p.deferral is not None
                and p.deferral.arrived_on is None
                and now - deferred >= self.auto_restock
            ):
                self.restock(p.deferral.pharmacy_id, p.drug, p.quantity - p.dispensed_quantity)
        if self.auto_decide is not None:
            for request in list(self.requests.values()):
                if not request.info.status.is_final and now - request.info.submitted_at >= self.auto_decide:
                    self.decide(request.info.id)

    # -- the clinic's requests -------------------------------------------------------------------

    def submit(self, form: ClinicRequestForm, key: str) -> tuple[SimRequest, bool]:
        known = self._request_keys.get(key)
        if known is not None:
            return self.requests[known], False
        snils = form.applicant.snils
        if form.kind is ClinicRequestKind.RENEWAL:
            p = self.prescriptions.get(form.prescription_id or "")
            if p is None or digits(p.snils) != digits(snils):
                raise LloApiError(404, "prescription_not_found", "Рецепт не найден")
            if p.drug.narcotic_schedule == "II":
                raise LloApiError(
                    409, "renewal_not_allowed",
                    "Рецепт на наркотический или психотропный препарат Списка II выписывается только на приёме",
                )  # fmt: skip
            if not p.chronic:
                raise LloApiError(409, "renewal_not_allowed", "Продлевается только рецепт по хроническому заболеванию")
        elif form.certificate is None:
            raise LloApiError(422, "bad_request", "Не указан вид справки")
        for other in self.requests.values():
            same = (other.form.kind, other.form.certificate, other.form.prescription_id) == (
                form.kind, form.certificate, form.prescription_id)  # fmt: skip
            if same and digits(other.info.snils) == digits(snils) and not other.info.status.is_final:
                raise LloApiError(409, "request_pending", "Такая заявка уже рассматривается")
        now = self.now()
        info = ClinicRequestInfo(
            id=f"REQ-{now:%Y%m%d}-{next(self._ids):05d}",
            kind=form.kind,
            status=ClinicRequestStatus.SUBMITTED,
            snils=snils,
            submitted_at=now,
            updated_at=now,
            history=(ClinicRequestStep(ClinicRequestStatus.SUBMITTED, now),),
            certificate=form.certificate,
            prescription_id=form.prescription_id,
        )
        request = SimRequest(info, form, key)
        self.requests[info.id] = request
        self._request_keys[key] = info.id
        return request, True

    def request(self, request_id: str) -> SimRequest:
        found = self.requests.get(request_id)
        if found is None:
            raise LloApiError(404, "request_not_found", "Заявка не найдена")
        return found

    def _step(self, request: SimRequest, status: ClinicRequestStatus, comment: str | None, **changes: Any) -> None:
        now = self.now()
        request.info = replace(
            request.info,
            status=status,
            updated_at=now,
            history=(*request.info.history, ClinicRequestStep(status, now, comment)),
            **changes,
        )

    def review(self, request_id: str) -> SimRequest:
        request = self.request(request_id)
        if request.info.status is ClinicRequestStatus.SUBMITTED:
            person = self.people.get(digits(request.info.snils))
            doctor = None
            if person is not None:
                home = self.region.organisation(person.attached_mo_id)
                doctor = home.doctors[0].full_name if home.doctors else None
            self._step(request, ClinicRequestStatus.IN_REVIEW, None, doctor_name=doctor)
        return request

    def refuse(self, request_id: str, reason: str) -> SimRequest:
        request = self.review(request_id)
        if request.info.status.is_final:
            raise ValueError(f"request {request_id} is {request.info.status.value}")
        self._step(request, ClinicRequestStatus.REFUSED, reason, refusal_reason=reason)
        return request

    def decide(self, request_id: str) -> SimRequest:
        """The doctor looks at the request: issued (a prescription or a СЭМД 166) or refused with a reason."""
        request = self.review(request_id)
        if request.info.status.is_final:
            return request
        if self.refuse_next:
            return self.refuse(request_id, self.refuse_next.pop(0))
        form = request.form
        person = self.people.get(digits(form.applicant.snils))
        today = self.today()
        if form.certificate is CertificateKind.DRIVING:
            born = form.applicant.birth_date
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            if age < 16:
                return self.refuse(request_id, "Медицинское заключение для водителей выдаётся с 16 лет.")
        if form.kind is ClinicRequestKind.RENEWAL:
            old = self.prescription(form.prescription_id or "")
            new = self.issue(
                old.snils, old.drug, quantity=old.quantity, valid_days=old.valid_days, benefit_code=old.benefit_code,
                chronic=True, dosing=old.dosing, doctor_name=request.info.doctor_name, mo_name=old.mo_name,
            )  # fmt: skip
            self._step(request, ClinicRequestStatus.ISSUED, "Рецепт продлён", result_prescription_id=new.id)
            return request
        number = None
        if self.semd_hook is not None and person is not None:
            number = self.semd_hook(person.snils, "166", certificate_purpose(form))
        self._step(request, ClinicRequestStatus.ISSUED, "Справка готова", result_registry_number=number)
        return request

    def requests_of(self, snils: str) -> list[SimRequest]:
        return sorted(
            (r for r in self.requests.values() if digits(r.info.snils) == digits(snils)),
            key=lambda r: (r.info.submitted_at, r.info.id),
            reverse=True,
        )


_PURPOSES = {
    CertificateKind.DRIVING: (
        "Для предъявления в Госавтоинспекцию (часть медицинского заключения, выдаваемая поликлиникой)"
    ),
    CertificateKind.SPORTS: "Для допуска к занятиям в спортивной секции",
    CertificateKind.SCHOOL: "Для предъявления в образовательную организацию",
    CertificateKind.OUTPATIENT_EXTRACT: (
        "Выписка из медицинской карты пациента, получающего помощь в амбулаторных условиях"
    ),
    CertificateKind.TAX_DEDUCTION: "Справка об оплате медицинских услуг для представления в налоговый орган",
}


def certificate_purpose(form: ClinicRequestForm) -> str:
    """The purpose line the certificate carries (its kind, plus what the person wrote)."""
    base = _PURPOSES[form.certificate] if form.certificate else "Медицинская справка"
    if form.certificate is CertificateKind.TAX_DEDUCTION and form.tax_year:
        base = f"{base} за {form.tax_year} год"
    return f"{base}. {form.purpose.strip()}" if form.purpose and form.purpose.strip() else base
