"""Knowledge bases: a person's documents, cut into chunks, and a full-text index of them.

The index differs by database and is made here only, not in tables.py (the portable
schema): on SQLite an FTS5 table over the chunks' text, kept current by triggers; on
PostgreSQL a GIN index over `to_tsvector('english', text)`. `backend.store.fulltext`
names both, and the test that compares this schema with tables.py leaves them out.

A later migration that rebuilds `knowledge_chunks` with SQLite's batch mode (copy, drop,
rename) drops the triggers with the old table: it must create them again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_UP = [
    # External content: the text is stored once (in knowledge_chunks); rowid = chunk id.
    """CREATE VIRTUAL TABLE knowledge_fts USING fts5(
        text, content='knowledge_chunks', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN
        INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    # Fires for cascaded deletes too (a document or base deleted).
    """CREATE TRIGGER knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER knowledge_chunks_au AFTER UPDATE OF text ON knowledge_chunks BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS knowledge_chunks_au",
    "DROP TRIGGER IF EXISTS knowledge_chunks_ad",
    "DROP TRIGGER IF EXISTS knowledge_chunks_ai",
    "DROP TABLE IF EXISTS knowledge_fts",
]
POSTGRES_UP = [
    # The search must use this very expression, 'english' included, to use the index.
    "CREATE INDEX ix_knowledge_chunks_tsv ON knowledge_chunks "
    "USING gin (to_tsvector('english', text))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_knowledge_chunks_tsv"]


def upgrade() -> None:
    op.create_table(
        "knowledge_bases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document_count", sa.Integer, nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        # a base is named in workflow specs: unique per owner (and list_bases' index)
        sa.UniqueConstraint("owner", "name", name="uq_knowledge_bases_owner_name"),
    )
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "base_id",
            sa.String(40),
            sa.ForeignKey("knowledge_bases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # one document of a name per base: uploading it again replaces it
        sa.UniqueConstraint("base_id", "name", name="uq_knowledge_documents_base_name"),
    )
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "base_id",
            sa.String(40),
            sa.ForeignKey("knowledge_bases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "document_id",
            sa.String(40),
            sa.ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
    )
    # search filters by base; deleting a document finds its chunks
    op.create_index("ix_knowledge_chunks_base", "knowledge_chunks", ["base_id"])
    op.create_index("ix_knowledge_chunks_document", "knowledge_chunks", ["document_id", "idx"])
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(dialect, []):
        op.execute(statement)
    op.drop_index("ix_knowledge_chunks_document", "knowledge_chunks")
    op.drop_index("ix_knowledge_chunks_base", "knowledge_chunks")
    op.drop_table("knowledge_chunks")
    op.drop_table("knowledge_documents")
    op.drop_table("knowledge_bases")
