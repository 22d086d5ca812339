"""drugs: prescriptions seen, renewal and certificate requests, the event feed cursor

Revision ID: 0013_drugs
Revises: 0009 (0009_vault.py)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_drugs"
down_revision: str | None = "0012_insurance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drug_prescriptions",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column("mnn", sa.String(length=255), nullable=False),
        sa.Column("dosage", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("dispensed_quantity", sa.Integer(), nullable=False),
        sa.Column("preferential", sa.Boolean(), nullable=False),
        sa.Column("benefit_code", sa.String(length=16), nullable=True),
        sa.Column("financing", sa.String(length=16), nullable=False),
        sa.Column("chronic", sa.Boolean(), nullable=False),
        sa.Column("narcotic_schedule", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("doctor_name", sa.String(length=255), nullable=True),
        sa.Column("mo_name", sa.String(length=512), nullable=True),
        sa.Column("dosing", sa.Text(), nullable=True),
        sa.Column("semd_kind", sa.String(length=8), nullable=False),
        sa.Column("semd_registry_number", sa.String(length=64), nullable=True),
        sa.Column("dispensing_semd", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("deferred_pharmacy_id", sa.String(length=64), nullable=True),
        sa.Column("deferred_on", sa.Date(), nullable=True),
        sa.Column("deferred_due", sa.Date(), nullable=True),
        sa.Column("arrived_on", sa.Date(), nullable=True),
        sa.Column("expiry_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_prescriptions")),
    )
    with op.batch_alter_table("drug_prescriptions", schema=None) as batch_op:
        batch_op.create_index("ix_drug_prescriptions_patient_id", ["patient_id"], unique=False)
        batch_op.create_index("ix_drug_prescriptions_valid_until", ["valid_until"], unique=False)
        batch_op.create_index("uq_drug_prescriptions_upstream_id", ["upstream_id"], unique=True)

    op.create_table(
        "drug_requests",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("upstream_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("certificate_kind", sa.String(length=32), nullable=True),
        sa.Column("prescription_upstream_id", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("tax_year", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("doctor_name", sa.String(length=255), nullable=True),
        sa.Column("result_prescription_id", sa.String(length=64), nullable=True),
        sa.Column("result_registry_number", sa.String(length=64), nullable=True),
        sa.Column("result_document_id", sa.Uuid(), nullable=True),
        sa.Column("history", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_requests")),
    )
    with op.batch_alter_table("drug_requests", schema=None) as batch_op:
        batch_op.create_index("ix_drug_requests_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_drug_requests_patient_id", ["patient_id"], unique=False)
        batch_op.create_index("uq_drug_requests_upstream_id", ["upstream_id"], unique=True)

    op.create_table(
        "drug_sync_state",
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_drug_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("drug_sync_state")
    with op.batch_alter_table("drug_requests", schema=None) as batch_op:
        batch_op.drop_index("uq_drug_requests_upstream_id")
        batch_op.drop_index("ix_drug_requests_patient_id")
        batch_op.drop_index("ix_drug_requests_created_at")

    op.drop_table("drug_requests")
    with op.batch_alter_table("drug_prescriptions", schema=None) as batch_op:
        batch_op.drop_index("uq_drug_prescriptions_upstream_id")
        batch_op.drop_index("ix_drug_prescriptions_valid_until")
        batch_op.drop_index("ix_drug_prescriptions_patient_id")

    op.drop_table("drug_prescriptions")
