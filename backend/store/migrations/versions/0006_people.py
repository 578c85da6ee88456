"""People: accounts (name = principal, argon2 password hash) and every issued token.

A token's id is its JWT `jti`; the server refuses a token whose id is not here or is
revoked. Tokens are not tied to accounts by a foreign key: service principals
(`genflow token create --sub ci`) have tokens and no account.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-15
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    # a principal's tokens, newest first; revoking them all when an account goes
    op.create_index("ix_tokens_principal_id", "tokens", ["principal", "id"])
    # pruning tokens long expired
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tokens_expires_at", "tokens")
    op.drop_index("ix_tokens_principal_id", "tokens")
    op.drop_table("tokens")
    op.drop_table("accounts")
