"""The preferential-drugs demo: who to log in as and what to try. The ЛЛО simulator's world is derived from the
region alone (the beneficiaries and the prescriptions their doctors wrote, in the region's order), so a
simulator built here shows the same prescription ids, series, numbers and barcodes as the server's."""

from __future__ import annotations

from typing import Any

from integrations.demo_region.model import Region
from integrations.llo.simulator import create_llo_simulator, simulator_state


def drugs_demo(region: Region) -> dict[str, Any]:
    state = simulator_state(create_llo_simulator(region))
    diabetic = next((p for p in region.people if any(r.code == "R01" for r in p.drug_rights)), None)
    if diabetic is None:
        return {"note": "this region has no beneficiary with diabetes"}
    found = state.prescriptions_of(diabetic.snils)
    metformin = next(p for p in found if p.drug.mnn == "Метформин")
    preferential = [p for p in state.pharmacies.values() if p.preferential]
    return {
        "beneficiary": {
            "name": diabetic.full_name,
            "esia_oid": diabetic.esia_oid,
            "snils": diabetic.snils,
            "oms_policy": diabetic.oms_policy,
            "birth_date": diabetic.birth_date.isoformat(),
            "categories": [f"{r.code} {r.name}" for r in diabetic.drug_rights],
        },
        "metformin_prescription": {
            "upstream_id": metformin.id,
            "series_number": f"{metformin.series} № {metformin.number}",
            "barcode": metformin.barcode,
            "drug": f"{metformin.drug.mnn} {metformin.drug.dosage}, {metformin.quantity} таб.",
            "issued": "a week before the server started (its clock)",
            "valid_days": metformin.valid_days,
            "benefit": metformin.benefit_code,
        },
        "other_prescriptions": [
            f"{p.drug.mnn} {p.drug.dosage} ({p.status.label_ru})" for p in found if p is not metformin
        ],
        "pharmacies_taking_deferral": [f"{p.id} {p.name}, {p.address}" for p in preferential],
        "try": (
            "Log in through the ESIA simulator as the beneficiary. myDrugEntitlement (categories, the НСУ deadline); "
            "myPrescriptions (metformin 1000 мг is out of stock everywhere); pharmacyAvailability on it → "
            "deferralOptions; deferPrescription at one of them: the demo restocks it two minutes later and the "
            "drugs job (every minute) sends «Лекарство поступило в аптеку». requestPrescriptionRenewal on metformin "
            "and requestCertificate (certificateCatalogue) are answered by the clinic within a minute: myDrugRequests, "
            "the certificate in myDocuments and myVault. A 122 operator (on-behalf session) runs pharmacyAvailability "
            "and deferPrescription for the caller; a kiosk prints GET /api/v1/drugs/prescriptions/{id}.pdf."
        ),
    }
