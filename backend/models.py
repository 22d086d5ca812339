"""Every domain's models, imported so that ``Base.metadata`` is complete (Alembic, drift test)."""

import backend.ambulance.models
import backend.attachment.models
import backend.booking.models
import backend.call_record.models
import backend.directory.models  # noqa: F401, RUF100 - the directory's tables
import backend.dispanserization.models
import backend.documents.models  # noqa: F401, RUF100 - medical documents and the profile
import backend.drugs.models  # noqa: F401, RUF100 - prescriptions seen, requests, the event cursor
import backend.home_visits.models
import backend.identity.models
import backend.insurance.models
import backend.scheduling_links.models
import backend.surveys.models
import backend.vaccination.models
import backend.vault.models
import backend.waitlist.models  # noqa: F401 - the waitlist and its offers
import notifications.models  # noqa: F401 - the notifications domain's tables
from backend.audit.models import AuditEvent
from backend.core.db import Base
from backend.outbox.models import OutboxMessage

__all__ = ["AuditEvent", "Base", "OutboxMessage"]
