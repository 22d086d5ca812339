"""call record: the 122 call centre's calls

Revision ID: 0016_call_record
Revises: 0015_booking_waitlist
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_call_record"
down_revision: str | None = "0015_booking_waitlist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_OPEN = sa.text("closed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("caller_phone", sa.String(length=32), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("open_key", sa.String(length=128), nullable=False),
        sa.Column("close_key", sa.String(length=128), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index(
        "uq_calls_open_operator", "calls", ["operator_id"], unique=True, postgresql_where=_OPEN, sqlite_where=_OPEN
    )
    op.create_index("uq_calls_operator_open_key", "calls", ["operator_id", "open_key"], unique=True)
    op.create_index("ix_calls_opened_at", "calls", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_opened_at", table_name="calls")
    op.drop_index("uq_calls_operator_open_key", table_name="calls")
    op.drop_index("uq_calls_open_operator", table_name="calls")
    op.drop_table("calls")
