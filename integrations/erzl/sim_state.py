"""The in-memory ЕРЗЛ and insurers of the ЕРЗЛ simulator: policies, billed services, appeals, insurer changes.
No HTTP here: :mod:`integrations.erzl.simulator` is the JSON layer and the ASGI app."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from integrations.common.faults import FaultInjector
from integrations.common.simulator import (
    SimulatorApiError,
    naive_local,
)
from integrations.demo_region.model import Person, Region
from integrations.erzl import enp as enp_rules
from integrations.erzl.protocol import (
    AppealForm,
    AppealInfo,
    AppealKind,
    AppealStatus,
    AppealStep,
    BilledService,
    CareKind,
    ChangeForm,
    ChangeInfo,
    ChangeReason,
    ChangeStatus,
    ChangeStep,
    Insurer,
    PaymentStatus,
    PolicyRecord,
    PolicyStatus,
    TemporaryCertificate,
)

ANSWER_DAYS = 30  # 59-ФЗ art. 12 ч. 1: a written appeal is answered within 30 days of its registration
CERTIFICATE_DAYS = 30


def _ogrn(body: str) -> str:
    """A 13-digit ОГРН with its control digit (the remainder of the first 12 digits by 11, its last digit)."""
    return body + str(int(body) % 11 % 10)


#: The region's СМО (synthetic codes and ОГРН; the names are the two the demo region gives its people).
REGION_INSURERS: tuple[Insurer, ...] = (
    Insurer(
        code="26001",
        name='ООО "Капитал МС" - филиал в Ставропольском крае',
        ogrn=_ogrn("102770000001"),
        phone="8-800-100-81-02",
        website="https://kapmed.ru",
        address="г. Ставрополь, ул. Ленина, д. 10",
    ),
    Insurer(
        code="26002",
        name='АО "Страховая компания "СОГАЗ-Мед" - Ставропольский филиал',
        ogrn=_ogrn("102773900002"),
        phone="8-800-100-07-02",
        website="https://sogaz-med.ru",
        address="г. Ставрополь, ул. Маршала Жукова, д. 7",
    ),
    Insurer(
        code="26003",
        name="ООО «Демо-Мед страхование» - Ставропольский филиал",
        ogrn=_ogrn("102263500003"),
        phone="8-800-555-00-26",
        website=None,
        address="г. Ставрополь, пр. Карла Маркса, д. 42",
    ),
)

#: (code, name, ICD-10, diagnosis, care kind, price) of the generated billed services.
_SERVICES: tuple[tuple[str, str, str, str, CareKind, str], ...] = (
    ("B01.047.001", "Прием (осмотр, консультация) врача-терапевта первичный", "J06.9",
     "Острая инфекция верхних дыхательных путей неуточненная", CareKind.AMBULATORY, "1245.60"),
    ("B01.047.002", "Прием (осмотр, консультация) врача-терапевта повторный", "I10",
     "Эссенциальная (первичная) гипертензия", CareKind.DISPENSARY, "986.30"),
    ("B01.029.001", "Прием (осмотр, консультация) врача-офтальмолога первичный", "H52.1",
     "Миопия", CareKind.AMBULATORY, "1104.00"),
    ("B03.016.003", "Общий (клинический) анализ крови развернутый", "Z00.0",
     "Общий медицинский осмотр", CareKind.DISPANSERIZATION, "2810.45"),
    ("B01.023.001", "Прием (осмотр, консультация) врача-невролога первичный", "M54.5",
     "Боль внизу спины", CareKind.AMBULATORY, "1310.20"),
    ("A06.09.006", "Флюорография легких", "Z00.0", "Общий медицинский осмотр", CareKind.DISPANSERIZATION, "412.00"),
    ("B01.058.001", "Прием (осмотр, консультация) врача-эндокринолога первичный", "E11.9",
     "Сахарный диабет 2 типа без осложнений", CareKind.DISPENSARY, "1388.75"),
    ("B03.003.005", "Суточное наблюдение в дневном стационаре", "K29.7",
     "Гастрит неуточненный", CareKind.DAY_HOSPITAL, "14520.00"),
)  # fmt: skip


class ErzlApiError(SimulatorApiError):
    """A refusal of this simulator (``status_code``, ``code``, ``message``)."""


@dataclass(slots=True)
class SimAppeal:
    id: str
    form: AppealForm
    key: str
    registered_at: datetime
    due_on: date
    status: AppealStatus = AppealStatus.REGISTERED
    history: list[AppealStep] = field(default_factory=list)
    answer: str | None = None
    upheld: bool | None = None
    reopened: int = 0
    reopen_keys: set[str] = field(default_factory=set)


@dataclass(slots=True)
class SimChange:
    id: str
    form: ChangeForm
    key: str
    submitted_at: datetime
    status: ChangeStatus = ChangeStatus.SUBMITTED
    history: list[ChangeStep] = field(default_factory=list)
    certificate: TemporaryCertificate | None = None
    rejection: str | None = None


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


class ErzlSimulatorState:
    def __init__(
        self,
        region: Region,
        *,
        faults: FaultInjector,
        clock: Callable[[], datetime] | None = None,
        token: str | None = None,
        auto_process: timedelta | None = None,
        auto_complete: timedelta | None = None,
        auto_answer: timedelta | None = None,
    ) -> None:
        self.region = region
        self.auto_answer = auto_answer
        self.faults = faults
        self.token = token
        self.tz = ZoneInfo(region.timezone)
        self._clock = clock or (lambda: datetime.now(self.tz))
        self.auto_process = auto_process
        self.auto_complete = auto_complete
        self.calls: Counter[str] = Counter()
        self.insurers: dict[str, Insurer] = {i.code: i for i in REGION_INSURERS}
        self._by_enp = {_digits(p.oms_policy): p for p in region.people}
        self._by_snils = {_digits(p.snils): p for p in region.people}
        self._by_oid = {p.esia_oid: p for p in region.people}
        self.no_history: set[str] = set()  # ЕНП whose billed care is only what tests add
        self.records: dict[str, PolicyRecord] = {}
        self.histories: dict[str, list[PolicyRecord]] = {}
        self.extra_services: dict[str, list[BilledService]] = {}
        self.delayed: dict[str, timedelta] = {}
        self._first_asked: dict[str, datetime] = {}
        self.appeals: dict[str, SimAppeal] = {}
        self.changes: dict[str, SimChange] = {}
        self._keys: dict[str, str] = {}
        self._ids = itertools.count(1)

    def now(self) -> datetime:
        return naive_local(self._clock(), self.tz)

    # -- people and records ------------------------------------------------------------------------

    def person(self, enp: str) -> Person:
        if not enp_rules.validate(enp, check_digit=False).ok:
            raise ErzlApiError(400, "bad_request", "Некорректный ЕНП: нужно 16 цифр")
        person = self._by_enp.get(_digits(enp))
        if person is None:
            raise ErzlApiError(404, "not_found", "Застрахованное лицо не найдено в ЕРЗЛ")
        return person

    def enrol(self, person: Person, *, history: bool = True) -> None:
        """A person the register knows from now on (tests: a patient made outside the demo region).
        ``history=False``: no generated billed care (only what :meth:`add_service` gives), for a test whose
        facts must be exactly its own."""
        if not history:
            self.no_history.add(_digits(person.oms_policy))
        self._by_enp[_digits(person.oms_policy)] = person
        self._by_snils[_digits(person.snils)] = person
        self._by_oid[person.esia_oid] = person

    def _insurer_of(self, person: Person) -> Insurer:
        by_name = {i.name: i for i in REGION_INSURERS}
        return by_name.get(person.smo_name) or REGION_INSURERS[_seed(person.oms_policy) % len(REGION_INSURERS)]

    def record(self, person: Person) -> PolicyRecord:
        enp = _digits(person.oms_policy)
        if enp not in self.records:
            rng = random.Random(_seed(enp))
            start = max(person.birth_date, date(2011, 5, 1) + timedelta(days=rng.randint(0, 3650)))
            try:
                mo_oid: str | None = self.region.organisation(person.attached_mo_id).oid
            except KeyError:
                mo_oid = None
            current = self._insurer_of(person)
            record = PolicyRecord(
                enp=enp, status=PolicyStatus.ACTIVE, start_date=start, end_date=None, region=self.region.code,
                insurer=current, attachment_mo_oid=mo_oid,
            )  # fmt: skip
            history: list[PolicyRecord] = []
            if rng.random() < 0.5 and start > person.birth_date + timedelta(days=400):
                earlier = next(i for i in REGION_INSURERS if i.code != current.code)
                history.append(
                    replace(
                        record,
                        insurer=earlier,
                        status=PolicyStatus.CLOSED,
                        start_date=max(person.birth_date, start - timedelta(days=rng.randint(380, 2000))),
                        end_date=start - timedelta(days=1),
                    )
                )
            self.records[enp], self.histories[enp] = record, history
        record = self.records[enp]
        live = self.insurers.get(record.insurer.code, record.insurer)
        return record if live == record.insurer else replace(record, insurer=live)

    def find(self, snils: str | None, esia_oid: str | None) -> Person:
        if not snils and not esia_oid:
            raise ErzlApiError(400, "bad_request", "Укажите СНИЛС или идентификатор ЕСИА")
        person = self._by_snils.get(_digits(snils)) if snils else self._by_oid.get(esia_oid or "")
        if person is None:
            raise ErzlApiError(404, "not_found", "Застрахованное лицо не найдено в ЕРЗЛ")
        return person

    def delay_person(self, esia_oid: str, window: timedelta) -> None:
        """The person's search answers "not found yet" until ``window`` after it was first asked."""
        self.delayed[esia_oid] = window
        self._first_asked.pop(esia_oid, None)

    def pending_until(self, person: Person) -> datetime | None:
        window = self.delayed.get(person.esia_oid)
        if window is None:
            return None
        first = self._first_asked.setdefault(person.esia_oid, self.now())
        until = first + window
        return until if self.now() < until else None

    # -- billed services -------------------------------------------------------------------------

    def services(self, enp: str, date_from: date, date_to: date) -> list[BilledService]:
        person = self.person(enp)
        key = _digits(enp)
        rows = self._upheld([*self._generated(person), *self.extra_services.get(key, [])])
        found = [r for r in rows if date_from <= r.service_date <= date_to]
        return sorted(found, key=lambda r: (r.service_date, r.case_id), reverse=True)

    def _generated(self, person: Person) -> list[BilledService]:
        if _digits(person.oms_policy) in self.no_history:
            return []
        today = self.now().date()
        clinics = [o for o in self.region.organisations if o.kind != "feldsher_post"] or list(self.region.organisations)
        rows: list[BilledService] = []
        for year in (today.year - 3, today.year - 2, today.year - 1, today.year):
            rng = random.Random(_seed(f"services:{person.oms_policy}:{year}"))  # a year's rows never change
            for n in range(rng.randint(2, 5)):
                code, name, icd, diagnosis, kind, price = rng.choice(_SERVICES)
                day = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
                if day > today or day < person.birth_date:
                    continue
                if year == today.year and kind is CareKind.DISPANSERIZATION:
                    continue
                mo = rng.choice(clinics)
                status = PaymentStatus.PENDING if (today - day).days < 45 else PaymentStatus.PAID
                rows.append(
                    BilledService(
                        case_id=f"{year}-{_digits(person.oms_policy)[-6:]}-{n + 1:03d}", service_date=day,
                        mo_oid=mo.oid, mo_name=mo.name, service_code=code, service_name=name, diagnosis_code=icd,
                        diagnosis_name=diagnosis, care_kind=kind, cost=Decimal(price), payment_status=status,
                    )
                )  # fmt: skip
        return rows

    def _upheld(self, rows: list[BilledService]) -> list[BilledService]:
        removed = {
            a.form.case_id
            for a in self.appeals.values()
            if a.form.kind is AppealKind.DISPUTE and a.upheld and a.form.case_id
        }
        return [replace(r, payment_status=PaymentStatus.REJECTED) if r.case_id in removed else r for r in rows]

    def add_service(self, enp: str, service: BilledService) -> None:
        self.extra_services.setdefault(_digits(enp), []).append(service)

    def case(self, enp: str, case_id: str) -> BilledService | None:
        person = self.person(enp)
        rows = [*self._generated(person), *self.extra_services.get(_digits(enp), [])]
        return next((r for r in rows if r.case_id == case_id), None)

    # -- appeals -----------------------------------------------------------------------------------

    def submit_appeal(self, form: AppealForm, key: str) -> tuple[SimAppeal, bool]:
        known = self._keys.get(f"appeal:{key}")
        if known is not None:
            return self.appeals[known], False
        self.person(form.enp)
        if form.kind is AppealKind.DISPUTE:
            if not form.case_id or self.case(form.enp, form.case_id) is None:
                raise ErzlApiError(404, "case_not_found", "Случай не найден в реестрах счетов")
            if any(a.form.case_id == form.case_id and a.status.is_open for a in self.appeals.values()):
                raise ErzlApiError(409, "dispute_exists", "По этому случаю уже есть обращение")
        if len(form.description.strip()) < 10:
            raise ErzlApiError(400, "bad_request", "Опишите обращение подробнее")
        now = self.now()
        appeal = SimAppeal(
            id=f"OBR-{now:%Y%m%d}-{next(self._ids):05d}",
            form=form,
            key=key,
            registered_at=now,
            due_on=now.date() + timedelta(days=ANSWER_DAYS),
        )
        appeal.history.append(AppealStep(AppealStatus.REGISTERED, now))
        self.appeals[appeal.id] = appeal
        self._keys[f"appeal:{key}"] = appeal.id
        return appeal, True

    def appeal(self, appeal_id: str) -> SimAppeal:
        found = self.appeals.get(appeal_id)
        if found is None:
            raise ErzlApiError(404, "appeal_not_found", "Обращение не найдено")
        return found

    def _step(self, appeal: SimAppeal, status: AppealStatus, comment: str | None = None) -> SimAppeal:
        appeal.status = status
        appeal.history.append(AppealStep(status, self.now(), comment))
        return appeal

    def review(self, appeal_id: str) -> SimAppeal:
        appeal = self.appeal(appeal_id)
        if appeal.status not in (AppealStatus.REGISTERED, AppealStatus.REOPENED):
            raise ValueError(f"appeal {appeal_id} is {appeal.status.value}")
        return self._step(appeal, AppealStatus.IN_REVIEW)

    def answer(self, appeal_id: str, text: str, *, upheld: bool) -> SimAppeal:
        appeal = self.appeal(appeal_id)
        if not appeal.status.is_open:
            raise ValueError(f"appeal {appeal_id} is {appeal.status.value}")
        appeal.answer, appeal.upheld = text, upheld
        return self._step(appeal, AppealStatus.ANSWERED, text)

    def close(self, appeal_id: str) -> SimAppeal:
        return self._step(self.appeal(appeal_id), AppealStatus.CLOSED)

    def reopen(self, appeal_id: str, comment: str, key: str) -> SimAppeal:
        appeal = self.appeal(appeal_id)
        if key in appeal.reopen_keys:
            return appeal
        if appeal.status is not AppealStatus.ANSWERED or appeal.reopened >= 1:
            raise ErzlApiError(409, "reopen_not_allowed", "Обращение можно возобновить один раз после ответа")
        appeal.reopened += 1
        appeal.reopen_keys.add(key)
        appeal.due_on = self.now().date() + timedelta(days=ANSWER_DAYS)
        appeal.answer, appeal.upheld = None, None
        return self._step(appeal, AppealStatus.REOPENED, comment)

    def appeal_info(self, a: SimAppeal) -> AppealInfo:
        return AppealInfo(
            id=a.id, kind=a.form.kind, status=a.status, registered_at=a.registered_at, due_on=a.due_on,
            history=tuple(a.history), answer=a.answer, upheld=a.upheld,
        )  # fmt: skip

    # -- insurer change ------------------------------------------------------------------------------

    def insurer_exits(self, code: str, on: date) -> None:
        self.insurers[code] = replace(self.insurers[code], exiting_on=on)

    def submit_change(self, form: ChangeForm, key: str) -> tuple[SimChange, bool]:
        known = self._keys.get(f"change:{key}")
        if known is not None:
            return self.changes[known], False
        person = self.person(form.enp)
        target = self.insurers.get(form.insurer_code)
        if target is None:
            raise ErzlApiError(404, "insurer_not_found", "СМО не найдена в реестре региона")
        record = self.record(person)
        if record.insurer.code == form.insurer_code:
            raise ErzlApiError(422, "change_not_allowed", "Гражданин уже застрахован в этой СМО")
        mine = [c for c in self.changes.values() if _digits(c.form.enp) == _digits(form.enp)]
        if any(not c.status.is_final for c in mine):
            raise ErzlApiError(409, "change_pending", "Заявление о замене СМО уже рассматривается")
        now = self.now()
        if form.reason is ChangeReason.ORDINARY:
            this_year = [
                c for c in mine
                if c.status is ChangeStatus.COMPLETED and c.form.reason is ChangeReason.ORDINARY
                and c.submitted_at.year == now.year
            ]  # fmt: skip
            if this_year or (now.month, now.day) > (11, 1):
                raise ErzlApiError(
                    422, "change_not_allowed", "Замена СМО возможна один раз в календарном году не позднее 1 ноября"
                )
        if form.reason is ChangeReason.INSURER_EXIT and record.insurer.exiting_on is None:
            raise ErzlApiError(422, "change_not_allowed", "Текущая СМО не прекращает работу в ОМС региона")
        change = SimChange(id=f"SMO-{now:%Y%m%d}-{next(self._ids):05d}", form=form, key=key, submitted_at=now)
        change.history.append(ChangeStep(ChangeStatus.SUBMITTED, now))
        self.changes[change.id] = change
        self._keys[f"change:{key}"] = change.id
        return change, True

    def change(self, change_id: str) -> SimChange:
        found = self.changes.get(change_id)
        if found is None:
            raise ErzlApiError(404, "change_not_found", "Заявление не найдено")
        return found

    def process(self, change_id: str) -> SimChange:
        """The new insurer accepts the application and issues a temporary certificate."""
        change = self.change(change_id)
        if change.status is not ChangeStatus.SUBMITTED:
            raise ValueError(f"change {change_id} is {change.status.value}")
        now = self.now()
        change.status = ChangeStatus.ACCEPTED
        change.certificate = TemporaryCertificate(
            number=f"ВС-{self.region.code}-{next(self._ids):07d}", valid_until=now.date() + timedelta(CERTIFICATE_DAYS)
        )
        change.history.append(
            ChangeStep(ChangeStatus.ACCEPTED, now, f"Временное свидетельство {change.certificate.number}")
        )
        return change

    def complete(self, change_id: str) -> SimChange:
        """The register moves the person to the new insurer: the old record closes and joins the history."""
        change = self.change(change_id)
        if change.status is not ChangeStatus.ACCEPTED:
            raise ValueError(f"change {change_id} is {change.status.value}")
        now = self.now()
        person = self.person(change.form.enp)
        old = self.record(person)
        enp = _digits(person.oms_policy)
        closed = replace(old, status=PolicyStatus.CLOSED, end_date=now.date() - timedelta(days=1))
        self.histories[enp] = [closed, *self.histories.get(enp, [])]
        self.records[enp] = replace(
            old, insurer=self.insurers[change.form.insurer_code], start_date=now.date(), end_date=None
        )
        change.status = ChangeStatus.COMPLETED
        change.history.append(ChangeStep(ChangeStatus.COMPLETED, now))
        return change

    def reject(self, change_id: str, reason: str) -> SimChange:
        change = self.change(change_id)
        if change.status.is_final:
            raise ValueError(f"change {change_id} is {change.status.value}")
        change.status, change.rejection = ChangeStatus.REJECTED, reason
        change.history.append(ChangeStep(ChangeStatus.REJECTED, self.now(), reason))
        return change

    def tick(self) -> None:
        """Decisions the register makes by itself after ``auto_process`` / ``auto_complete`` / ``auto_answer``
        (an appeal answered, a dispute upheld: the demo's insurer agrees with the patient)."""
        now = self.now()
        for appeal in list(self.appeals.values()):
            waiting = appeal.status in (AppealStatus.REGISTERED, AppealStatus.REOPENED)
            if waiting and self.auto_answer is not None and now - appeal.history[-1].at >= self.auto_answer:
                self.review(appeal.id)
                upheld = appeal.form.kind is AppealKind.DISPUTE
                text = (
                    "Проверка подтвердила: услуга не оказывалась, она исключена из реестра счетов."
                    if upheld
                    else "Обращение рассмотрено, с медицинской организацией проведена работа."
                )
                self.answer(appeal.id, text, upheld=upheld)
        for change in list(self.changes.values()):
            last = change.history[-1].at
            if change.status is ChangeStatus.SUBMITTED and self.auto_process is not None:
                if now - last >= self.auto_process:
                    self.process(change.id)
            elif (
                change.status is ChangeStatus.ACCEPTED
                and self.auto_complete is not None
                and now - last >= self.auto_complete
            ):
                self.complete(change.id)

    def change_info(self, c: SimChange) -> ChangeInfo:
        return ChangeInfo(
            id=c.id, status=c.status, insurer_code=c.form.insurer_code, reason=c.form.reason,
            submitted_at=c.submitted_at, history=tuple(c.history), certificate=c.certificate, rejection=c.rejection,
        )  # fmt: skip
