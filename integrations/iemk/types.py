"""The СЭМД families this project writes and reads: REMD type (1.2.643.5.1.13.13.11.1520), kind of
medical documentation (1.2.643.5.1.13.13.11.1522), templateId and the sections each may carry.

templateId roots and kind codes are the ones the schematrons of 1CMedicine/semd_validator
(``data/<N>.sch``) require; section codes are from 1.2.643.5.1.13.13.11.1379 as used there. Each family
has its compact XSD in ``xsd/semd-<REMD type>.xsd`` (see ``xsd/semd-common.xsd``).
"""

from __future__ import annotations

from dataclasses import dataclass

REMD_TYPES_OID = "1.2.643.5.1.13.13.11.1520"
DOC_KINDS_OID = "1.2.643.5.1.13.13.11.1522"
SECTIONS_OID = "1.2.643.5.1.13.13.11.1379"


@dataclass(frozen=True, slots=True)
class SemdType:
    remd_code: str  # REMD type number (НСИ 1520), e.g. "119"
    kind_code: str  # kind of medical documentation (НСИ 1522), ClinicalDocument/code/@code
    template_id: str  # ClinicalDocument/templateId/@root
    title: str  # ClinicalDocument/title as a patient reads it
    sections: tuple[str, ...]  # section codes (НСИ 1379) the family may carry, in document order
    signatures: tuple[str, ...] = ("doctor", "organization")

    @property
    def xsd_name(self) -> str:
        return f"semd-{self.remd_code}.xsd"


SEMD_TYPES: dict[str, SemdType] = {
    t.remd_code: t
    for t in (
        SemdType(
            "119",
            "85",
            "1.2.643.5.1.13.13.14.85.9.4",
            "Протокол консультации",
            ("DOCINFO", "ANAM", "LANAM", "VITALPARAM", "RESCONS", "DGN", "SERVICES"),
        ),
        SemdType(
            "174",
            "6",
            "1.2.643.5.1.13.13.14.6.9.4",
            "Протокол инструментального исследования",
            ("DOCINFO", "SERVICES", "RESINSTR", "RESINFO"),
        ),
        SemdType(
            "122",
            "141",
            "1.2.643.5.1.13.13.14.141.9.2",
            "Сведения о результатах диспансеризации или профилактического медицинского осмотра",
            ("MEDEXAMINFO", "VITALPARAM", "LANAM", "DGN", "RISKFACTOR", "RESINFO"),
        ),
        SemdType(
            "170",
            "53",
            "1.2.643.5.1.13.13.14.53.9.2",
            "Сертификат о профилактических прививках",
            ("IMM",),
        ),
        SemdType(
            "141",
            "37",
            "1.2.643.5.1.13.13.14.37.9.4",
            "Льготный рецепт на лекарственный препарат",
            ("DOCINFO", "BENEFITS", "RECIPE"),
        ),
        SemdType(
            "166",
            "39",
            "1.2.643.5.1.13.13.14.39.9.2",
            "Медицинская справка (врачебное профессионально-консультативное заключение)",
            ("DOCINFO", "WORK", "PRVDS", "RESINFO"),
        ),
    )
}


def semd_type(remd_code: str) -> SemdType:
    try:
        return SEMD_TYPES[remd_code]
    except KeyError:
        raise KeyError(f"тип СЭМД {remd_code} не поддерживается") from None
