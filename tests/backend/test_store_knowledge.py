"""The Store contract for knowledge bases: records, counts, cascades, and full-text search.

Runs on SQLite (FTS5) and PostgreSQL (tsvector + GIN) through the `store` fixture of
test_store.py. Search must rank the chunk that answers a question first, survive any
search syntax in the query, and never look outside the base it is given.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, inspect, text

from backend.domain import utcnow
from backend.errors import Conflict
from backend.ids import new_id
from backend.knowledge.chunks import chunk_document
from backend.knowledge.model import Chunk, Document, KnowledgeBase
from backend.store.fulltext import POSTGRES_OBJECTS, SQLITE_OBJECTS
from backend.store.migrate import sync_url
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import store

__all__ = ["store"]

FAQ = """# Acme support FAQ

## Refunds

You can ask for a refund within 30 days of delivery. Open the order in your account,
choose "Return items", and we send the money back to the card you paid with within five
business days of receiving the parcel.

## Shipping times

Orders leave our warehouse within one business day. Standard delivery takes three to
five days in the EU; express delivery arrives the next day when ordered before noon.

## Changing an order

Until an order is packed you can change the address or the items from the order page.
Once it is packed, contact support and we will try to catch it before the courier does.

## Passwords and login

Forgot your password? Use "Reset password" on the login page; the link in the email
works for one hour. Two-factor codes can be reset by support after an identity check.

## Warranty

Every device carries a two-year warranty against defects. Repairs are free; we send a
prepaid label, fix or replace the device, and ship it back at our cost.

## Gift cards

