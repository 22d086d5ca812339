"""A deterministic synthetic region that the upstream simulators serve as their own data.

The shapes are in :mod:`integrations.demo_region.model`; :func:`generate_region` builds one from a
seed and a scale. The backend's database never holds this data directly: it learns it from the
upstreams (through their simulators), as it would in production.
"""

from integrations.demo_region.generator import generate_region, get_region
from integrations.demo_region.model import (
    AmbulanceStation,
    Department,
    District,
    Doctor,
    DrugRight,
    MedicalOrganisation,
    Person,
    Pharmacy,
    Region,
    RegionScale,
    Specialty,
    WorkingHours,
)

__all__ = [
    "AmbulanceStation",
    "Department",
    "District",
    "Doctor",
    "DrugRight",
    "MedicalOrganisation",
    "Person",
    "Pharmacy",
    "Region",
    "RegionScale",
    "Specialty",
    "WorkingHours",
    "generate_region",
    "get_region",
]
