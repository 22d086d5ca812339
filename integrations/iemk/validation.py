"""Validation of СЭМД against this project's compact XSDs (``xsd/``) plus the header rules XSD 1.0
cannot express (a small, schematron-like set of checks in Python).

The official СЭМД XSDs and schematrons are not shipped: they cannot be downloaded here. The
schemas in ``xsd/`` are our own and cover the header rules these documents follow (see
``xsd/semd-common.xsd``); passing them says a document has the Russian CDA header shape, not that
ЕГИСЗ would accept it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

from integrations.iemk.cda import ADDRESS, SNILS_OID, V3, CdaMalformed, parse_xml
from integrations.iemk.types import REMD_TYPES_OID, SEMD_TYPES

XSD_DIR = Path(__file__).with_name("xsd")
STATE_CODE_SYSTEMS = frozenset({"1.2.643.5.1.13.13.99.2.206", "1.2.643.5.1.13.13.11.1093"})
_NS = {"v": V3, "address": ADDRESS}


@dataclass(frozen=True, slots=True)
class ValidationReport:
    remd_code: str | None
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@lru_cache(maxsize=16)
def schema_for(remd_code: str) -> etree.XMLSchema:
    """The compiled XSD of a family (``xsd/semd-<REMD type>.xsd``)."""
    kind = SEMD_TYPES.get(remd_code)
    if kind is None:
        raise KeyError(f"нет XSD для типа СЭМД {remd_code}")
    return etree.XMLSchema(etree.parse(str(XSD_DIR / kind.xsd_name)))


def snils_is_valid(digits: str) -> bool:
    """The SNILS control number rule (numbers up to 001-001-998 have no checked control number)."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    number, control = digits[:9], int(digits[9:])
    if int(number) <= 1001998:
        return True
    total = sum(int(d) * (9 - i) for i, d in enumerate(number))
    expected = total % 101
    return control == (0 if expected in (100, 101) else expected)


def _snils_ids(root: etree._Element, path: str, what: str) -> list[str]:
    errors: list[str] = []
    for holder in root.iterfind(path, namespaces=_NS):
        ids = holder.findall("v:id", namespaces=_NS)
        if len(ids) < 2 or ids[1].get("root") != SNILS_OID:
            errors.append(f"{what}: второй id должен быть СНИЛС (root {SNILS_OID})")
        elif not snils_is_valid(ids[1].get("extension") or ""):
            errors.append(f"{what}: некорректный СНИЛС {ids[1].get('extension')!r}")
    return errors


def header_rules(root: etree._Element) -> list[str]:
    """The rules of the header XSD 1.0 cannot state (id kinds by position, code systems of extensions)."""
    errors = _snils_ids(root, "v:recordTarget/v:patientRole", "recordTarget/patientRole")
    errors += _snils_ids(root, "v:author/v:assignedAuthor", "author/assignedAuthor")
    errors += _snils_ids(root, "v:legalAuthenticator/v:assignedEntity", "legalAuthenticator/assignedEntity")
    for state in root.iterfind(".//address:stateCode", namespaces=_NS):
        if state.get("codeSystem") not in STATE_CODE_SYSTEMS:
            errors.append(f"address:stateCode: недопустимый codeSystem {state.get('codeSystem')!r}")
    org = root.find("v:custodian/v:assignedCustodian/v:representedCustodianOrganization/v:id", namespaces=_NS)
    org_oid = org.get("root") if org is not None else None
    for tag, kind in (("v:id", "51"), ("v:setId", "50")):
        el = root.find(tag, namespaces=_NS)
        root_oid = el.get("root") if el is not None else ""
        if (
            not org_oid
            or not (root_oid or "").startswith(f"{org_oid}.100.")
            or not (root_oid or "").endswith(f".{kind}")
        ):
            errors.append(f"ClinicalDocument/{tag[2:]}: root должен быть «OID МО.100.НомерМИС.НомерЭкзМИС.{kind}»")
    return errors


def validate_cda(data: bytes, *, remd_code: str | None = None) -> ValidationReport:
    """Validate against the XSD of the document's family (from its 1520 translation, or ``remd_code``)."""
    try:
        root = parse_xml(data)
    except CdaMalformed as exc:
        return ValidationReport(remd_code, (str(exc),))
    found = root.find(f"v:code/v:translation[@codeSystem='{REMD_TYPES_OID}']", namespaces=_NS)
    declared = found.get("code") if found is not None else None
    code = remd_code or declared
    if code is None:
        return ValidationReport(None, ("нет кода типа РЭМД (code/translation, НСИ 1.2.643.5.1.13.13.11.1520)",))
    if remd_code is not None and declared is not None and declared != remd_code:
        return ValidationReport(code, (f"тип документа {declared}, ожидался {remd_code}",))
    if code not in SEMD_TYPES:
        return ValidationReport(code, (f"тип СЭМД {code} не поддерживается",))
    schema = schema_for(code)
    errors: list[str] = []
    if not schema.validate(root):
        errors.extend(f"строка {e.line}: {e.message}" for e in schema.error_log)  # type: ignore[attr-defined]
    errors.extend(header_rules(root))
    return ValidationReport(code, tuple(errors))
