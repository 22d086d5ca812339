"""The demo region's medical documents: real-shaped СЭМД derived deterministically from the seed.

For every demo person, :func:`demo_documents` plans documents of the patient-relevant families — a
consultation protocol (119), an ECG protocol (174, adults), dispanserization / preventive examination
results (122), a vaccination certificate (170), a preferential prescription (141, people with a drug
right) and a medical certificate (166, working-age adults) — from one ``random.Random`` seeded with the
region's seed and the person's ESIA oid. Dates lie in 2025 (before the generator's reference date), so
the same (seed, person) always yields byte-identical CDA. Chronic conditions follow the person's
drug rights (diabetes for R01, hypertensive heart disease for disability groups); the rest is drawn.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from integrations.demo_region.model import Doctor, MedicalOrganisation, Person, Region
from integrations.iemk.cda import (
    MSK,
    Address,
    Administration,
    Code,
    DocumentSpec,
    Name,
    Observation,
    Organisation,
    PatientData,
    Practitioner,
    Quantity,
    Section,
    Service,
    Text,
)

ICD10 = "1.2.643.5.1.13.13.11.1005"
FIELDS = "1.2.643.5.1.13.13.99.2.166"
VITALS = "1.2.643.5.1.13.13.99.2.262"
SERVICES = "1.2.643.5.1.13.13.11.1070"
VACCINES = "1.2.643.5.1.13.13.11.1078"
BLOOD_GROUPS = "1.2.643.5.1.13.13.11.1061"
HEALTH_GROUPS = "1.2.643.5.1.13.13.11.1047"
BENEFITS = "1.2.643.5.1.13.13.99.2.541"
DRUGS = "1.2.643.5.1.13.13.99.2.611"

REFERENCE_DATE = date(2026, 1, 1)

# Specialty (V021) → position (НСИ 1002) and first consultation service (НСИ 1070).
POSITION_OF: dict[str, str] = {
    "76": "109", "39": "40", "49": "76", "86": "110", "46": "51", "45": "52", "2": "2", "68": "85",
    "82": "100", "32": "37", "22": "27", "88": "95", "13": "30", "79": "103", "206": "214",
}  # fmt: skip
CONSULTATION_OF: dict[str, str] = {
    "76": "B01.047.001", "39": "B01.047.001", "49": "B01.031.001", "22": "B01.015.001",
    "32": "B01.023.001", "88": "B01.058.001", "46": "B01.029.001",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    spec: DocumentSpec
    author_doctor_id: str


def _name(last: str, first: str, middle: str) -> Name:
    return Name(last, first, middle or None)


def organisation_of(mo: MedicalOrganisation) -> Organisation:
    digits = "".join(ch for ch in mo.phone if ch.isdigit())
    return Organisation(mo.oid, mo.name, Address(mo.address), f"+{digits}" if digits else None)


def patient_of(person: Person) -> PatientData:
    return PatientData(
        local_id=person.esia_oid,
        snils=person.snils,
        name=_name(person.last_name, person.first_name, person.middle_name),
        sex=person.sex,
        birth_date=person.birth_date,
        address=Address(person.address),
        policy_number=person.oms_policy or None,
    )


def practitioner_of(doctor: Doctor) -> Practitioner:
    return Practitioner(
        local_id=doctor.id,
        snils=doctor.snils,
        name=_name(doctor.last_name, doctor.first_name, doctor.middle_name),
        position_code=POSITION_OF.get(doctor.specialty_code, "109"),
    )


class _Planner:
    def __init__(self, region: Region, person: Person) -> None:
        self.region = region
        self.person = person
        self.rng = random.Random(f"iemk:{region.seed}:{person.esia_oid}")
        self.home = region.organisation(person.attached_mo_id)
        self.age = person.age(REFERENCE_DATE)
        self.child = self.age < 18
        rights = {r.code for r in person.drug_rights}
        chronic: list[str] = []
        if "R01" in rights:
            chronic.append("E11.9")
        if rights & {"082", "083"}:
            chronic.append("I11.9")
        elif not self.child and self.age > 40 and self.rng.random() < 0.5:
            chronic.append("I10")
        if not self.child and self.rng.random() < 0.25:
            chronic.append(self.rng.choice(("K29.5", "M42.1", "H52.1")))
        if self.child and self.rng.random() < 0.2:
            chronic.append("J45.9")
        self.chronic = tuple(chronic)
        self.allergy = self.rng.choice(("Z88.0", "Z88.1", "Z91.0")) if self.rng.random() < 0.35 else None
        self.blood_group = str(self.rng.choices(range(1, 9), weights=(28, 5, 31, 6, 17, 3, 8, 2))[0])
        self.counter = 0

    # -- helpers ---------------------------------------------------------------------------------

    def doctor(
        self, specialties: Sequence[str], mos: Sequence[MedicalOrganisation] | None = None
    ) -> tuple[Doctor, MedicalOrganisation]:
        for mo in mos or (self.home, *self.region.organisations):
            found = [d for d in mo.doctors if d.specialty_code in specialties]
            if found:
                return self.rng.choice(found), mo
        mo = self.home
        return self.rng.choice(mo.doctors), mo

    def first_level(self) -> tuple[Doctor, MedicalOrganisation]:
        return self.doctor(("49", "39") if self.child else ("76", "39", "206"), (self.home,))

    def moment(self, start: date, end: date) -> datetime:
        day = start + timedelta(days=self.rng.randint(0, max((end - start).days, 0)))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return datetime(
            day.year, day.month, day.day, self.rng.randint(8, 16), self.rng.choice((0, 15, 30, 45)), tzinfo=MSK
        )

    def spec(
        self, remd: str, doctor: Doctor, mo: MedicalOrganisation, at: datetime, sections: tuple[Section, ...]
    ) -> PlannedDocument:
        self.counter += 1
        number = f"{self.person.esia_oid}-{self.counter:02d}"
        spec = DocumentSpec(
            remd_code=remd,
            number=number,
            created_at=at,
            patient=patient_of(self.person),
            author=practitioner_of(doctor),
            organisation=organisation_of(mo),
            sections=sections,
        )
        return PlannedDocument(spec, doctor.id)

    def vitals(self) -> Section:
        height = self.rng.randint(150, 190) if not self.child else 100 + 6 * min(self.age, 12)
        weight = round(height - 100 + self.rng.randint(-12, 18)) if not self.child else round(height / 5)
        bmi = Decimal(weight * 10000 / (height * height)).quantize(Decimal("0.1"))
        systolic = self.rng.randint(110, 125) + (20 if {"I10", "I11.9"} & set(self.chronic) else 0)
        return Section(
            "VITALPARAM",
            entries=(
                Observation(Code(VITALS, "1"), Quantity(Decimal(systolic), "mm[Hg]")),
                Observation(Code(VITALS, "2"), Quantity(Decimal(systolic - 40 - self.rng.randint(0, 8)), "mm[Hg]")),
                Observation(Code(VITALS, "3"), Quantity(Decimal(self.rng.randint(62, 88)), "/min")),
                Observation(Code(VITALS, "4"), Quantity(Decimal(height), "cm")),
                Observation(Code(VITALS, "5"), Quantity(Decimal(weight), "kg")),
                Observation(Code(VITALS, "6"), Quantity(bmi, "kg/m2")),
            ),
        )

    def history(self) -> Section:
        entries = [Observation(Code(FIELDS, "1001"), Code(BLOOD_GROUPS, self.blood_group))]
        if self.allergy:
            entries.append(Observation(Code(FIELDS, "12001"), Code(ICD10, self.allergy)))
        return Section("LANAM", entries=tuple(entries))

    def diagnoses(self, main: str) -> Section:
        codes = [main, *(c for c in self.chronic if c != main)]
        return Section("DGN", entries=tuple(Observation(Code(FIELDS, "838"), Code(ICD10, c)) for c in codes))

    # -- the families ----------------------------------------------------------------------------

    def consultation(self) -> PlannedDocument:
        if self.child:
            specialties, main = ("49",), "J06.9"
        elif "E11.9" in self.chronic:
            specialties, main = ("88",), "E11.9"
        elif {"I10", "I11.9"} & set(self.chronic):
            specialties, main = ("22",), next(c for c in self.chronic if c in {"I10", "I11.9"})
        else:
            specialties, main = (self.rng.choice(("32", "46")),), self.rng.choice(("M42.1", "H52.1"))
        doctor, mo = self.doctor(specialties)
        at = self.moment(date(2025, 9, 1), date(2025, 12, 20))
        service = CONSULTATION_OF.get(doctor.specialty_code, "B01.047.001")
        complaint = "Жалобы на заложенность носа, кашель." if self.child else "Жалобы на периодические головные боли."
        return self.spec(
            "119",
            doctor,
            mo,
            at,
            (
                Section("DOCINFO", entries=(Observation(Code(FIELDS, "809"), Code(ICD10, main)),)),
                Section("ANAM", paragraphs=(complaint, "Ухудшение в течение последних двух недель.")),
                self.history(),
                self.vitals(),
                Section(
                    "RESCONS",
                    paragraphs=(
                        "Рекомендовано наблюдение у участкового врача, повторная консультация через 3 месяца.",
                    ),
                    entries=(Observation(Code(FIELDS, "7001"), Text("Состояние удовлетворительное.")),),
                ),
                self.diagnoses(main),
                Section("SERVICES", entries=(Service(Code(SERVICES, service), at.date()),)),
            ),
        )

    def ecg(self) -> PlannedDocument:
        doctor, mo = self.first_level()
        at = self.moment(date(2025, 3, 1), date(2025, 8, 30))
        rhythm = self.rng.choice(("Ритм синусовый, ЧСС 72 в минуту.", "Ритм синусовый, ЧСС 64 в минуту."))
        return self.spec(
            "174",
            doctor,
            mo,
            at,
            (
                Section("DOCINFO", entries=(Observation(Code(FIELDS, "809"), Code(ICD10, "Z01.8")),)),
                Section("SERVICES", entries=(Service(Code(SERVICES, "A05.10.006"), at.date()),)),
                Section("RESINSTR", paragraphs=(rhythm, "Электрическая ось сердца не отклонена.")),
                Section(
                    "RESINFO",
                    entries=(Observation(Code(FIELDS, "805"), Text("ЭКГ без патологических изменений.")),),
                ),
            ),
        )

    def dispanserization(self) -> PlannedDocument:
        doctor, mo = self.first_level()
        at = self.moment(date(2025, 2, 1), date(2025, 6, 30))
        group = "3" if self.chronic else self.rng.choice(("1", "2"))
        main = "Z00.1" if self.child else "Z00.0"
        return self.spec(
            "122",
            doctor,
            mo,
            at,
            (
                Section(
                    "MEDEXAMINFO",
                    entries=(
                        Observation(
                            Code(FIELDS, "6020"),
                            Text(
                                "Профилактический медицинский осмотр несовершеннолетнего"
                                if self.child
                                else "Диспансеризация"
                            ),
                        ),
                        Observation(Code(FIELDS, "6021"), Code(HEALTH_GROUPS, group)),
                    ),
                ),
                self.vitals(),
                self.history(),
                self.diagnoses(main),
                Section("RISKFACTOR", paragraphs=("Факторы риска: низкая физическая активность.",)),
                Section("RESINFO", paragraphs=(f"Группа здоровья: {group}. Рекомендовано ежегодное обследование.",)),
            ),
        )

    def vaccinations(self) -> PlannedDocument:
        doctor, mo = self.first_level()
        born = self.person.birth_date
        given: list[Administration] = []

        def add(vaccine: str, day: date, series: str) -> None:
            if day < REFERENCE_DATE:
                given.append(
                    Administration(
                        Code(VACCINES, vaccine),
                        day,
                        dose=Quantity(Decimal("0.5"), "ml"),
                        related=(Observation(Code(FIELDS, "8009"), Text(series)),),
                    )
                )

        if self.child:
            add("101", born + timedelta(days=4), f"БЦЖ-{born.year}-{self.rng.randint(100, 999)}")
            for days in (1, 31, 183):  # 0, 1 and 6 months
                add("102", born + timedelta(days=days), f"HB-{self.rng.randint(1000, 9999)}")
            for days in (92, 137, 183):  # 3, 4.5 and 6 months
                add("103", born + timedelta(days=days), f"АКДС-{self.rng.randint(1000, 9999)}")
            for days in (61, 137):  # 2 and 4.5 months
                add("105", born + timedelta(days=days), f"ПКВ-{self.rng.randint(1000, 9999)}")
            add("104", born + timedelta(days=366), f"ККП-{self.rng.randint(1000, 9999)}")
        else:
            add(
                "108",
                date(2019 + self.rng.randint(0, 5), self.rng.randint(1, 12), 10),
                f"АДС-М-{self.rng.randint(1000, 9999)}",
            )
            add("107", date(2024, self.rng.randint(1, 11), 15), f"ГКВ-{self.rng.randint(1000, 9999)}")
        add("106", date(2025, 10, self.rng.randint(1, 28)), f"ГРИПП-{self.rng.randint(1000, 9999)}")
        last = max(a.effective for a in given)
        at = datetime(last.year, last.month, last.day, 15, 30, tzinfo=MSK) + timedelta(days=1)
        return self.spec(
            "170", doctor, mo, at, (Section("IMM", entries=tuple(sorted(given, key=lambda a: str(a.effective)))),)
        )

    def prescription(self) -> PlannedDocument | None:
        rights = [r for r in self.person.drug_rights if r.code in {"082", "083", "R01"}]
        if not rights:
            return None
        doctor, mo = self.first_level()
        at = self.moment(date(2025, 11, 1), date(2025, 12, 26))
        drug, main = (
            ("21.20.10.190-000001-1-00001", "E11.9")
            if "E11.9" in self.chronic
            else ("21.20.10.132-000002-1-00002", "I11.9" if "I11.9" in self.chronic else "I10")
        )
        series = f"26-{self.rng.randint(10, 99)} № {self.rng.randint(1000000, 9999999)}"
        return self.spec(
            "141",
            doctor,
            mo,
            at,
            (
                Section(
                    "DOCINFO",
                    entries=(
                        Observation(Code(FIELDS, "6000"), Text(series)),
                        Observation(Code(FIELDS, "809"), Code(ICD10, main)),
                    ),
                ),
                Section(
                    "BENEFITS", entries=tuple(Observation(Code(FIELDS, "811"), Code(BENEFITS, r.code)) for r in rights)
                ),
                Section(
                    "RECIPE",
                    entries=(
                        Administration(
                            Code(DRUGS, drug),
                            at.date(),
                            mood="RQO",
                            until=at.date() + timedelta(days=30),
                            text="По 1 таблетке 2 раза в день, 30 дней",
                            dose=Quantity(Decimal(1), "{tbl}"),
                        ),
                    ),
                ),
            ),
        )

    def certificate(self, purpose: str | None = None) -> PlannedDocument | None:
        """The work certificate of a working-age adult; with ``purpose``, the certificate a person asked their
        clinic for (any age, no workplace: the drugs domain's certificate requests)."""
        if purpose is None and (self.child or self.age >= 65):
            return None
        doctor, mo = self.first_level()
        at = self.moment(date(2025, 4, 1), date(2025, 10, 30))
        main = self.chronic[0] if self.chronic else "Z02.7"
        work = (
            ()
            if purpose is not None
            else (
                Section(
                    "WORK",
                    entries=(Observation(Code(FIELDS, "4073"), Text("ООО «Ставропольские коммунальные системы»")),),
                ),
            )
        )
        result = (
            "Медицинских противопоказаний не выявлено."
            if purpose
            else "Медицинских противопоказаний к работе не выявлено."
        )
        return self.spec(
            "166",
            doctor,
            mo,
            at,
            (
                Section(
                    "DOCINFO",
                    entries=(Observation(Code(FIELDS, "7000"), Text(purpose or "Для предъявления по месту работы")),),
                ),
                *work,
                Section("PRVDS", entries=(Observation(Code(FIELDS, "809"), Code(ICD10, main)),)),
                Section("RESINFO", entries=(Observation(Code(FIELDS, "7001"), Text(result)),)),
            ),
        )


def demo_documents(region: Region, person: Person) -> list[PlannedDocument]:
    """The person's documents, oldest first; equal (seed, person) give equal documents."""
    planner = _Planner(region, person)
    planned = [planner.dispanserization(), planner.vaccinations(), planner.consultation()]
    if not planner.child:
        planned.append(planner.ecg())
    for optional in (planner.prescription(), planner.certificate()):
        if optional is not None:
            planned.append(optional)
    return sorted(planned, key=lambda p: p.spec.created_at)


def new_document(
    region: Region, person: Person, remd_code: str, at: datetime, *, sequence: int, purpose: str | None = None
) -> PlannedDocument:
    """A fresh document of ``remd_code`` for ``person`` made at ``at`` (the simulator's registration hook);
    ``purpose`` is a certificate's (166) purpose line, for a certificate the person asked for."""
    planner = _Planner(region, person)
    planner.counter = 50 + sequence
    makers = {
        "119": planner.consultation,
        "174": planner.ecg,
        "122": planner.dispanserization,
        "170": planner.vaccinations,
        "141": planner.prescription,
        "166": lambda: planner.certificate(purpose),
    }
    made = makers[remd_code]()
    if made is None:
        raise ValueError(f"СЭМД {remd_code} не применим к этому человеку")
    spec = made.spec
    return PlannedDocument(
        DocumentSpec(
            remd_code=spec.remd_code,
            number=spec.number,
            created_at=at,
            patient=spec.patient,
            author=spec.author,
            organisation=spec.organisation,
            sections=spec.sections,
        ),
        made.author_doctor_id,
    )


def vaccination_document(
    region: Region, person: Person, given: Sequence[tuple[str, date, str]], at: datetime, *, sequence: int
) -> PlannedDocument:
    """A СЭМД 170 of the person's clinic recording ``given`` (vaccine code of НСИ 1078, day, series) at ``at``:
    what the MIS registers after a visit to the vaccination room (the simulator's registration hook)."""
    if not given:
        raise ValueError("a vaccination certificate lists at least one vaccination")
    planner = _Planner(region, person)
    planner.counter = 50 + sequence
    doctor, mo = planner.first_level()
    entries = tuple(
        Administration(
            Code(VACCINES, code),
            day,
            dose=Quantity(Decimal("0.5"), "ml"),
            related=(Observation(Code(FIELDS, "8009"), Text(series)),),
        )
        for code, day, series in sorted(given, key=lambda g: g[1])
    )
    return planner.spec("170", doctor, mo, at, (Section("IMM", entries=entries),))
