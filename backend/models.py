"""Every domain's models, imported so that ``Base.metadata`` is complete (Alembic, drift test)."""

from backend.audit.models import AuditEvent
from backend.core.db import Base
from backend.outbox.models import OutboxMessage

__all__ = ["AuditEvent", "Base", "OutboxMessage"]
