"""Full-text search over knowledge chunks: SQLite FTS5 embedded, PostgreSQL when scaled out.

A person's query is never handed to either search syntax as it is: FTS5 would fail on
`"`, `*`, `NEAR(` or a lone `-`, and a query must not error whatever a model or a person
types. It is reduced to its words, each quoted as a literal FTS5 string (or, on
PostgreSQL, joined with `or` for `websearch_to_tsquery`, which never raises), and the
words are OR-ed: a question ("how do I get my money back?") shares only some words with
its answer, and ranking puts the chunks that share the most of them first (bm25 on SQLite
also weighs rare words more; PostgreSQL's ts_rank counts matches in the chunk only).
Common English words are dropped on both databases (PostgreSQL's `english` configuration
ignores them; `STOPWORDS` is a part of its list, so both answer alike). No words left, no
search: an empty list.

Both indexes stem English (FTS5's porter tokenizer, PostgreSQL's `english` config), so
"refunds" finds "refund". The objects they need are made by migration 0005 for one
database only and are not in tables.py; `DIALECT_OBJECTS` names them so the schema test
can leave exactly these out.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, text

SQLITE_OBJECTS = frozenset(
    {
        "knowledge_fts",  # the FTS5 table, and the shadow tables FTS5 makes for it:
        "knowledge_fts_data",
        "knowledge_fts_idx",
        "knowledge_fts_docsize",
        "knowledge_fts_config",
    }
)
POSTGRES_OBJECTS = frozenset({"ix_knowledge_chunks_tsv"})
DIALECT_OBJECTS = SQLITE_OBJECTS | POSTGRES_OBJECTS

MAX_TERMS = 32
MAX_TOP_K = 50
_WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    """a about after all am an and any are as at be been but by can did do does doing for
    from had has have he her here him his how i if in into is it its just me my no not of
    on or our she should so some than that the their them then there these they this to
    too was we were what when where which who whom why will with you your
    """.split()
)

_SQLITE_SEARCH = text(
    """
    SELECT c.text AS text, c.source AS source, -bm25(knowledge_fts) AS score
    FROM knowledge_fts JOIN knowledge_chunks AS c ON c.id = knowledge_fts.rowid
    WHERE knowledge_fts MATCH :match AND c.base_id = :base_id
    ORDER BY bm25(knowledge_fts), c.id
    LIMIT :top_k
    """
)
# to_tsvector('english', text) exactly as ix_knowledge_chunks_tsv indexes it.
_POSTGRES_SEARCH = text(
    """
    SELECT c.text AS text, c.source AS source,
           ts_rank(to_tsvector('english', c.text), query, 1) AS score
    FROM knowledge_chunks AS c, websearch_to_tsquery('english', :match) AS query
    WHERE c.base_id = :base_id AND to_tsvector('english', c.text) @@ query
    ORDER BY score DESC, c.id
    LIMIT :top_k
    """
)


def search(conn: Connection, base_id: str, query: str, top_k: int) -> list[dict[str, Any]]:
    """The best `top_k` chunks of the base for `query`, best first; [] when the query has
    no words or nothing matches."""
    words = terms(query)
    top_k = max(1, min(top_k, MAX_TOP_K))
    if not words:
        return []
    if conn.dialect.name == "postgresql":
        statement, match = _POSTGRES_SEARCH, " or ".join(words)
    else:
        statement, match = _SQLITE_SEARCH, fts5_query(words)
    rows = conn.execute(statement, {"match": match, "base_id": base_id, "top_k": top_k})
    return [
        {"text": row["text"], "source": row["source"], "score": float(row["score"])}
        for row in rows.mappings().all()
    ]


def terms(query: str) -> list[str]:
    """The query's distinct words, lowercased, without common words; at most MAX_TERMS."""
    words = dict.fromkeys(w.lower() for w in _WORD.findall(query))
    return [w for w in words if w not in STOPWORDS][:MAX_TERMS]


def fts5_query(words: list[str]) -> str:
    """Each word an FTS5 string literal (quotes doubled), OR-ed: no operator, column
    filter, prefix or NEAR in the user's text can take effect."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
