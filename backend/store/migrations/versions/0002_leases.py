"""Leases: the runner that owns a running job, and until when (scale-out, issue 8).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    # unowned_jobs: running jobs whose lease expired, pending jobs left alone
    op.create_index("ix_jobs_status_lease", "jobs", ["status", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_lease", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
