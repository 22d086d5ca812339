"""vaccination: register records, exemptions, import state, bookings, certificates, reminders

Revision ID: 0010_vaccination
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_vaccination"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "vaccination_records",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("vaccine", sa.String(length=32), nullable=True),
        sa.Column("nsi_code", sa.String(length=16), nullable=True),
        sa.Column("trade_name", sa.String(length=200), nullable=True),
        sa.Column("infections", JSON, nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("clinic", sa.String(length=255), nullable=True),
        sa.Column("performer", sa.String(length=255), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccination_records")),
        sa.UniqueConstraint(
            "patient_id", "source", "source_id", name=op.f("uq_vaccination_records_patient_id_source_source_id")
        ),
    )
    op.create_index("ix_vaccination_records_given_on", "vaccination_records", ["given_on"])
    op.create_table(
        "vaccination_exemptions",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("infections", JSON, nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccination_exemptions")),
        sa.UniqueConstraint(
            "patient_id", "source", "source_id", name=op.f("uq_vaccination_exemptions_patient_id_source_source_id")
        ),
    )
    op.create_table(
        "vaccination_register_states",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_vaccination_register_states")),
    )
    op.create_table(
        "vaccination_bookings",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("infection", sa.String(length=32), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_vaccination_bookings")),
    )
    op.create_index("ix_vaccination_bookings_patient_id", "vaccination_bookings", ["patient_id"])
    op.create_table(
        "vaccination_certificates",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("infections", JSON, nullable=False),
        sa.Column("entries", JSON, nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccination_certificates")),
    )
    op.create_index("ix_vaccination_certificates_patient_id", "vaccination_certificates", ["patient_id"])
    op.create_table(
        "vaccination_reminders",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("infection", sa.String(length=32), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("send_on", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccination_reminders")),
        sa.UniqueConstraint(
            "patient_id", "recipient_id", "key", name=op.f("uq_vaccination_reminders_patient_id_recipient_id_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("vaccination_reminders")
    op.drop_index("ix_vaccination_certificates_patient_id", table_name="vaccination_certificates")
    op.drop_table("vaccination_certificates")
    op.drop_index("ix_vaccination_bookings_patient_id", table_name="vaccination_bookings")
    op.drop_table("vaccination_bookings")
    op.drop_table("vaccination_register_states")
    op.drop_table("vaccination_exemptions")
    op.drop_index("ix_vaccination_records_given_on", table_name="vaccination_records")
    op.drop_table("vaccination_records")
