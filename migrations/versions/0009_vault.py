"""vault: files, shares, idempotency keys

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "vault_files",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("folder", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document_date", sa.Date(), nullable=True),
        sa.Column("clinic", sa.String(length=200), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("blob_key", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_files")),
        sa.UniqueConstraint("blob_key", name=op.f("uq_vault_files_blob_key")),
    )
    op.create_index("ix_vault_files_patient_folder", "vault_files", ["patient_id", "folder"])
    op.create_index("ix_vault_files_deleted_at", "vault_files", ["deleted_at"])
    op.create_table(
        "vault_shares",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("file_ids", JSON, nullable=False),
        sa.Column("folders", JSON, nullable=False),
        sa.Column("recipient_snils", sa.String(length=14), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_shares")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_vault_shares_code_hash")),
    )
    op.create_index("ix_vault_shares_patient", "vault_shares", ["patient_id"])
    op.create_index("ix_vault_shares_recipient_snils", "vault_shares", ["recipient_snils"])
    op.create_index("ix_vault_shares_expires_at", "vault_shares", ["expires_at"])
    op.create_table(
        "vault_idempotency",
        sa.Column("actor_key", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_idempotency")),
        sa.UniqueConstraint("actor_key", "operation", "key", name=op.f("uq_vault_idempotency_actor_key_operation_key")),
    )


def downgrade() -> None:
    op.drop_table("vault_idempotency")
    op.drop_index("ix_vault_shares_expires_at", table_name="vault_shares")
    op.drop_index("ix_vault_shares_recipient_snils", table_name="vault_shares")
    op.drop_index("ix_vault_shares_patient", table_name="vault_shares")
    op.drop_table("vault_shares")
    op.drop_index("ix_vault_files_deleted_at", table_name="vault_files")
    op.drop_index("ix_vault_files_patient_folder", table_name="vault_files")
    op.drop_table("vault_files")
