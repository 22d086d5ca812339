"""identity: patients, staff, kiosks, proxy grants, our OAuth codes and refresh-token families

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosk_devices",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("medical_organisation_ref", sa.String(length=64), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_devices")),
        sa.UniqueConstraint("client_id", name=op.f("uq_kiosk_devices_client_id")),
    )
    op.create_table(
        "patients",
        sa.Column("esia_oid", sa.String(length=32), nullable=True),
        sa.Column("last_name", sa.String(length=128), nullable=False),
        sa.Column("first_name", sa.String(length=128), nullable=False),
        sa.Column("middle_name", sa.String(length=128), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("snils", sa.String(length=14), nullable=True),
        sa.Column("oms_policy", sa.String(length=16), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("esia_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("esia_oid", name=op.f("uq_patients_esia_oid")),
        sa.UniqueConstraint("oms_policy", name=op.f("uq_patients_oms_policy")),
        sa.UniqueConstraint("snils", name=op.f("uq_patients_snils")),
    )
    op.create_index("ix_patients_birth_date", "patients", ["birth_date"], unique=False)
    op.create_table(
        "staff_accounts",
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_totp_step", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_staff_accounts_login")),
    )
    op.create_table(
        "used_client_assertions",
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_used_client_assertions")),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("esia_session_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_timeout_s", sa.Integer(), nullable=True),
        sa.Column("elevated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_auth_sessions_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index("ix_auth_sessions_patient_id", "auth_sessions", ["patient_id"], unique=False)
    op.create_table(
        "proxy_grants",
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("proxy_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["patients.id"], name=op.f("fk_proxy_grants_principal_id_patients")),
        sa.ForeignKeyConstraint(["proxy_id"], ["patients.id"], name=op.f("fk_proxy_grants_proxy_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_grants")),
    )
    op.create_index("ix_proxy_grants_principal_id", "proxy_grants", ["principal_id"], unique=False)
    op.create_index("ix_proxy_grants_proxy_principal", "proxy_grants", ["proxy_id", "principal_id"], unique=False)
    op.create_table(
        "verification_codes",
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_verification_codes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
    )
    op.create_index("ix_verification_codes_target_id", "verification_codes", ["target_id"], unique=False)
    op.create_table(
        "oauth_logins",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=512), nullable=False),
        sa.Column("app_state", sa.String(length=512), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("esia_state", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("esia_session_id", sa.String(length=64), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_oauth_logins_patient_id_patients")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["auth_sessions.id"], name=op.f("fk_oauth_logins_session_id_auth_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_logins")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_logins_code_hash")),
        sa.UniqueConstraint("esia_state", name=op.f("uq_oauth_logins_esia_state")),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["auth_sessions.id"], name=op.f("fk_refresh_tokens_session_id_auth_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index("ix_refresh_tokens_session_id", "refresh_tokens", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_session_id", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_table("oauth_logins")
    op.drop_index("ix_verification_codes_target_id", table_name="verification_codes")
    op.drop_table("verification_codes")
    op.drop_index("ix_proxy_grants_proxy_principal", table_name="proxy_grants")
    op.drop_index("ix_proxy_grants_principal_id", table_name="proxy_grants")
    op.drop_table("proxy_grants")
    op.drop_index("ix_auth_sessions_patient_id", table_name="auth_sessions")
    op.drop_table("auth_sessions")
    op.drop_table("used_client_assertions")
    op.drop_table("staff_accounts")
    op.drop_index("ix_patients_birth_date", table_name="patients")
    op.drop_table("patients")
    op.drop_table("kiosk_devices")
