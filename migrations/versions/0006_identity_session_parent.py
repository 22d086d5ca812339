"""identity: an on-behalf session names the staff session it was opened from

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_session_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_auth_sessions_parent_session_id_auth_sessions"),
            "auth_sessions",
            ["parent_session_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_auth_sessions_parent_session_id_auth_sessions"), type_="foreignkey")
        batch_op.drop_column("parent_session_id")
