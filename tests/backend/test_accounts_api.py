"""Accounts and tokens over the API: login, /me, listing, revocation, guessing limits,
and passwords kept out of every response and log line.

Revocation is checked on the same process (at once) and between two app instances on
one database (within GENFLOW_TOKEN_CACHE_SECONDS without Redis; at once with it). Real
processes on PostgreSQL and Redis: tests/scaleout/test_revocation.py.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.auth import issue_token
from backend.people import passwords
from backend.people.accounts import BAD_LOGIN
from tests.harness import Harness, running_app

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.timeout(120)


async def login(h: Harness, username: str, password: str) -> Any:
    return await h.client.post("/api/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def logged_in(h: Harness, username: str = "alice", password: str = PASSWORD) -> dict:
    response = await login(h, username, password)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


@pytest.fixture
async def people(tmp_path: Path) -> Any:
    async with running_app(tmp_path) as h:
        await h.services.accounts.add("alice", PASSWORD)
        await h.services.accounts.add("root", PASSWORD, admin=True)
        yield h


async def test_login_gives_a_token_that_works(people: Harness) -> None:
    body = await logged_in(people, "Alice ")  # names are trimmed and lowercase
    assert body["principal"] == "alice" and body["admin"] is False
    assert body["token_id"].startswith("tok_") and body["expires_at"].endswith("Z")
    me = await people.client.get("/api/auth/me", headers=bearer(body["token"]))
    assert await me.get_json() == {"principal": "alice", "admin": False,
                                   "token_id": body["token_id"]}  # fmt: skip
    jobs = await people.client.get("/api/jobs", headers=bearer(body["token"]))
    assert jobs.status_code == 200
    admin = await logged_in(people, "root")
    assert admin["admin"] is True


async def test_a_wrong_password_and_an_unknown_user_get_the_same_401(people: Harness) -> None:
    wrong = await login(people, "alice", "not the password")
    unknown = await login(people, "mallory", PASSWORD)
    invalid_name = await login(people, "slack:T1:U1", PASSWORD)
    bodies = [await r.get_json() for r in (wrong, unknown, invalid_name)]
    assert [r.status_code for r in (wrong, unknown, invalid_name)] == [401, 401, 401]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0] == {"error": {"code": "unauthorized", "message": BAD_LOGIN}}


async def test_an_unknown_user_costs_one_password_check_like_a_known_one(
    people: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []

    class Counted:
        def __init__(self, hasher: Any) -> None:
            self.hasher = hasher

        def verify(self, password_hash: str, password: str) -> bool:
            checks.append(password_hash[:9])
            return self.hasher.verify(password_hash, password)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.hasher, name)

    monkeypatch.setattr(passwords, "_hasher", Counted(passwords._hasher))
    await login(people, "alice", "not the password")
    await login(people, "mallory", "not the password")
    assert checks == ["$argon2id", "$argon2id"]  # the unknown name against a dummy hash


async def test_login_bodies_are_checked_without_quoting_them(people: Harness) -> None:
    secret_number = 918273645546372819
    for body, field in [
        ({"username": "alice"}, "body"),
        ({"username": "alice", "password": secret_number}, "body.password"),
        ({"username": "alice", "password": "x" * 2000}, "body.password"),
        ({"username": "", "password": PASSWORD}, "body.username"),
        ({"username": "alice", "password": PASSWORD, "extra": 1}, "body"),
    ]:
        response = await people.client.post("/api/auth/login", json=body)
        assert response.status_code == 422
        text = await response.get_data(as_text=True)
        assert str(secret_number) not in text and "x" * 50 not in text
        assert field in text


async def test_revoking_a_token_refuses_it_at_once(people: Harness) -> None:
    body = await logged_in(people)
    token, token_id = body["token"], body["token_id"]
    assert (await people.client.get("/api/jobs", headers=bearer(token))).status_code == 200
    job = await people.create("review", {"task": "t"}, sub="alice")
    revoked = await people.client.delete(f"/api/auth/tokens/{token_id}", headers=bearer(token))
    assert revoked.status_code == 204
    for path in ["/api/jobs", "/api/auth/me", f"/api/jobs/{job['id']}/events?access_token={token}"]:
        response = await people.client.get(path, headers=bearer(token) if "?" not in path else {})
        assert response.status_code == 401, path
        assert (await response.get_json())["error"]["message"] == "the token has been revoked"
    again = await people.client.delete(  # already revoked: still 204 for an admin
        f"/api/auth/tokens/{token_id}", headers=people.headers("root", admin=True)
    )
    assert again.status_code == 204
    other = await logged_in(people)  # other tokens of alice keep working
    assert (await people.client.get("/api/jobs", headers=bearer(other["token"]))).status_code == 200


async def test_tokens_are_listed_for_their_owner_and_for_admins(people: Harness) -> None:
    alice = await logged_in(people)
    root = await logged_in(people, "root")
    listed = await people.client.get("/api/auth/tokens", headers=bearer(alice["token"]))
    mine = (await listed.get_json())["tokens"]
    assert [t["id"] for t in mine] == [alice["token_id"]]
    assert mine[0] | {"created_at": "-", "expires_at": "-"} == {
        "id": alice["token_id"], "principal": "alice", "admin": False, "kind": "login",
        "status": "active", "created_at": "-", "expires_at": "-", "revoked_at": None,
    }  # fmt: skip
    everyone = await people.client.get("/api/auth/tokens", headers=bearer(root["token"]))
    ids = {t["id"] for t in (await everyone.get_json())["tokens"]}
    assert {alice["token_id"], root["token_id"]} <= ids
    assert any(t["kind"] == "admin-file" for t in (await everyone.get_json())["tokens"])
    only = await people.client.get(
        "/api/auth/tokens?principal=alice&limit=1", headers=bearer(root["token"])
    )
    page = await only.get_json()
    assert [t["id"] for t in page["tokens"]] == [alice["token_id"]]
    assert page["next_cursor"] == alice["token_id"]
    # alice cannot see or revoke root's token: it does not exist for her
    theirs = await people.client.delete(
        f"/api/auth/tokens/{root['token_id']}", headers=bearer(alice["token"])
    )
    assert theirs.status_code == 404
    assert (
        await people.client.get("/api/auth/me", headers=bearer(root["token"]))
    ).status_code == 200
    bad = await people.client.get("/api/auth/tokens?limit=0", headers=bearer(alice["token"]))
    assert bad.status_code == 422


async def test_tokens_never_recorded_or_from_before_revocation_are_refused(
    people: Harness,
) -> None:
    secret = people.services.secret
    unrecorded = issue_token(secret, "alice", ttl=timedelta(hours=1), jti="tok_made_up")
    legacy = issue_token(secret, "alice", ttl=timedelta(hours=1))  # no jti at all
    for token, says in [(unrecorded, "not one this server issued"), (legacy, "has no id")]:
        response = await people.client.get("/api/jobs", headers=bearer(token))
        assert response.status_code == 401
        assert says in (await response.get_json())["error"]["message"]


async def test_guessing_is_limited_per_username_and_per_address(tmp_path: Path) -> None:
    async with running_app(
        tmp_path, login_burst=3, login_per_minute=1, login_address_burst=5,
        login_address_per_minute=1,
    ) as h:  # fmt: skip
        await h.services.accounts.add("alice", PASSWORD)
        for _ in range(3):
            assert (await login(h, "alice", "guess")).status_code == 401
        limited = await login(h, "alice", PASSWORD)  # even the right password now
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await limited.get_json())["error"]["code"] == "rate_limited"
        assert (await login(h, "bob", "guess")).status_code == 401  # another name: 5th try
        assert (await login(h, "carol", "guess")).status_code == 429  # this address: 6th


async def test_no_password_appears_in_a_response_or_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with running_app(tmp_path, login_burst=2, login_per_minute=1) as h:
        await h.services.accounts.add("alice", PASSWORD)
        for username, password in [("alice", PASSWORD), ("alice", "wrong-" + PASSWORD),
                                   ("nobody", PASSWORD), ("alice", PASSWORD)]:  # fmt: skip
            response = await login(h, username, password)
            seen.append(await response.get_data(as_text=True))
        assert "rate_limited" in seen[-1]
        await h.services.accounts.set_password("alice", "another " + PASSWORD)
        first_admin = h.settings.admin_password_path.read_text().strip()
    assert "login of alice" in caplog.text and "failed login" in caplog.text
    for text in [*seen, caplog.text, *(r.getMessage() for r in caplog.records)]:
        assert PASSWORD not in text and first_admin not in text


async def test_a_revocation_reaches_another_instance_within_the_cache_time(
    tmp_path: Path,
) -> None:
    """Two app instances on one SQLite database, no Redis: B asks the store again after
    GENFLOW_TOKEN_CACHE_SECONDS (0.5 s here) and refuses the token from then on."""
    async with running_app(tmp_path, token_cache_seconds=0.5) as a, running_app(
        tmp_path, token_cache_seconds=0.5
    ) as b:  # fmt: skip
        await a.services.accounts.add("alice", PASSWORD)
        body = await logged_in(a)
        assert (
            await b.client.get("/api/auth/me", headers=bearer(body["token"]))
        ).status_code == 200
        revoked_at = asyncio.get_running_loop().time()
        await a.client.delete(f"/api/auth/tokens/{body['token_id']}", headers=bearer(body["token"]))
        took = await refused_within(b, body["token"], 5.0) - revoked_at
    assert took <= 0.5 + 0.5  # the cache time, plus a generous margin for the poll


async def refused_within(h: Harness, token: str, within: float) -> float:
    """Poll until `token` gets 401; the loop time it did."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        response = await h.client.get("/api/auth/me", headers=bearer(token))
        if response.status_code == 401:
            return loop.time()
        assert loop.time() < deadline, "the revoked token still works"
        await asyncio.sleep(0.02)


async def test_over_redis_another_instance_hears_of_a_revocation_at_once(
    tmp_path: Path, redis_url: str
) -> None:
    """B trusts a live token for a minute, but A's revocation reaches it over Redis."""
    async with running_app(tmp_path, redis_url=redis_url) as a, running_app(
        tmp_path, redis_url=redis_url, token_cache_seconds=60
    ) as b:  # fmt: skip
        await asyncio.wait_for(b.services.tokens.revocations.connected.wait(), 10)
        await a.services.accounts.add("alice", PASSWORD)
        body = await logged_in(a)
        assert (
            await b.client.get("/api/auth/me", headers=bearer(body["token"]))
        ).status_code == 200
        lookups = b.services.tokens.live.lookups
        revoked_at = asyncio.get_running_loop().time()
        await a.client.delete(f"/api/auth/tokens/{body['token_id']}", headers=bearer(body["token"]))
        took = await refused_within(b, body["token"], 5.0) - revoked_at
        assert b.services.tokens.live.lookups == lookups  # told, not asking the store
    assert took < 2.0
