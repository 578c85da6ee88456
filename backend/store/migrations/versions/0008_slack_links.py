"""Slack users linked to accounts (`genflow user link-slack NAME TEAM USER`).

A Slack user acts as the principal `slack:<team>:<user>`; linked to an account, they act
as that account, so the person sees the same jobs on the web and in Slack. A Slack user
links to one account; an account may have several Slack users (workspaces).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_links",
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_links_account", "slack_links", ["account"])


def downgrade() -> None:
    op.drop_index("ix_slack_links_account", "slack_links")
    op.drop_table("slack_links")