Gift cards never expire and can be used for any product. They cannot be exchanged for
cash, and a lost gift card can be blocked if you still have its number.
"""

NASTY_QUERIES = [
    '"',
    '"unterminated',
    "*",
    "refund*",
    "NEAR(refund money",
    "NEAR(",
    "refund OR",
    "OR",
    "AND NOT",
    "-",
    "-refund",
    "refund - money",
    "text:refund",
    "^refund",
    "(refund",
    "refund)",
    "{text}: refund",
    "'; DROP TABLE knowledge_chunks; --",
    "!!!",
    "",
    "   ",
    "\x00",
    "ref\x00und",
    "😀 refund 😀",
    "à é ü refund",
    "a" * 5000,
    " ".join(["word"] * 500),
]


def new_base(owner: str = "alice", name: str = "faq", **overrides: object) -> KnowledgeBase:
    now = utcnow()
    base = KnowledgeBase(
        id=new_id("kb"),
        owner=owner,
        name=name,
        description="what customers ask",
        created_at=now,
        updated_at=now,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def new_document(name: str = "faq.md", text: str = FAQ) -> tuple[Document, list[Chunk]]:
    document = Document(
        id=new_id("doc"),
        base_id="",
        name=name,
        mime="text/markdown",
        size=len(text.encode()),
        created_at=utcnow(),
    )
    return document, chunk_document(text, name)


async def test_a_base_is_created_read_listed_and_deleted(store: SQLStore) -> None:
    base, documents = await store.create_base(new_base(), [new_document()])
    assert documents[0].base_id == base.id and documents[0].chunk_count == 6
    assert base.document_count == 1 and base.chunk_count == 6
    assert base.size == len(FAQ.encode())
    assert await store.get_base(base.id) == base
    assert await store.get_base(base.id, owner="alice") == base
    assert await store.get_base("faq", owner="alice") == base  # by name, for its owner
    assert await store.get_base("faq") is None  # a name means nothing without an owner
    other, _ = await store.create_base(new_base(name="handbook"))
    assert [b.id for b in await store.list_bases("alice")] == [other.id, base.id]
    assert await store.list_documents(base.id) == documents
    assert await store.delete_base(base.id) is True
    assert await store.delete_base(base.id) is False
    assert await store.get_base(base.id) is None
    assert await store.list_documents(base.id) == []
    assert await store.search(base.id, "refund", 5) == []
    assert _count(store, "knowledge_chunks") == 0  # the cascade took the chunks along


async def test_a_name_is_unique_per_owner(store: SQLStore) -> None:
    await store.create_base(new_base(name="faq"))
    with pytest.raises(Conflict):
        await store.create_base(new_base(name="faq"))
    await store.create_base(new_base(owner="bob", name="faq"))  # another owner's namespace
    results = await asyncio.gather(
        *(store.create_base(new_base(name="race")) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, Conflict) for r in results) == 4  # racing creates: one wins
    assert len(await store.list_bases("alice")) == 2


async def test_chunks_are_stored_with_their_source(store: SQLStore) -> None:
    base, _ = await store.create_base(new_base(), [new_document()])
    chunks = _chunks(store, base.id)
    assert [source for _, source in chunks] == [
        "faq.md#Refunds",
        "faq.md#Shipping times",
        "faq.md#Changing an order",
        "faq.md#Passwords and login",
        "faq.md#Warranty",
        "faq.md#Gift cards",
    ]
    assert chunks[0][0].startswith("Acme support FAQ > Refunds\n\nYou can ask for a refund")


async def test_search_ranks_the_chunk_that_answers_first(store: SQLStore) -> None:
    base, _ = await store.create_base(new_base(), [new_document()])
    questions = {
        "How do I get a refund for my order?": "faq.md#Refunds",
        "how long does delivery take": "faq.md#Shipping times",
        "I forgot my password": "faq.md#Passwords and login",
        "is my broken device covered by warranty?": "faq.md#Warranty",
        "Do gift cards expire?": "faq.md#Gift cards",
    }
    for question, source in questions.items():
        results = await store.search(base.id, question, 3)
        assert results, question
        assert results[0]["source"] == source, (question, results)
        assert set(results[0]) == {"text", "source", "score"}
        scores = [r["score"] for r in results]
        assert all(isinstance(s, float) for s in scores)
        assert scores == sorted(scores, reverse=True)  # higher is better, best first
    refunds = await store.search(base.id, "refunds", 1)  # stemmed: "refunds" finds "refund"
    assert [r["source"] for r in refunds] == ["faq.md#Refunds"]
    assert "refund within 30 days" in refunds[0]["text"]
    assert len(await store.search(base.id, "order", 1)) == 1  # top_k holds


async def test_no_matching_words_is_an_empty_list(store: SQLStore) -> None:
    base, _ = await store.create_base(new_base(), [new_document()])
    assert await store.search(base.id, "xylophone quantum", 5) == []
    assert await store.search(base.id, "the and of", 5) == []  # only common words
    assert await store.search(new_id("kb"), "refund", 5) == []  # no such base


@pytest.mark.parametrize("query", NASTY_QUERIES)
async def test_search_syntax_in_a_query_is_just_words(store: SQLStore, query: str) -> None:
    base, _ = await store.create_base(new_base(), [new_document()])
    results = await store.search(base.id, query, 3)
    assert isinstance(results, list)
    if "refund" in query and "\x00" not in query:
        assert results and results[0]["source"] == "faq.md#Refunds", query


async def test_search_and_names_stay_within_one_owner(store: SQLStore) -> None:
    alice, _ = await store.create_base(new_base("alice"), [new_document()])
    secret = "The refund code word is PELICAN."
    bob, _ = await store.create_base(
        new_base("bob"), [new_document("secret.md", f"# Refunds\n\n{secret}\n")]
    )
    found = await store.search(alice.id, "refund pelican", 10)
    assert found and all("PELICAN" not in r["text"] for r in found)
    assert [r["text"] for r in await store.search(bob.id, "pelican", 10)] == [
        f"Refunds\n\n{secret}"
    ]
    assert await store.get_base(bob.id, owner="alice") is None  # by id: not alice's
    assert (await store.get_base("faq", owner="bob")).id == bob.id  # type: ignore[union-attr]
    assert (await store.get_base("faq", owner="alice")).id == alice.id  # type: ignore[union-attr]
    assert [b.id for b in await store.list_bases("bob")] == [bob.id]
    assert {b.id for b in await store.list_bases(None)} == {alice.id, bob.id}
    assert await store.get_base("faq\x00", owner="alice") is None


async def test_a_document_of_the_same_name_replaces_the_old_one(store: SQLStore) -> None:
    base, _ = await store.create_base(new_base(), [new_document()])
    notes = new_document("notes.txt", "Parking is behind the building.")
    added = await store.add_document(base.id, *notes)
    assert added is not None
    after, document, replaced = added
    assert not replaced and document.chunk_count == 1
    assert (after.document_count, after.chunk_count) == (2, 7)
    newer = new_document("faq.md", "# Refunds\n\nRefunds now take ten days.\n")
    added = await store.add_document(base.id, *newer)
    assert added is not None
    after, _, replaced = added
    assert replaced
    assert (after.document_count, after.chunk_count) == (2, 2)
    assert after.size == notes[0].size + newer[0].size
    assert [d.name for d in await store.list_documents(base.id)] == ["notes.txt", "faq.md"]
    results = await store.search(base.id, "refund", 5)
    assert [r["text"] for r in results] == ["Refunds\n\nRefunds now take ten days."]
    assert _count(store, "knowledge_chunks") == 2
    assert await store.add_document(new_id("kb"), *new_document()) is None  # base gone


async def test_uploads_to_one_base_at_once_keep_exact_counts(store: SQLStore) -> None:
    base, _ = await store.create_base(new_base())
    docs = [new_document(f"doc{i % 4}.txt", f"Paragraph {i} about tea.") for i in range(12)]
    results = await asyncio.gather(*(store.add_document(base.id, *d) for d in docs))
    assert all(r is not None for r in results)
    after = await store.get_base(base.id)
    assert after is not None
    assert (after.document_count, after.chunk_count) == (4, 4)
    assert _count(store, "knowledge_chunks") == 4


async def test_the_full_text_index_exists_on_its_database_only(store: SQLStore) -> None:
    engine = create_engine(sync_url(store.url))
    try:
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        indexes = {i["name"] for i in inspector.get_indexes("knowledge_chunks")}
    finally:
        engine.dispose()
    if store.is_sqlite:
        assert SQLITE_OBJECTS <= tables and not POSTGRES_OBJECTS & indexes
    else:
        assert POSTGRES_OBJECTS <= indexes and not SQLITE_OBJECTS & tables


def _count(store: SQLStore, table: str) -> int:
    engine = create_engine(sync_url(store.url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def _chunks(store: SQLStore, base_id: str) -> list[tuple[str, str]]:
    engine = create_engine(sync_url(store.url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT text, source FROM knowledge_chunks WHERE base_id = :b ORDER BY id"),
                {"b": base_id},
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()
