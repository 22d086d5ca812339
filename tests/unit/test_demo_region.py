"""The deterministic demo region: determinism, seed-004 shape at FULL scale, data integrity."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from integrations.demo_region import Region, RegionScale, generate_region, get_region
from integrations.demo_region.generator import (
    FIRST_LEVEL,
    LAT_RANGE,
    LON_RANGE,
    OID_PREFIX,
    REFERENCE_DATE,
    snils_control,
    snils_is_valid,
    suitable_for,
)


@pytest.fixture(scope="module")
def small() -> Region:
    return generate_region(26, RegionScale.SMALL)


@pytest.fixture(scope="module")
def full() -> Region:
    return generate_region(26, RegionScale.FULL)


@pytest.fixture(scope="module", params=["small", "full"])
def region(request: pytest.FixtureRequest, small: Region, full: Region) -> Region:
    return small if request.param == "small" else full


# -- determinism ------------------------------------------------------------------------------
def test_same_seed_gives_equal_region() -> None:
    assert generate_region(7, RegionScale.SMALL) == generate_region(7, RegionScale.SMALL)


def test_full_scale_is_deterministic_too(full: Region) -> None:
    assert generate_region(26, RegionScale.FULL) == full


def test_different_seed_gives_different_region(small: Region) -> None:
    other = generate_region(27, RegionScale.SMALL)
    assert other != small
    assert [d.snils for d in other.doctors()] != [d.snils for d in small.doctors()]
    assert [p.oms_policy for p in other.people] != [p.oms_policy for p in small.people]


def test_get_region_caches(small: Region) -> None:
    assert get_region(26, RegionScale.SMALL) is get_region(26, RegionScale.SMALL)
    assert get_region(26, RegionScale.SMALL) == small


# -- region shape -----------------------------------------------------------------------------
def test_region_identity(region: Region) -> None:
    assert region.code == "26"
    assert region.name == "Ставропольский край"
    assert region.timezone == "Europe/Moscow"
    assert region.seed == 26


def test_full_scale_counts_follow_seed_004(full: Region) -> None:
    posts = full.feldsher_posts()
    other_units = [dep for mo in full.organisations if mo.kind != "feldsher_post" for dep in mo.departments]
    sites = len(other_units) + len(posts)
    assert 474 * 0.9 <= sites <= 474 * 1.1
    assert 306 * 0.9 <= len(posts) <= 306 * 1.1
    assert all(len(mo.departments) == 1 for mo in posts)  # so sites() counts each post once
    assert len(full.sites()) == sites
    assert len(full.districts) >= 30
    assert any(d.name == "город Ставрополь" for d in full.districts)


def test_small_scale_counts(small: Region) -> None:
    kinds = Counter(mo.kind for mo in small.organisations)
    assert len(small.districts) == 3
    assert 5 <= len(small.organisations) <= 8
    assert kinds["polyclinic"] >= 2
    assert kinds["children_polyclinic"] >= 1
    assert kinds["feldsher_post"] >= 1
    hospitals = [mo for mo in small.organisations if mo.kind == "hospital"]
    assert any("Консультативная поликлиника" in [d.name for d in mo.departments] for mo in hospitals)
    assert 30 <= len(small.doctors()) <= 60  # with six prevention and diagnostic rooms per adult polyclinic
    assert 4 <= len(small.pharmacies) <= 6
    assert any(p.preferential for p in small.pharmacies)
    assert any(not p.preferential for p in small.pharmacies)
    assert len(small.ambulance_stations) == 2
    assert all(st.crews for st in small.ambulance_stations)
    assert 10 <= len(small.people) <= 15


# -- identifiers ------------------------------------------------------------------------------
def _assert_unique(values: list[str]) -> None:
    duplicates = [v for v, n in Counter(values).items() if n > 1]
    assert not duplicates


def test_identifiers_are_unique(region: Region) -> None:
    _assert_unique([mo.id for mo in region.organisations])
    _assert_unique([mo.oid for mo in region.organisations])
    _assert_unique([dep.id for dep in region.departments()])
    _assert_unique([d.id for d in region.doctors()])
    _assert_unique([p.id for p in region.pharmacies])
    _assert_unique([s.id for s in region.ambulance_stations])
    _assert_unique([c for s in region.ambulance_stations for c in s.crews])
    _assert_unique([p.esia_oid for p in region.people])
    _assert_unique([p.oms_policy for p in region.people])
    _assert_unique([p.snils for p in region.people] + [d.snils for d in region.doctors()])
    _assert_unique([s.code for s in region.specialties])
    _assert_unique([d.id for d in region.districts])


def test_identifier_formats(region: Region) -> None:
    oid = re.compile(re.escape(OID_PREFIX) + r"\d{4,5}")
    for mo in region.organisations:
        assert oid.fullmatch(mo.oid)
        assert mo.id.isdigit()
        assert len(mo.id) <= 6
    for p in region.people:
        assert re.fullmatch(r"\d{16}", p.oms_policy)
        assert p.esia_oid.isdigit()
        assert re.fullmatch(r"\+7\(9\d\d\)\d{7}", p.phone)


def test_snils_checksums_are_valid(region: Region) -> None:
    snils = [p.snils for p in region.people] + [d.snils for d in region.doctors()]
    for value in snils:
        assert re.fullmatch(r"\d{3}-\d{3}-\d{3} \d{2}", value)
        assert snils_is_valid(value), value


def test_snils_algorithm_on_known_values() -> None:
    # 112-233-445: 1*9 + 1*8 + 2*7 + 2*6 + 3*5 + 3*4 + 4*3 + 4*2 + 5*1 = 95
    assert snils_control("112233445") == 95
    assert snils_is_valid("112-233-445 95")
    assert snils_is_valid("11223344595")
    assert not snils_is_valid("112-233-445 94")
    # 9*9 + 3*3 + 4*2 + 1*1 = 99: below 100 the sum itself is the control number
    assert snils_control("900000341") == 99
    # sums of 100 and 101 give 00
    assert snils_control("900000350") == 0
    assert snils_control("900000351") == 0
    # above 101 the sum is reduced modulo 101: 102 -> 01, 9*45 = 405 -> 405 % 101 = 1
    assert snils_control("900000352") == 1
    assert snils_control("999999999") == 1
    # numbers up to 001-001-998 carry no control number
    assert not snils_is_valid("001-001-998 00")


# -- referential integrity --------------------------------------------------------------------
def test_every_doctor_specialty_and_department_exists(region: Region) -> None:
    codes = {s.code for s in region.specialties}
    for mo in region.organisations:
        own_departments = {dep.id for dep in mo.departments}
        assert mo.departments
        for dep in mo.departments:
            assert dep.mo_id == mo.id
            assert dep.kind in ("adult", "children", "mixed")
        for doctor in mo.doctors:
            assert doctor.specialty_code in codes
            assert doctor.department_id in own_departments


def test_every_attaching_mo_has_first_level_doctors(region: Region) -> None:
    attaching = region.attaching_organisations()
    assert attaching
    for mo in attaching:
        for dep in mo.departments:
            specialties = {d.specialty_code for d in mo.doctors if d.department_id == dep.id}
            first_level = set(FIRST_LEVEL[dep.kind])
            if dep.kind == "mixed":
                ok = bool(specialties & first_level) or {"76", "49"} <= specialties
            else:
                ok = bool(specialties & first_level)
            assert ok, (mo.name, dep.name, specialties)
            assert all(region.specialty(code).direct_booking for code in specialties & first_level)


def test_department_kinds_follow_organisation_kind(region: Region) -> None:
    for mo in region.organisations:
        if mo.kind == "children_polyclinic":
            assert {d.kind for d in mo.departments} == {"children"}
        if mo.kind == "feldsher_post":
            assert [d.kind for d in mo.departments] == ["mixed"]


def test_specialties(region: Region) -> None:
    by_name = {s.name: s for s in region.specialties}
    for name in ("Терапевт", "Врач общей практики", "Педиатр", "Хирург", "Акушер-гинеколог", "Стоматолог"):
        assert by_name[name].direct_booking
    for name in ("Кардиолог", "Эндокринолог", "Невролог"):
        assert not by_name[name].direct_booking
    assert all(12 <= s.slot_minutes <= 30 for s in region.specialties)
    assert all(s.code.isdigit() for s in region.specialties)


def test_working_hours(region: Region) -> None:
    for d in region.doctors():
        assert d.hours
        assert d.weeks_ahead in (2, 3)
        assert d.room
        assert all(0 <= h.weekday <= 5 and h.start < h.end for h in d.hours)
        assert len({h.weekday for h in d.hours}) == len(d.hours)
    assert any(any(h.weekday == 5 for h in d.hours) for d in region.doctors())


def test_coordinates_in_bounding_box(region: Region) -> None:
    points = (
        [(mo.latitude, mo.longitude) for mo in region.organisations]
        + [(d.latitude, d.longitude) for d in region.departments()]
        + [(p.latitude, p.longitude) for p in region.pharmacies]
        + [(s.latitude, s.longitude) for s in region.ambulance_stations]
        + [(p.latitude, p.longitude) for p in region.people]
    )
    for lat, lon in points:
        assert LAT_RANGE[0] <= lat <= LAT_RANGE[1]
        assert LON_RANGE[0] <= lon <= LON_RANGE[1]


def test_everything_points_to_an_existing_district(region: Region) -> None:
    ids = {d.id for d in region.districts}
    assert {mo.district_id for mo in region.organisations} <= ids
    assert {p.district_id for p in region.pharmacies} <= ids
    assert {s.district_id for s in region.ambulance_stations} <= ids
    assert {p.district_id for p in region.people} <= ids


# -- people -----------------------------------------------------------------------------------
def test_demo_user(small: Region) -> None:
    first = small.people[0]
    assert first.full_name == "Иванов Иван Иванович"
    assert first.birth_date.year == 1985
    assert first.passport is not None
    assert small.children_of(first.esia_oid)


def test_children_have_adult_parents(region: Region) -> None:
    children = [p for p in region.people if p.age(REFERENCE_DATE) < 15]
    assert children
    for child in children:
        assert child.parent_oid is not None
        parent = region.person_by_oid(child.parent_oid)
        assert parent.age(REFERENCE_DATE) >= 18
        assert child.birth_certificate
        assert 2016 <= child.birth_date.year <= 2022
        assert child.passport is None
    for person in region.people:
        if person.parent_oid is not None:
            assert region.person_by_oid(person.parent_oid).age(REFERENCE_DATE) >= 18


def test_cast_covers_the_age_groups(small: Region) -> None:
    ages = [p.age(REFERENCE_DATE) for p in small.people]
    assert 16 in ages
    assert any(a >= 65 for a in ages)
    assert sum(a < 15 for a in ages) >= 2
    assert sum(18 <= a < 65 for a in ages) >= 4


def test_someone_has_drug_rights(region: Region) -> None:
    holders = [p for p in region.people if p.drug_rights]
    assert holders
    assert any(r.category == "federal" for p in holders for r in p.drug_rights)
    for p in holders:
        for right in p.drug_rights:
            assert right.category in ("federal", "regional")
            assert right.valid_until > REFERENCE_DATE


def test_people_are_attached_by_age(region: Region) -> None:
    for person in region.people:
        mo = region.organisation(person.attached_mo_id)
        child = person.age(REFERENCE_DATE) < 18
        assert mo.attaches
        assert suitable_for(mo, child=child)
        kinds = {d.kind for d in mo.departments}
        assert kinds & ({"children", "mixed"} if child else {"adult", "mixed"})
    stavropol_kids = [p for p in region.people if p.district_id == "stavropol" and p.age(REFERENCE_DATE) < 15]
    assert stavropol_kids
    for kid in stavropol_kids:
        assert region.organisation(kid.attached_mo_id).kind == "children_polyclinic"


def test_lookup_helpers(region: Region) -> None:
    person = region.people[-1]
    assert region.person_by_policy(person.oms_policy) == person
    assert region.person_by_snils(person.snils) == person
    doctor = region.doctors()[-1]
    assert region.doctor(doctor.id) == doctor
    assert region.department(doctor.department_id).id == doctor.department_id
    with pytest.raises(KeyError):
        region.person_by_policy("0000000000000000")
