"""The drugs domain's service API: entitlement, prescriptions and deferred service, pharmacy availability,
requests without a visit (renewals, certificates), and the jobs that keep them in step."""

from backend.drugs.service.availability import LIMIT, Availability, PharmacyView, availability, check_point, pharmacies
from backend.drugs.service.base import OPEN, today
from backend.drugs.service.entitlement import NSU_LAW, CategoryView, Entitlement, NsuView, entitlement, nsu_deadline
from backend.drugs.service.prescriptions import (
    FeedReport,
    PrescriptionList,
    defer,
    get_prescription,
    list_prescriptions,
    remind_expiring,
    sync_events,
)
from backend.drugs.service.requests import (
    CATALOGUE,
    TITLES,
    CatalogueItem,
    RequestsReport,
    apply_request,
    request_certificate,
    request_renewal,
    requests_by_channel,
    requests_of,
    sync_requests,
)

__all__ = [
    "CATALOGUE",
    "LIMIT",
    "NSU_LAW",
    "OPEN",
    "TITLES",
    "Availability",
    "CatalogueItem",
    "CategoryView",
    "Entitlement",
    "FeedReport",
    "NsuView",
    "PharmacyView",
    "PrescriptionList",
    "RequestsReport",
    "apply_request",
    "availability",
    "check_point",
    "defer",
    "entitlement",
    "get_prescription",
    "list_prescriptions",
    "nsu_deadline",
    "pharmacies",
    "remind_expiring",
    "request_certificate",
    "request_renewal",
    "requests_by_channel",
    "requests_of",
    "sync_events",
    "sync_requests",
    "today",
]
