"""The Store contract for accounts and tokens, on SQLite and PostgreSQL (the `store`
fixture of test_store.py).

What the revocation check and the CLI rely on: a name is taken once, even by two
inserts at once; a revocation is set once and never undone; removing an account revokes
its principal's tokens in the same transaction and leaves other principals' alone.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from backend.domain import utcnow
from backend.errors import Conflict, NotFound
from backend.ids import new_id
from backend.people.model import (
    ADMIN_FILE,
    CLI,
    EXPIRED,
    LIVE,
    LOGIN,
    REVOKED,
    Account,
    TokenRecord,
)
from backend.store.sqlalchemy import SQLStore
from tests.backend.test_store import store

__all__ = ["store"]


def account(name: str, *, admin: bool = False) -> Account:
    return Account(name=name, password_hash=f"$argon2id$fake${name}", admin=admin,
                   created_at=utcnow())  # fmt: skip


def token(principal: str, *, kind: str = LOGIN, ttl: timedelta = timedelta(hours=1),
          admin: bool = False) -> TokenRecord:  # fmt: skip
    now = utcnow()
    return TokenRecord(id=new_id("tok"), principal=principal, admin=admin, kind=kind,
                       created_at=now, expires_at=now + ttl)  # fmt: skip


async def test_accounts_are_created_read_listed_and_counted(store: SQLStore) -> None:
    assert await store.count_accounts() == 0
    await store.create_account(account("bob"))
    await store.create_account(account("alice", admin=True))
    alice = await store.get_account("alice")
    assert alice is not None and alice.admin and alice.password_hash == "$argon2id$fake$alice"
    assert alice.created_at.tzinfo is not None
    assert [a.name for a in await store.list_accounts()] == ["alice", "bob"]
    assert await store.count_accounts() == 2
    assert await store.get_account("carol") is None
    assert await store.get_account("al\x00ice") is None  # never a database error


async def test_a_name_is_taken_once_even_by_two_inserts_at_once(store: SQLStore) -> None:
    await store.create_account(account("alice"))
    with pytest.raises(Conflict):
        await store.create_account(account("alice", admin=True))
    results = await asyncio.gather(
        *(store.create_account(account("bob")) for _ in range(5)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None)
    assert (await store.get_account("alice")).admin is False  # the first one stays


async def test_a_password_hash_is_replaced(store: SQLStore) -> None:
    await store.create_account(account("alice"))
    assert await store.set_password("alice", "$argon2id$new")
    assert (await store.get_account("alice")).password_hash == "$argon2id$new"
    assert not await store.set_password("nobody", "$argon2id$new")


async def test_tokens_are_recorded_and_read_back(store: SQLStore) -> None:
    issued = token("alice", kind=CLI, admin=True)
    await store.record_token(issued)
    again = await store.get_token(issued.id)
    assert again is not None
    assert (again.principal, again.admin, again.kind) == ("alice", True, CLI)
    assert again.revoked_at is None
    assert abs(again.expires_at - issued.expires_at) < timedelta(milliseconds=1)
    assert again.state(utcnow()) == LIVE
    assert await store.get_token("tok_never") is None
    assert await store.get_token("tok\x00") is None


async def test_a_revocation_is_set_once_and_kept(store: SQLStore) -> None:
    issued = token("alice")
    await store.record_token(issued)
    first = utcnow()
    revoked = await store.revoke_token(issued.id, first)
    assert revoked is not None and revoked.state(utcnow()) == REVOKED
    later = await store.revoke_token(issued.id, first + timedelta(minutes=5))
    assert later is not None and abs(later.revoked_at - first) < timedelta(milliseconds=1)
    assert (await store.get_token(issued.id)).state(utcnow()) == REVOKED
    assert await store.revoke_token("tok_never", utcnow()) is None


async def test_listing_is_newest_first_per_principal_and_pages(store: SQLStore) -> None:
    mine = [token("alice") for _ in range(5)]
    theirs = token("bob")
    for record in [*mine, theirs]:
        await store.record_token(record)
    listed = await store.list_tokens(principal="alice")
    assert [r.id for r in listed] == [r.id for r in reversed(mine)]
    everyone = await store.list_tokens(principal=None)
    assert {r.principal for r in everyone} == {"alice", "bob"} and len(everyone) == 6
    page = await store.list_tokens(principal="alice", limit=2)
    rest = await store.list_tokens(principal="alice", limit=10, before=page[-1].id)
    assert [r.id for r in page + rest] == [r.id for r in listed]
    assert await store.list_tokens(principal="al\x00ice") == []  # never a database error
    assert await store.list_tokens(principal=None, before="tok\x00") == []


async def test_removing_an_account_revokes_its_tokens_and_no_others(store: SQLStore) -> None:
    await store.create_account(account("alice"))
    live = [token("alice"), token("alice", kind=CLI)]
    done = token("alice")
    bobs = token("bob")
    for record in [*live, done, bobs]:
        await store.record_token(record)
    await store.revoke_token(done.id, utcnow())
    revoked = await store.delete_account("alice", utcnow())
    assert revoked == sorted(r.id for r in live)  # the one revoked before is not counted
    assert await store.get_account("alice") is None
    for record in [*live, done]:
        assert (await store.get_token(record.id)).state(utcnow()) == REVOKED
    assert (await store.get_token(bobs.id)).state(utcnow()) == LIVE
    assert await store.delete_account("alice", utcnow()) is None  # gone: nothing changes


async def test_revoking_a_principals_tokens_without_an_account(store: SQLStore) -> None:
    service = [token("ci", kind=CLI), token("ci", kind=CLI)]
    for record in [*service, token("admin", kind=ADMIN_FILE)]:
        await store.record_token(record)
    assert await store.revoke_tokens_of("ci", utcnow()) == sorted(r.id for r in service)
    assert await store.revoke_tokens_of("ci", utcnow()) == []


async def test_long_expired_tokens_are_pruned(store: SQLStore) -> None:
    old = token("alice", ttl=timedelta(days=-10))
    recent = token("alice", ttl=timedelta(days=-1))
    live = token("alice")
    for record in (old, recent, live):
        await store.record_token(record)
    assert (await store.get_token(recent.id)).state(utcnow()) == EXPIRED
    assert await store.prune_tokens(utcnow() - timedelta(days=7)) == 1
    assert await store.get_token(old.id) is None
    assert await store.get_token(recent.id) is not None and await store.get_token(live.id)


async def test_a_slack_user_links_to_one_account_until_unlinked(store: SQLStore) -> None:
    await store.create_account(account("bob"))
    await store.create_account(account("carol"))
    with pytest.raises(NotFound):
        await store.link_slack("slack:T1:U1", "nobody", utcnow())
    await store.link_slack("slack:T1:U1", "bob", utcnow())
    await store.link_slack("slack:T1:U1", "bob", utcnow())  # again: nothing changes
    await store.link_slack("slack:T2:U1", "bob", utcnow())  # another workspace, same person
    with pytest.raises(Conflict):
        await store.link_slack("slack:T1:U1", "carol", utcnow())
    assert await store.linked_account("slack:T1:U1") == "bob"
    assert await store.linked_account("slack:T1:U\x00") is None
    assert await store.slack_links() == [("slack:T1:U1", "bob"), ("slack:T2:U1", "bob")]
    assert await store.unlink_slack("slack:T1:U1")
    assert not await store.unlink_slack("slack:T1:U1")
    await store.link_slack("slack:T1:U1", "carol", utcnow())
    await store.delete_account("bob", utcnow())
    assert await store.slack_links() == [("slack:T1:U1", "carol")], "bob's links went with him"
