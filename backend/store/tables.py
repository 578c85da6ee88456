"""SQLAlchemy table definitions (portable: SQLite and PostgreSQL).

The Alembic migrations in migrations/versions describe the same schema; a test checks
that a migrated database matches these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("flow", String(100), nullable=False),
    Column("status", String(32), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("input", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("current_node", String(200)),
    Column("result", JSON),
    Column("error", JSON),
    Column("session_id", String(64)),
    Column("workflow_id", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("shared", JSON, nullable=False),
    Column("next_node", String(200)),
    Column("runtime", JSON, nullable=False),
    Column("review_id", String(40)),
    # The runner's lease (migration 0002): who runs the job, and until when unless renewed.
    Column("lease_owner", String(200)),
    Column("lease_expires_at", DateTime(timezone=True)),
    # Per-job review terms (migration 0007): assignees of every review, a deadline.
    Column("reviewers", JSON),
    Column("review_timeout", Float),
    Column("on_timeout", String(64)),
    Index("ix_jobs_owner_id", "owner", "id"),
    Index("ix_jobs_status", "status"),
    Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    Index("ix_jobs_workflow_id", "workflow_id", "id"),  # migration 0004: executions
)

events = Table(
    "events",
    metadata,
    Column("job_id", String(40), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String(40), nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("progress", Integer, nullable=False),
    Column("data", JSON, nullable=False),
)

reviews = Table(
    "reviews",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("job_id", String(40), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("node", String(200), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decision", String(64)),
    Column("comment", Text),
    Column("decided_by", String(200)),
    Column("decided_via", String(20)),
    Column("decided_at", DateTime(timezone=True)),
    # Assignees, edits and deadlines (migration 0007). `due_at` is the review's next
    # pending timer (the reminder, then the deadline); NULL once nothing is pending, so
    # the sweep's index holds only reviews it still has to look at.
    Column("assignees", JSON),
    Column("editable", JSON),
    Column("deadline", DateTime(timezone=True)),
    Column("on_timeout", String(64)),
    Column("remind_at", DateTime(timezone=True)),
    Column("reminded_at", DateTime(timezone=True)),
    Column("due_at", DateTime(timezone=True)),
    Column("edits", JSON),
    Column("diff", JSON),
    Index("ix_reviews_job", "job_id"),
    Index("ix_reviews_due_at", "due_at"),
)

# Who besides the owner may see a job (migration 0007): its reviewers and the assignees
# of its reviews; `GET /api/jobs?assigned=me` reads it by principal.
job_assignees = Table(
    "job_assignees",
    metadata,
    Column("job_id", String(40), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("principal", String(200), primary_key=True),
    Index("ix_job_assignees_principal", "principal", "job_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("job_id", String(40), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("mime", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_artifacts_job", "job_id"),
)

batch_items = Table(
    "batch_items",
    metadata,
    Column("job_id", String(40), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(240), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("result", JSON),
)

# Sessions (migration 0003): an article made in stages, and its own event log (frames).
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # as long as jobs.session_id
    Column("owner", String(200), nullable=False),
    Column("article_id", String(200), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("current_step", String(200)),
    Column("context", JSON, nullable=False),
    Column("document", JSON, nullable=False),
    Column("last_message", Text),
    Column("active_job_id", String(40)),
    Column("active_action", String(100)),
    Column("last_event_id", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_sessions_owner_id", "owner", "id"),
    Index("ix_sessions_expires_at", "expires_at"),
)

session_frames = Table(
    "session_frames",
    metadata,
    Column(
        "session_id",
        String(64),
        ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("event_id", Integer, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
)

# Pilot workflows (migration 0004): a person's workflow specs, and every version of each.
workflows = Table(
    "workflows",
    metadata,
    Column("id", String(64), primary_key=True),  # as long as jobs.workflow_id
    Column("owner", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("validation", JSON, nullable=False),
    Column("source", String(16), nullable=False),  # hand, model, repaired, template
    Column("generation", JSON),  # how a generated one was made: intent, rounds, placeholders
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_workflows_owner_id", "owner", "id"),
)

workflow_versions = Table(
    "workflow_versions",
    metadata,
    Column(
        "workflow_id",
        String(64),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Knowledge bases (migration 0005): documents cut into chunks. The full-text index over
# the chunks differs by database (FTS5, or a GIN index over a tsvector), so only the
# migration makes it; backend/store/fulltext.py names those objects.
knowledge_bases = Table(
    "knowledge_bases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("document_count", Integer, nullable=False, default=0),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("size", BigInteger, nullable=False, default=0),
    UniqueConstraint("owner", "name", name="uq_knowledge_bases_owner_name"),
)

knowledge_documents = Table(
    "knowledge_documents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "base_id",
        String(40),
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("mime", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("base_id", "name", name="uq_knowledge_documents_base_name"),
)

knowledge_chunks = Table(
    "knowledge_chunks",
    metadata,
    # An integer key: SQLite's FTS5 index refers to chunks by rowid.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "base_id",
        String(40),
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "document_id",
        String(40),
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("idx", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("source", String(500), nullable=False),
    Index("ix_knowledge_chunks_base", "base_id"),
    Index("ix_knowledge_chunks_document", "document_id", "idx"),
)

# People (migration 0006): accounts, whose name is their principal, and every token issued
# (its `jti` is the id), so that any token can be listed and revoked.
accounts = Table(
    "accounts",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("admin", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("principal", String(200), nullable=False),
    Column("admin", Boolean, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_tokens_principal_id", "principal", "id"),
    Index("ix_tokens_expires_at", "expires_at"),
)

# Slack users linked to accounts (migration 0008): `slack:T:U` acts as `account`.
slack_links = Table(
    "slack_links",
    metadata,
    Column("principal", String(200), primary_key=True),
    Column("account", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_slack_links_account", "account"),
)
