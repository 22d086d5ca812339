"""documents: medical documents, sync state, profile entries, emergency profile, access grants; staff SNILS

Revision ID: 0010
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "medical_documents",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("registry_number", sa.String(length=64), nullable=False),
        sa.Column("local_uid", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("org_oid", sa.String(length=128), nullable=False),
        sa.Column("org_name", sa.String(length=255), nullable=True),
        sa.Column("author_name", sa.String(length=255), nullable=True),
        sa.Column("author_position", sa.String(length=255), nullable=True),
        sa.Column("registered_at", TS, nullable=True),
        sa.Column("synced_at", TS, nullable=False),
        sa.Column("content_status", sa.String(length=16), nullable=False),
        sa.Column("content_error", sa.Text(), nullable=True),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_documents")),
        sa.UniqueConstraint(
            "patient_id", "registry_number", name=op.f("uq_medical_documents_patient_id_registry_number")
        ),
    )
    op.create_index(
        "ix_medical_documents_patient_id_created_at", "medical_documents", ["patient_id", "created_at"], unique=False
    )
    op.create_table(
        "document_sync_states",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("synced_at", TS, nullable=True),
        sa.Column("attempted_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_document_sync_states")),
    )
    op.create_table(
        "profile_entries",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("removed_at", TS, nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_entries")),
        sa.UniqueConstraint(
            "patient_id", "idempotency_key", name=op.f("uq_profile_entries_patient_id_idempotency_key")
        ),
    )
    op.create_index("ix_profile_entries_patient_id", "profile_entries", ["patient_id"], unique=False)
    op.create_table(
        "emergency_profile_settings",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("share_allergies", sa.Boolean(), nullable=False),
        sa.Column("share_conditions", sa.Boolean(), nullable=False),
        sa.Column("share_blood_group", sa.Boolean(), nullable=False),
        sa.Column("contact_name", sa.String(length=255), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_emergency_profile_settings")),
    )
    op.create_table(
        "document_access_grants",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_snils", sa.String(length=14), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("doctor_staff_id", sa.String(length=64), nullable=True),
        sa.Column("include_profile", sa.Boolean(), nullable=False),
        sa.Column("document_ids", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_access_grants")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_document_access_grants_code_hash")),
        sa.UniqueConstraint(
            "patient_id", "idempotency_key", name=op.f("uq_document_access_grants_patient_id_idempotency_key")
        ),
    )
    op.create_index("ix_document_access_grants_patient_id", "document_access_grants", ["patient_id"], unique=False)
    op.create_index("ix_document_access_grants_doctor_snils", "document_access_grants", ["doctor_snils"], unique=False)
    op.create_index(
        "ix_document_access_grants_doctor_staff_id", "document_access_grants", ["doctor_staff_id"], unique=False
    )
    with op.batch_alter_table("staff_accounts") as batch:
        batch.add_column(sa.Column("snils", sa.String(length=14), nullable=True))
        batch.create_unique_constraint(batch.f("uq_staff_accounts_snils"), ["snils"])


def downgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_constraint(batch.f("uq_staff_accounts_snils"), type_="unique")
        batch.drop_column("snils")
    op.drop_index("ix_document_access_grants_doctor_staff_id", table_name="document_access_grants")
    op.drop_index("ix_document_access_grants_doctor_snils", table_name="document_access_grants")
    op.drop_index("ix_document_access_grants_patient_id", table_name="document_access_grants")
    op.drop_table("document_access_grants")
    op.drop_table("emergency_profile_settings")
    op.drop_index("ix_profile_entries_patient_id", table_name="profile_entries")
    op.drop_table("profile_entries")
    op.drop_table("document_sync_states")
    op.drop_index("ix_medical_documents_patient_id_created_at", table_name="medical_documents")
    op.drop_table("medical_documents")
