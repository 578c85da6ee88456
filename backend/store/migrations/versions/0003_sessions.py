"""Sessions: an article made in stages, and its frames (the session's own event log).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("current_step", sa.String(200)),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("last_message", sa.Text),
        sa.Column("active_job_id", sa.String(40)),
        sa.Column("active_action", sa.String(100)),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    # list_sessions: an owner's sessions, newest (largest id) first
    op.create_index("ix_sessions_owner_id", "sessions", ["owner", "id"])
    # expired_sessions: the sweep of sessions past their expiry
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "session_frames",
        sa.Column(
            "session_id",
            sa.String(64),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("event_id", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("session_frames")
    op.drop_index("ix_sessions_expires_at", "sessions")
    op.drop_index("ix_sessions_owner_id", "sessions")
    op.drop_table("sessions")
