"""Profile facts read back from the demo documents match what the documents were built from."""

from __future__ import annotations

from integrations.demo_region import get_region
from integrations.iemk.cda import CdaBuilder, parse_cda
from integrations.iemk.demo import demo_documents
from integrations.iemk.facts import HealthFact, document_facts
from integrations.nsi import default_terminology


def _codes(facts: list[HealthFact]) -> list[str]:
    return [f.code.code for f in facts if f.code is not None]


def _facts_of(person_index: int) -> dict[str, list[HealthFact]]:
    region = get_region()
    builder = CdaBuilder(default_terminology())
    by_kind: dict[str, list[HealthFact]] = {}
    for planned in demo_documents(region, region.people[person_index]):
        for fact in document_facts(parse_cda(builder.build(planned.spec))):
            by_kind.setdefault(fact.kind, []).append(fact)
    return by_kind


def test_a_person_with_drug_rights_has_disability_diagnoses_and_a_prescription() -> None:
    region = get_region()
    index = next(i for i, p in enumerate(region.people) if {r.code for r in p.drug_rights} >= {"083", "R01"})
    facts = _facts_of(index)
    disability = facts["disability"]
    assert _codes(disability) == ["083"]
    assert disability[0].shown == "Инвалиды III группы"
    assert "E11.9" in _codes(facts["diagnosis"])
    medication = facts["medication"][0]
    assert medication.shown == "Метформин, таблетки, 1000 мг"
    assert medication.until is not None
    assert _codes(facts["benefit"]) == ["R01"]


def test_blood_group_vitals_and_vaccinations_are_read() -> None:
    facts = _facts_of(0)
    groups = {f.shown for f in facts["blood_group"]}
    assert len(groups) == 1 and next(iter(groups)).endswith(("Rh+", "Rh-"))
    labels = {f.label for f in facts["vital"]}
    assert {"Систолическое артериальное давление", "Масса тела"} <= labels
    assert all(f.quantity is not None for f in facts["vital"])
    vaccines = facts["vaccination"]
    assert vaccines and all(f.detail for f in vaccines)


def test_a_child_has_the_calendar_vaccinations() -> None:
    region = get_region()
    index = next(i for i, p in enumerate(region.people) if p.birth_date.year >= 2020)
    codes = _codes(_facts_of(index)["vaccination"])
    assert codes.count("102") == 3  # hepatitis B at 0, 1 and 6 months
    assert "101" in codes and "104" in codes
