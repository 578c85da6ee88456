"""Pilot workflows: a person's workflow specs, every version kept, and executions by workflow.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("validation", sa.JSON, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("generation", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # list_workflows: an owner's workflows, newest (largest id) first
    op.create_index("ix_workflows_owner_id", "workflows", ["owner", "id"])
    op.create_table(
        "workflow_versions",
        sa.Column(
            "workflow_id",
            sa.String(64),
            sa.ForeignKey("workflows.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # executions: a workflow's jobs, newest first
    op.create_index("ix_jobs_workflow_id", "jobs", ["workflow_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_workflow_id", "jobs")
    op.drop_table("workflow_versions")
    op.drop_index("ix_workflows_owner_id", "workflows")
    op.drop_table("workflows")
