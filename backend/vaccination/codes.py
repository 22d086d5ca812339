"""Codes from upstream systems read as the calendar's own: vaccines of НСИ 1.2.643.5.1.13.13.11.1078 (as
the СЭМД 170 and the immunization register carry them) and ICD-10 target diseases (the register's
``targetDisease``).

The 1078 codes are those of this project's НСИ subset (``integrations/nsi/snapshot``, marked unconfirmed
there); the calendar's own ``nsi_code`` stays ``null`` until the real codes are checked, so the mapping
lives here, next to the reader, not in the versioned calendar.
"""

from __future__ import annotations

#: НСИ 1078 code → the calendar's vaccine code.
NSI_VACCINES: dict[str, str] = {
    "101": "bcg_m",
    "102": "hepb",
    "103": "dtp",
    "104": "mmr",
    "105": "pcv",
    "106": "influenza",
    "107": "covid19",
    "108": "dt_m",
    "109": "ipv",
    "110": "hib",
}
#: ICD-10 (first three characters) → the calendar's infection code.
ICD10_INFECTIONS: dict[str, str] = {
    "A15": "tuberculosis",
    "A35": "tetanus",
    "A36": "diphtheria",
    "A37": "pertussis",
    "A80": "poliomyelitis",
    "B05": "measles",
    "B06": "rubella",
    "B26": "mumps",
    "B16": "hepatitis_b",
    "B15": "hepatitis_a",
    "J10": "influenza",
    "A84": "tick_borne_encephalitis",
    "A39": "meningococcal",
    "B01": "varicella",
    "U07": "covid19",
    "J13": "pneumococcal",
    "A41": "hib",
}


def calendar_vaccine(nsi_code: str | None) -> str | None:
    return NSI_VACCINES.get(nsi_code or "")


def nsi_code_of(vaccine: str) -> str | None:
    """The НСИ 1078 code of a calendar vaccine (None when the subset has none)."""
    return next((nsi for nsi, code in NSI_VACCINES.items() if code == vaccine), None)


def infections_of_icd10(codes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    found = [ICD10_INFECTIONS.get(code[:3].upper()) for code in codes]
    return tuple(dict.fromkeys(f for f in found if f is not None))
