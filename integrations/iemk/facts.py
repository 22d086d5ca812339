"""The health facts a СЭМД carries, for the digital medical profile: read from a parsed document.

:func:`document_facts` walks the sections of :class:`~integrations.iemk.cda.ParsedDocument` and
returns what the profile gathers, each with its code and the date it is known from:

* ``blood_group`` — observation 1001 (НСИ 1.2.643.5.1.13.13.99.2.166) with a value from 1.2.643.5.1.13.13.11.1061;
* ``allergy`` — observation 12001 with an ICD-10 value (Z88.*, Z91.0 in the demo documents);
* ``diagnosis`` — observations 838 (section DGN) and 809 (DOCINFO, PRVDS) with ICD-10 values
  (1.2.643.5.1.13.13.11.1005); which are chronic is the reader's decision;
* ``medication`` — a prescribed ``substanceAdministration`` (mood ``RQO``), material from 1.2.643.5.1.13.13.99.2.611;
* ``disability`` / ``benefit`` — observation 811 (BENEFITS) with a category from 1.2.643.5.1.13.13.99.2.541
  (082 and 083 are disability groups II and III);
* ``vital`` — section VITALPARAM, codes from 1.2.643.5.1.13.13.99.2.262 with quantities;
* ``vaccination`` — a given ``substanceAdministration`` in section IMM (vaccine from 1.2.643.5.1.13.13.11.1078,
  the series from observation 8009).

The codes of 99.2.166 are this project's choice where the schematrons do not fix them (the names in the
НСИ snapshot say so); a document from another MIS may carry the same facts under other codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from integrations.iemk.cda import CodedValue, ParsedDocument, ParsedEntry, Quantity

FIELDS_OID = "1.2.643.5.1.13.13.99.2.166"
VITALS_OID = "1.2.643.5.1.13.13.99.2.262"
DISABILITY_CODES = frozenset({"081", "082", "083"})


@dataclass(frozen=True, slots=True)
class HealthFact:
    kind: str  # blood_group | allergy | diagnosis | medication | disability | benefit | vital | vaccination
    code: CodedValue | None
    shown: str  # for a reader, in Russian
    known_at: date | datetime  # the entry's own time, else the document's
    quantity: Quantity | None = None
    until: date | datetime | None = None
    detail: str | None = None  # a vaccine's series, a prescription's dosage
    label: str | None = None  # a vital's name


def _field(entry: ParsedEntry) -> str | None:
    return entry.code.code if entry.code is not None and entry.code.code_system == FIELDS_OID else None


def _coded_fact(kind: str, entry: ParsedEntry, when: date | datetime) -> HealthFact | None:
    value = next((v for v in entry.values if v.coded is not None), None)
    if value is None:
        return None
    return HealthFact(kind, value.coded, value.shown, entry.effective or when)


def _observation_fact(  # noqa: PLR0911 - one fact kind per field
    section: str, entry: ParsedEntry, when: date | datetime
) -> HealthFact | None:
    field = _field(entry)
    if field == "1001":
        return _coded_fact("blood_group", entry, when)
    if field == "12001":
        return _coded_fact("allergy", entry, when)
    if field == "838" or (field == "809" and section in {"DOCINFO", "PRVDS"}):
        return _coded_fact("diagnosis", entry, when)
    if field == "811":
        fact = _coded_fact("benefit", entry, when)
        if fact is not None and fact.code is not None and fact.code.code in DISABILITY_CODES:
            return HealthFact("disability", fact.code, fact.shown, fact.known_at)
        return fact
    if section == "VITALPARAM" and entry.code is not None and entry.code.code_system == VITALS_OID:
        value = next((v for v in entry.values if v.quantity is not None), None)
        if value is not None:
            return HealthFact(
                "vital",
                entry.code,
                value.shown,
                entry.effective or when,
                quantity=value.quantity,
                label=entry.code.display_name,
            )
    return None


def document_facts(doc: ParsedDocument) -> list[HealthFact]:
    """The profile facts of one document, in document order (duplicates of a diagnosis removed)."""
    facts: list[HealthFact] = []
    seen_diagnoses: set[str] = set()
    for section in doc.sections:
        for entry in section.entries:
            if entry.kind == "substanceAdministration" and entry.code is not None:
                series = next((r.values[0].shown for r in entry.related if r.values), None)
                if section.code == "IMM" and entry.mood in {None, "EVN"}:
                    facts.append(
                        HealthFact(
                            "vaccination",
                            entry.code,
                            entry.code.display_name or entry.code.code,
                            entry.effective or doc.created_at,
                            detail=series,
                        )
                    )
                elif entry.mood == "RQO":
                    facts.append(
                        HealthFact(
                            "medication",
                            entry.code,
                            entry.code.display_name or entry.code.code,
                            entry.effective or doc.created_at,
                            until=entry.until,
                            detail=entry.text,
                        )
                    )
                continue
            if entry.kind != "observation":
                continue
            fact = _observation_fact(section.code, entry, doc.created_at)
            if fact is None:
                continue
            if fact.kind == "diagnosis" and fact.code is not None:
                if fact.code.code in seen_diagnoses:
                    continue
                seen_diagnoses.add(fact.code.code)
            facts.append(fact)
    return facts
