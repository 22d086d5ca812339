"""Every demo СЭМД validates against the XSD of its family; the XSD and the header rules refuse broken ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree

from integrations.demo_region import get_region
from integrations.iemk.cda import V3, CdaBuilder, CdaMalformed, parse_cda
from integrations.iemk.demo import demo_documents
from integrations.iemk.types import SEMD_TYPES
from integrations.iemk.validation import XSD_DIR, validate_cda
from integrations.nsi import default_terminology

NS = {"v": V3}


def _documents() -> Iterator[tuple[str, bytes]]:
    region = get_region()
    builder = CdaBuilder(default_terminology())
    for person in region.people:
        for planned in demo_documents(region, person):
            yield planned.spec.remd_code, builder.build(planned.spec)


DOCUMENTS = list(_documents())


def _one(remd_code: str) -> bytes:
    return next(xml for code, xml in DOCUMENTS if code == remd_code)


def test_the_demo_region_has_every_family() -> None:
    assert {code for code, _ in DOCUMENTS} == set(SEMD_TYPES)


@pytest.mark.parametrize("remd_code", sorted(SEMD_TYPES))
def test_every_fixture_of_the_family_validates_against_its_xsd(remd_code: str) -> None:
    fixtures = [xml for code, xml in DOCUMENTS if code == remd_code]
    assert fixtures
    for xml in fixtures:
        report = validate_cda(xml)
        assert report.remd_code == remd_code
        assert report.errors == ()


def test_documents_are_deterministic_from_the_seed() -> None:
    assert [xml for _, xml in _documents()] == [xml for _, xml in DOCUMENTS]


def test_header_follows_the_russian_profile() -> None:
    root = etree.fromstring(_one("170"))
    assert root.find("v:realmCode", NS).get("code") == "RU"  # type: ignore[union-attr]
    assert len(root.findall("v:templateId", NS)) == 1
    code = root.find("v:code", NS)
    assert code is not None and code.get("codeSystem") == "1.2.643.5.1.13.13.11.1522"
    translation = code.find("v:translation", NS)
    assert translation is not None and translation.get("code") == "170"
    coded = [el for el in root.iter() if isinstance(el.tag, str) and el.get("codeSystem")]
    assert coded
    for el in coded:
        for attribute in ("codeSystemName", "codeSystemVersion", "displayName"):
            assert el.get(attribute), (el.tag, attribute)


def test_every_code_in_the_documents_is_named_by_the_nsi_snapshot() -> None:
    terminology = default_terminology()
    for _, xml in DOCUMENTS:
        for el in etree.fromstring(xml).iter():
            if isinstance(el.tag, str) and el.get("codeSystem"):
                assert terminology.display(el.get("codeSystem") or "", el.get("code") or "") == el.get("displayName")


def test_the_xsd_refuses_a_wrong_template_a_missing_display_name_and_a_foreign_section() -> None:
    xml = _one("119")
    other_template = xml.replace(b"1.2.643.5.1.13.13.14.85.9.4", b"1.2.643.5.1.13.13.14.53.9.2")
    assert not validate_cda(other_template).ok
    root = etree.fromstring(xml)
    confidentiality = root.find("v:confidentialityCode", NS)
    assert confidentiality is not None
    del confidentiality.attrib["displayName"]
    assert any("displayName" in e for e in validate_cda(etree.tostring(root)).errors)
    foreign = xml.replace(b'code="ANAM" codeSystem', b'code="IMM" codeSystem', 1)
    assert not validate_cda(foreign).ok


def test_header_rules_refuse_a_bad_snils_and_a_foreign_document_id() -> None:
    root = etree.fromstring(_one("122"))
    snils = root.findall("v:recordTarget/v:patientRole/v:id", NS)[1]
    snils.set("extension", "12345678900")
    document_id = root.find("v:id", NS)
    assert document_id is not None
    document_id.set("root", "1.2.643.5.1.13.13.12.2.26.1.100.1.1.51")
    errors = validate_cda(etree.tostring(root)).errors
    assert any("СНИЛС" in e for e in errors)
    assert any("ClinicalDocument/id" in e for e in errors)


def test_hostile_or_broken_xml_is_reported_not_raised() -> None:
    hostile = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    assert not validate_cda(hostile).ok
    assert not validate_cda(b"<ClinicalDocument").ok
    with pytest.raises(CdaMalformed):
        parse_cda(hostile)


def test_parser_reads_the_structured_parts_back() -> None:
    doc = parse_cda(_one("141"))
    assert doc.remd_code == "141"
    assert doc.kind.display_name == "Льготный рецепт"
    assert doc.patient.snils is not None and len(doc.patient.snils) == 14
    recipe = doc.section("RECIPE")
    assert recipe is not None and recipe.entries[0].kind == "substanceAdministration"
    assert recipe.entries[0].until is not None and recipe.entries[0].mood == "RQO"
    benefits = doc.section("BENEFITS")
    assert benefits is not None
    assert {v.coded.code for e in benefits.entries for v in e.values if v.coded} <= {"082", "083", "R01"}
    vaccines = parse_cda(_one("170")).section("IMM")
    assert vaccines is not None and all(e.code and e.code.display_name for e in vaccines.entries)


def test_every_family_has_its_xsd_file() -> None:
    for kind in SEMD_TYPES.values():
        text = (XSD_DIR / kind.xsd_name).read_text(encoding="utf-8")
        assert kind.template_id in text
        assert f'value="{kind.remd_code}"' in text
        for section in kind.sections:
            assert f'value="{section}"' in text
