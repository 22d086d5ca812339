"""СЭМД as HL7 CDA R2 of the Russian profile: a small document model, the lxml builder, and a parser.

:func:`build_cda` writes a document of one of the families of :mod:`integrations.iemk.types` from a
:class:`DocumentSpec`: ``realmCode RU``, ``typeId POCD_MT000040``, one ``templateId``, the document
code (1522) with its REMD type (1520) as a translation, coded elements with ``codeSystemName``,
``codeSystemVersion`` and ``displayName`` taken from the НСИ snapshot (:class:`Terminology`), the
``urn:hl7-ru:identity`` (``Patronymic``, ``InsurancePolicy``) and ``urn:hl7-ru:address``
(``stateCode``) extensions, ids by the ``<MO OID>.100.<MIS>.<instance>.<kind>`` rule.

:func:`parse_cda` reads any document of that shape back into plain values (:class:`ParsedDocument`),
so a reader can show the structured parts as fields; it raises :class:`CdaMalformed` with a Russian
message and never resolves entities, DTDs or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from lxml import etree

from integrations.iemk.types import DOC_KINDS_OID, REMD_TYPES_OID, SECTIONS_OID, semd_type
from integrations.nsi.snapshot import Terminology

V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
IDENTITY = "urn:hl7-ru:identity"
ADDRESS = "urn:hl7-ru:address"
NSMAP = {None: V3, "xsi": XSI, "identity": IDENTITY, "address": ADDRESS}

SNILS_OID = "1.2.643.100.3"
SEX_OID = "1.2.643.5.1.13.13.11.1040"
CONFIDENTIALITY_OID = "1.2.643.5.1.13.13.99.2.285"
POSITIONS_OID = "1.2.643.5.1.13.13.11.1002"
POLICY_TYPES_OID = "1.2.643.5.1.13.13.11.1035"
SUBJECTS_OID = "1.2.643.5.1.13.13.99.2.206"
MSK = timezone(timedelta(hours=3))

# The MIS number and instance in generated ids (``<MO OID>.100.<MIS>.<instance>.<kind>``).
MIS_PART = "100.1.1"
ID_DOCUMENT = 51
ID_SET = 50
ID_PATIENT = 10
ID_PRACTITIONER = 70


class CdaMalformed(ValueError):
    """The bytes are not a СЭМД document this project can read."""


# -- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    family: str
    given: str
    patronymic: str | None = None

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.family, self.given, self.patronymic) if p)


@dataclass(frozen=True, slots=True)
class Address:
    line: str
    state_code: str = "26"  # Ставропольский край


@dataclass(frozen=True, slots=True)
class Organisation:
    oid: str
    name: str
    address: Address
    phone: str | None = None  # "+78652000000"


@dataclass(frozen=True, slots=True)
class PatientData:
    local_id: str
    snils: str  # "123-456-789 01" or 11 digits
    name: Name
    sex: str  # "M" | "F"
    birth_date: date
    address: Address
    policy_number: str | None = None  # single-format OMS policy (type 3)


@dataclass(frozen=True, slots=True)
class Practitioner:
    local_id: str
    snils: str
    name: Name
    position_code: str  # НСИ 1.2.643.5.1.13.13.11.1002


@dataclass(frozen=True, slots=True)
class Code:
    system: str  # the НСИ book's OID
    code: str


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Moment:
    at: date | datetime


Value = Code | Quantity | Text | Moment


@dataclass(frozen=True, slots=True)
class Observation:
    code: Code
    value: Value | None = None
    effective: date | datetime | None = None
    text: str | None = None
    related: tuple[Observation, ...] = ()


@dataclass(frozen=True, slots=True)
class Administration:
    """``substanceAdministration``: a vaccination given (``EVN``) or a drug prescribed (``RQO``)."""

    material: Code
    effective: date | datetime
    mood: str = "EVN"
    dose: Quantity | None = None
    text: str | None = None
    until: date | None = None  # effectiveTime/high (a prescription's validity)
    related: tuple[Observation, ...] = ()


@dataclass(frozen=True, slots=True)
class Service:
    """``act``: a medical service rendered (НСИ 1.2.643.5.1.13.13.11.1070)."""

    code: Code
    effective: date | datetime | None = None
    related: tuple[Observation, ...] = ()


Entry = Observation | Administration | Service


@dataclass(frozen=True, slots=True)
class Section:
    code: str  # НСИ 1.2.643.5.1.13.13.11.1379
    paragraphs: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    remd_code: str
    number: str  # the MIS's local document number (ClinicalDocument/id/@extension)
    created_at: datetime  # aware
    patient: PatientData
    author: Practitioner
    organisation: Organisation
    sections: tuple[Section, ...]
    confidentiality: str = "N"
    version: int = 1


# -- building -----------------------------------------------------------------------------------


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: etree._Element, tag: str, ns: str = V3, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, _q(ns, tag))
    for key, value in attrs.items():
        el.set(key, value)
    if text is not None:
        el.text = text
    return el


def format_ts(moment: date | datetime) -> str:
    """``YYYYMMDD`` for a date; ``YYYYMMDDHHMMSS+HHMM`` (Moscow time for naive values) for a moment."""
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=MSK)
        return aware.strftime("%Y%m%d%H%M%S%z")
    return moment.strftime("%Y%m%d")


def parse_ts(value: str) -> date | datetime:
    try:
        if len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        return datetime.strptime(value, "%Y%m%d%H%M%S%z")
    except ValueError as exc:
        raise CdaMalformed(f"некорректная дата {value!r}") from exc


def snils_digits(snils: str) -> str:
    return "".join(ch for ch in snils if ch.isdigit())


def format_snils(digits: str) -> str:
    d = snils_digits(digits)
    return f"{d[0:3]}-{d[3:6]}-{d[6:9]} {d[9:11]}" if len(d) == 11 else digits


class CdaBuilder:
    """Builds documents whose coded values are named from ``terminology``."""

    def __init__(self, terminology: Terminology) -> None:
        self._terms = terminology

    def _coded(self, el: etree._Element, system: str, code: str) -> etree._Element:
        concept = self._terms.concept(system, code)
        el.set("code", concept.code)
        el.set("codeSystem", concept.code_system)
        el.set("codeSystemName", concept.code_system_name)
        el.set("codeSystemVersion", concept.code_system_version)
        el.set("displayName", concept.display_name)
        return el

    def _name(self, parent: etree._Element, name: Name) -> None:
        el = _sub(parent, "name")
        _sub(el, "family", text=name.family)
        _sub(el, "given", text=name.given)
        if name.patronymic:
            _sub(el, "Patronymic", IDENTITY, text=name.patronymic).set(_q(XSI, "type"), "ST")

    def _addr(self, parent: etree._Element, address: Address) -> None:
        el = _sub(parent, "addr")
        _sub(el, "streetAddressLine", text=address.line)
        state = self._coded(_sub(el, "stateCode", ADDRESS), SUBJECTS_OID, address.state_code)
        state.set(_q(XSI, "type"), "CD")

    def _org(self, parent: etree._Element, tag: str, org: Organisation) -> None:
        el = _sub(parent, tag)
        _sub(el, "id", root=org.oid)
        _sub(el, "name", text=org.name)
        if org.phone:
            _sub(el, "telecom", value=f"tel:{org.phone}", use="WP")
        self._addr(el, org.address)

    def _assigned(self, parent: etree._Element, tag: str, who: Practitioner, org: Organisation) -> None:
        el = _sub(parent, tag)
        _sub(el, "id", root=f"{org.oid}.{MIS_PART}.{ID_PRACTITIONER}", extension=who.local_id)
        _sub(el, "id", root=SNILS_OID, extension=snils_digits(who.snils))
        self._coded(_sub(el, "code"), POSITIONS_OID, who.position_code)
        self._name(_sub(el, "assignedPerson"), who.name)
        self._org(el, "representedOrganization", org)

    def _value(self, parent: etree._Element, value: Value) -> None:
        el = _sub(parent, "value")
        if isinstance(value, Code):
            self._coded(el, value.system, value.code)
            el.set(_q(XSI, "type"), "CD")
        elif isinstance(value, Quantity):
            el.set(_q(XSI, "type"), "PQ")
            el.set("value", str(value.value))
            el.set("unit", value.unit)
        elif isinstance(value, Text):
            el.set(_q(XSI, "type"), "ST")
            el.text = value.text
        else:
            el.set(_q(XSI, "type"), "TS")
            el.set("value", format_ts(value.at))

    def _observation(self, parent: etree._Element, obs: Observation) -> None:
        el = _sub(parent, "observation", classCode="OBS", moodCode="EVN")
        self._coded(_sub(el, "code"), obs.code.system, obs.code.code)
        if obs.text:
            _sub(el, "text", text=obs.text)
        if obs.effective is not None:
            _sub(el, "effectiveTime", value=format_ts(obs.effective))
        if obs.value is not None:
            self._value(el, obs.value)
        self._related(el, obs.related)

    def _related(self, parent: etree._Element, related: Sequence[Observation]) -> None:
        for item in related:
            self._observation(_sub(parent, "entryRelationship", typeCode="COMP"), item)

    def _entry(self, section: etree._Element, entry: Entry) -> None:
        holder = _sub(section, "entry")
        if isinstance(entry, Observation):
            self._observation(holder, entry)
        elif isinstance(entry, Administration):
            el = _sub(holder, "substanceAdministration", classCode="SBADM", moodCode=entry.mood)
            if entry.text:
                _sub(el, "text", text=entry.text)
            period = _sub(el, "effectiveTime")
            if entry.until is None:
                period.set("value", format_ts(entry.effective))
            else:
                period.set(_q(XSI, "type"), "IVL_TS")
                _sub(period, "low", value=format_ts(entry.effective))
                _sub(period, "high", value=format_ts(entry.until))
            if entry.dose is not None:
                _sub(el, "doseQuantity", value=str(entry.dose.value), unit=entry.dose.unit)
            product = _sub(_sub(el, "consumable"), "manufacturedProduct")
            material = _sub(product, "manufacturedMaterial")
            self._coded(_sub(material, "code"), entry.material.system, entry.material.code)
            self._related(el, entry.related)
        else:
            el = _sub(holder, "act", classCode="ACT", moodCode="EVN")
            self._coded(_sub(el, "code"), entry.code.system, entry.code.code)
            if entry.effective is not None:
                _sub(el, "effectiveTime", value=format_ts(entry.effective))
            self._related(el, entry.related)

    def _narrative(self, section: etree._Element, spec: Section) -> None:
        text = _sub(section, "text")
        for paragraph in spec.paragraphs:
            _sub(text, "paragraph", text=paragraph)
        rows = [(label, shown) for entry in spec.entries for label, shown in self._lines(entry)]
        if rows:
            body = _sub(_sub(text, "table"), "tbody")
            for label, shown in rows:
                tr = _sub(body, "tr")
                _sub(tr, "td", text=label)
                _sub(tr, "td", text=shown)

    def _show(self, value: Value | None) -> str:
        if value is None:
            return ""
        if isinstance(value, Code):
            name = self._terms.display(value.system, value.code) or ""
            return f"{name} ({value.code})" if value.system == "1.2.643.5.1.13.13.11.1005" else name
        if isinstance(value, Quantity):
            return f"{value.value} {value.unit}"
        if isinstance(value, Text):
            return value.text
        return value.at.strftime("%d.%m.%Y")

    def _lines(self, entry: Entry) -> list[tuple[str, str]]:
        if isinstance(entry, Observation):
            label = self._terms.display(entry.code.system, entry.code.code) or entry.code.code
            lines = [(label, self._show(entry.value) or (entry.text or ""))]
            for rel in entry.related:
                lines.extend(self._lines(rel))
            return lines
        if isinstance(entry, Administration):
            label = self._terms.display(entry.material.system, entry.material.code) or entry.material.code
            lines = [(label, entry.effective.strftime("%d.%m.%Y") + (f"; {entry.text}" if entry.text else ""))]
            for rel in entry.related:
                lines.extend(self._lines(rel))
            return lines
        label = self._terms.display(entry.code.system, entry.code.code) or entry.code.code
        return [(label, entry.effective.strftime("%d.%m.%Y") if entry.effective else "")]

    def build(self, spec: DocumentSpec) -> bytes:
        kind = semd_type(spec.remd_code)
        org = spec.organisation
        root = etree.Element(_q(V3, "ClinicalDocument"), nsmap=NSMAP)  # type: ignore[arg-type]  # lxml-stubs forbid the default ns
        _sub(root, "realmCode", code="RU")
        _sub(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_MT000040")
        _sub(root, "templateId", root=kind.template_id)
        _sub(root, "id", root=f"{org.oid}.{MIS_PART}.{ID_DOCUMENT}", extension=spec.number)
        code = self._coded(_sub(root, "code"), DOC_KINDS_OID, kind.kind_code)
        self._coded(_sub(code, "translation"), REMD_TYPES_OID, kind.remd_code)
        _sub(root, "title", text=kind.title)
        _sub(root, "effectiveTime", value=format_ts(spec.created_at))
        self._coded(_sub(root, "confidentialityCode"), CONFIDENTIALITY_OID, spec.confidentiality)
        _sub(root, "languageCode", code="ru-RU")
        _sub(root, "setId", root=f"{org.oid}.{MIS_PART}.{ID_SET}", extension=spec.number)
        _sub(root, "versionNumber", value=str(spec.version))

        patient = spec.patient
        role = _sub(_sub(root, "recordTarget"), "patientRole")
        _sub(role, "id", root=f"{org.oid}.{MIS_PART}.{ID_PATIENT}", extension=patient.local_id)
        _sub(role, "id", root=SNILS_OID, extension=snils_digits(patient.snils))
        if patient.policy_number:
            policy = _sub(role, "InsurancePolicy", IDENTITY)
            self._coded(_sub(policy, "InsurancePolicyType", IDENTITY), POLICY_TYPES_OID, "3")
            number = _sub(policy, "Number", IDENTITY, text=patient.policy_number)
            number.set(_q(XSI, "type"), "ST")
        self._addr(role, patient.address)
        person = _sub(role, "patient")
        self._name(person, patient.name)
        self._coded(_sub(person, "administrativeGenderCode"), SEX_OID, "1" if patient.sex == "M" else "2")
        _sub(person, "birthTime", value=format_ts(patient.birth_date))
        self._org(role, "providerOrganization", org)

        author = _sub(root, "author")
        _sub(author, "time", value=format_ts(spec.created_at))
        self._assigned(author, "assignedAuthor", spec.author, org)
        custodian = _sub(_sub(root, "custodian"), "assignedCustodian")
        self._org(custodian, "representedCustodianOrganization", org)
        legal = _sub(root, "legalAuthenticator")
        _sub(legal, "time", value=format_ts(spec.created_at))
        _sub(legal, "signatureCode", code="S")
        self._assigned(legal, "assignedEntity", spec.author, org)

        body = _sub(_sub(root, "component"), "structuredBody")
        for section_spec in spec.sections:
            if section_spec.code not in kind.sections:
                raise ValueError(f"секция {section_spec.code} не предусмотрена для СЭМД {kind.remd_code}")
            section = _sub(_sub(body, "component"), "section")
            self._coded(_sub(section, "code"), SECTIONS_OID, section_spec.code)
            _sub(section, "title", text=self._terms.display(SECTIONS_OID, section_spec.code) or section_spec.code)
            self._narrative(section, section_spec)
            for entry in section_spec.entries:
                self._entry(section, entry)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# -- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodedValue:
    code: str
    code_system: str
    display_name: str | None
    code_system_name: str | None = None
    code_system_version: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedValue:
    """``kind`` is the value's ``xsi:type`` (``CD``, ``PQ``, ``ST``, ``TS``…); ``shown`` is for a reader."""

    kind: str
    shown: str
    coded: CodedValue | None = None
    quantity: Quantity | None = None
    moment: date | datetime | None = None


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    kind: str  # "observation" | "substanceAdministration" | "act"
    code: CodedValue | None  # observation / act code; a substanceAdministration's material code
    values: tuple[ParsedValue, ...] = ()
    effective: date | datetime | None = None
    until: date | datetime | None = None
    text: str | None = None
    mood: str | None = None
    related: tuple[ParsedEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedSection:
    code: str
    title: str
    narrative: str
    entries: tuple[ParsedEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedPerson:
    name: str
    snils: str | None  # "123-456-789 01"
    position: CodedValue | None = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    remd_code: str | None
    kind: CodedValue
    template_id: str | None
    document_id: str  # root/extension
    title: str
    created_at: date | datetime
    patient: ParsedPerson
    patient_birth_date: date | datetime | None
    patient_sex: CodedValue | None
    author: ParsedPerson
    organisation_oid: str | None
    organisation_name: str | None
    sections: tuple[ParsedSection, ...] = field(default=())

    def section(self, code: str) -> ParsedSection | None:
        return next((s for s in self.sections if s.code == code), None)


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def parse_xml(data: bytes) -> etree._Element:
    if not data:
        raise CdaMalformed("пустой документ")
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise CdaMalformed(f"документ не является корректным XML: {exc}") from exc
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise CdaMalformed("DOCTYPE в документе запрещён")
    if root.tag != _q(V3, "ClinicalDocument"):
        raise CdaMalformed(f"ожидался ClinicalDocument, получен {root.tag}")
    return root


def _find(el: etree._Element, path: str) -> etree._Element | None:
    return el.find(path, namespaces={"v": V3, "identity": IDENTITY, "xsi": XSI})


def _findall(el: etree._Element, path: str) -> list[etree._Element]:
    return list(el.findall(path, namespaces={"v": V3, "identity": IDENTITY}))


def _coded_of(el: etree._Element | None) -> CodedValue | None:
    if el is None or el.get("code") is None:
        return None
    return CodedValue(
        code=el.get("code") or "",
        code_system=el.get("codeSystem") or "",
        display_name=el.get("displayName"),
        code_system_name=el.get("codeSystemName"),
        code_system_version=el.get("codeSystemVersion"),
    )


def _text(el: etree._Element | None) -> str:
    return "".join(str(t) for t in el.itertext()).strip() if el is not None else ""


def _narrative_of(el: etree._Element | None) -> str:
    return " ".join(" ".join(str(t) for t in el.itertext()).split()) if el is not None else ""


def _name_of(el: etree._Element | None) -> str:
    if el is None:
        return ""
    parts = [_text(_find(el, "v:family")), _text(_find(el, "v:given")), _text(_find(el, "identity:Patronymic"))]
    return " ".join(p for p in parts if p)


def _ts_of(el: etree._Element | None) -> date | datetime | None:
    value = el.get("value") if el is not None else None
    return parse_ts(value) if value else None


def _value_of(el: etree._Element) -> ParsedValue:
    kind = (el.get(_q(XSI, "type")) or "").split(":")[-1]
    if kind in {"CD", "CE", "CV", "CO"}:
        coded = _coded_of(el)
        shown = (coded.display_name or coded.code) if coded else ""
        return ParsedValue(kind, shown, coded=coded)
    if kind == "PQ":
        try:
            quantity = Quantity(Decimal(el.get("value") or ""), el.get("unit") or "")
        except ArithmeticError as exc:
            raise CdaMalformed(f"некорректное значение величины {el.get('value')!r}") from exc
        return ParsedValue(kind, f"{quantity.value} {quantity.unit}".strip(), quantity=quantity)
    if kind == "TS":
        moment = _ts_of(el)
        return ParsedValue(kind, moment.strftime("%d.%m.%Y") if moment else "", moment=moment)
    return ParsedValue(kind or "ST", _text(el) or (el.get("value") or ""))


def _entry_of(el: etree._Element) -> ParsedEntry:
    tag = etree.QName(el).localname
    related = tuple(_entry_of(child) for child in _findall(el, "v:entryRelationship/*"))
    text = _text(_find(el, "v:text")) or None
    if tag == "substanceAdministration":
        period = _find(el, "v:effectiveTime")
        low = _find(period, "v:low") if period is not None else None
        high = _find(period, "v:high") if period is not None else None
        return ParsedEntry(
            kind=tag,
            code=_coded_of(_find(el, "v:consumable/v:manufacturedProduct/v:manufacturedMaterial/v:code")),
            effective=_ts_of(low) if low is not None else _ts_of(period),
            until=_ts_of(high),
            text=text,
            mood=el.get("moodCode"),
            related=related,
        )
    return ParsedEntry(
        kind=tag,
        code=_coded_of(_find(el, "v:code")),
        values=tuple(_value_of(v) for v in _findall(el, "v:value")),
        effective=_ts_of(_find(el, "v:effectiveTime")),
        text=text,
        mood=el.get("moodCode"),
        related=related,
    )


def _person_of(entity: etree._Element | None, person_path: str) -> ParsedPerson:
    if entity is None:
        return ParsedPerson(name="", snils=None)
    snils = next((i.get("extension") for i in _findall(entity, "v:id") if i.get("root") == SNILS_OID), None)
    return ParsedPerson(
        name=_name_of(_find(entity, person_path)),
        snils=format_snils(snils) if snils else None,
        position=_coded_of(_find(entity, "v:code")),
    )


def parse_cda(data: bytes) -> ParsedDocument:
    """Read a СЭМД into plain values; :class:`CdaMalformed` if it is not one."""
    root = parse_xml(data)
    code = _find(root, "v:code")
    kind = _coded_of(code)
    if kind is None:
        raise CdaMalformed("у документа нет кода вида документа (ClinicalDocument/code)")
    translation = (
        next((t for t in _findall(code, "v:translation") if t.get("codeSystem") == REMD_TYPES_OID), None)
        if code is not None
        else None
    )
    doc_id = _find(root, "v:id")
    created = _ts_of(_find(root, "v:effectiveTime"))
    if doc_id is None or created is None:
        raise CdaMalformed("у документа нет идентификатора или даты создания")
    role = _find(root, "v:recordTarget/v:patientRole")
    if role is None:
        raise CdaMalformed("в документе нет пациента (recordTarget)")
    patient = _person_of(role, "v:patient/v:name")
    author = _person_of(_find(root, "v:author/v:assignedAuthor"), "v:assignedPerson/v:name")
    org = _find(root, "v:custodian/v:assignedCustodian/v:representedCustodianOrganization")
    sections = []
    for section in _findall(root, "v:component/v:structuredBody/v:component/v:section"):
        section_code = _coded_of(_find(section, "v:code"))
        sections.append(
            ParsedSection(
                code=section_code.code if section_code else "",
                title=_text(_find(section, "v:title")),
                narrative=_narrative_of(_find(section, "v:text")),
                entries=tuple(_entry_of(e) for e in _findall(section, "v:entry/*")),
            )
        )
    org_id = _find(org, "v:id") if org is not None else None
    template = _find(root, "v:templateId")
    return ParsedDocument(
        remd_code=translation.get("code") if translation is not None else None,
        kind=kind,
        template_id=template.get("root") if template is not None else None,
        document_id=f"{doc_id.get('root')}/{doc_id.get('extension')}",
        title=_text(_find(root, "v:title")),
        created_at=created,
        patient=patient,
        patient_birth_date=_ts_of(_find(role, "v:patient/v:birthTime")),
        patient_sex=_coded_of(_find(role, "v:patient/v:administrativeGenderCode")),
        author=author,
        organisation_oid=org_id.get("root") if org_id is not None else None,
        organisation_name=_text(_find(org, "v:name")) if org is not None else None,
        sections=tuple(sections),
    )
