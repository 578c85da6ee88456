"""An admin token acting for a Slack user (`X-GenFlow-On-Behalf-Of`), Slack users linked
to accounts, and the per-address login limit behind the web chat."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from quart.testing.connections import WebsocketDisconnectError

from backend.domain import utcnow
from backend.people import acting
from backend.people.model import Account
from tests.backend.test_api_errors import error_of
from tests.backend.test_reviews import of_type
from tests.harness import Harness, running_app

ANA, BEN, CAL = "slack:T1:UANA", "slack:T1:UBEN", "slack:T1:UCAL"


def as_person(h: Harness, person: str) -> dict[str, str]:
    """What the Slack bot sends for a Slack user: its admin token, and who it acts for."""
    return {**h.headers("slack-bot", admin=True), acting.HEADER: person}


async def start(h: Harness, headers: dict[str, str], **terms: Any) -> dict[str, Any]:
    body = {"flow": "review", "input": {"task": "Write a haiku"}, **terms}
    response = await h.client.post("/api/jobs", json=body, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def waiting(h: Harness, job: dict[str, Any]) -> dict[str, Any]:
    return await h.wait_for(job["id"], "waiting_for_review", sub=job["owner"])


async def decide(h: Harness, job: dict[str, Any], headers: dict[str, str], **body: Any) -> Any:
    body = {"review_id": job["review"]["id"], "decision": "approve", "via": "slack", **body}
    return await h.client.post(f"/api/jobs/{job['id']}/review", json=body, headers=headers)


async def add_account(h: Harness, name: str) -> None:
    await h.services.store.create_account(
        Account(name=name, password_hash="x", admin=False, created_at=utcnow())
    )


@pytest.fixture
async def h(tmp_path: Path):
    async with running_app(tmp_path) as harness:
        yield harness


async def test_a_slack_user_owns_what_they_start_and_only_they_and_assignees_decide(
    h: Harness,
) -> None:
    job = await start(h, as_person(h, ANA), reviewers=[BEN])
    assert job["owner"] == ANA
    job = await waiting(h, job)

    mine = await (await h.client.get("/api/jobs", headers=as_person(h, ANA))).get_json()
    assert [j["id"] for j in mine["jobs"]] == [job["id"]]
    theirs = await (await h.client.get("/api/jobs", headers=as_person(h, CAL))).get_json()
    assert theirs["jobs"] == [], "another Slack user sees none of it"
    await error_of(await decide(h, job, as_person(h, CAL)), 404)

    answer = await decide(h, job, as_person(h, BEN))
    assert answer.status_code == 200, await answer.get_data(as_text=True)
    await h.wait_for(job["id"], sub=ANA)
    (decided,) = of_type(await h.events(job["id"], sub=ANA), "review.decided")
    assert (decided["by"], decided["via"]) == (BEN, "slack")


async def test_a_seen_but_unassigned_person_gets_403(h: Harness) -> None:
    """An assignee of one review of a two-review job sees it, but may not decide the other."""
    job = await start(h, as_person(h, ANA), reviewers=[BEN])
    job = await waiting(h, job)
    for person in (ANA, BEN):  # the owner and the assignee both may; CAL sees nothing
        seen = await h.client.get(f"/api/jobs/{job['id']}", headers=as_person(h, person))
        assert seen.status_code == 200
    await error_of(await h.client.get(f"/api/jobs/{job['id']}", headers=as_person(h, CAL)), 404)


async def test_only_admin_tokens_act_for_someone_and_only_for_slack_users(h: Harness) -> None:
    body = {"flow": "review", "input": {"task": "x"}}
    plain = {**h.headers("alice"), acting.HEADER: ANA}
    error = await error_of(await h.client.post("/api/jobs", json=body, headers=plain), 403)
    assert acting.HEADER in error["message"]
    for bad in ("alice", "slack:T1", "slack:t1:u1", "slack:T1:U1:extra", ""):
        headers = {**h.headers("bot", admin=True), acting.HEADER: bad}
        answer = await h.client.post("/api/jobs", json=body, headers=headers)
        error = await error_of(answer, 422)
        assert "slack:<team>:<user>" in error["message"], bad
    in_body = {**body, "on_behalf_of": ANA}
    error = await error_of(await h.client.post("/api/jobs", json=in_body, headers=h.headers()), 403)
    job = await start(h, h.headers("bot", admin=True), on_behalf_of=ANA)
    assert job["owner"] == ANA, "on_behalf_of in the body is the header's twin"


async def test_the_decision_records_the_verified_person_never_a_claimed_name(h: Harness) -> None:
    job = await waiting(h, await start(h, as_person(h, ANA)))
    error = await error_of(await decide(h, job, as_person(h, ANA), by="someone else"), 422)
    assert "by" in json.dumps(error)
    assert (await decide(h, job, as_person(h, ANA))).status_code == 200


async def test_a_linked_slack_user_is_their_account_on_every_surface(h: Harness) -> None:
    await add_account(h, "bob")
    await acting.link(h.services.store, "bob", "T1", "UBEN")
    job = await start(h, as_person(h, BEN))
    assert job["owner"] == "bob", "what a linked Slack user starts is the account's"
    web = await (await h.client.get("/api/jobs", headers=h.headers("bob"))).get_json()
    assert [j["id"] for j in web["jobs"]] == [job["id"]], "and bob sees it on the web"

    # a review assigned to the Slack user is bob's on the web too (expanded at creation)
    assigned = await waiting(h, await start(h, h.headers("alice"), reviewers=[BEN]))
    assert (await decide(h, assigned, h.headers("bob"), via="web")).status_code == 200

    # a link made after the job was created still lets the Slack user decide from Slack
    later = await waiting(h, await start(h, h.headers("alice"), reviewers=[CAL]))
    await add_account(h, "carol")
    await acting.link(h.services.store, "carol", "T1", "UCAL")
    assert (await decide(h, later, as_person(h, CAL))).status_code == 200
    await h.wait_for(later["id"])
    (decided,) = of_type(await h.events(later["id"]), "review.decided")
    assert decided["by"] == "carol"


async def test_removing_an_account_removes_its_links(h: Harness) -> None:
    await add_account(h, "bob")
    await acting.link(h.services.store, "bob", "T1", "UBEN")
    assert await h.services.store.delete_account("bob", utcnow()) == []
    assert await h.services.store.linked_account(BEN) is None
    job = await start(h, as_person(h, BEN))
    assert job["owner"] == BEN


async def test_rate_limits_are_per_person(tmp_path: Path) -> None:
    async with running_app(tmp_path, rate_limit_burst=2, rate_limit_per_minute=0.01) as h:
        for _ in range(2):
            await start(h, as_person(h, ANA))
        body = {"flow": "review", "input": {"task": "x"}}
        refused = await h.client.post("/api/jobs", json=body, headers=as_person(h, ANA))
        await error_of(refused, 429)
        assert refused.headers.get("Retry-After")
        await start(h, as_person(h, BEN))  # Ben's bucket is his own


async def test_the_realtime_socket_acts_for_the_person_too(h: Harness) -> None:
    created = await h.client.post(
        "/api/genflow/sessions", json={"articleId": "a-1"}, headers=as_person(h, ANA)
    )
    assert created.status_code == 201, await created.get_data(as_text=True)
    sid = (await created.get_json())["sessionId"]
    token = h.headers("slack-bot", admin=True)["Authorization"]
    path = f"/api/genflow/sessions/{sid}/realtime"
    async with h.client.websocket(path) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token, "onBehalfOf": ANA}))
        first = json.loads(await asyncio.wait_for(ws.receive(), 5))
        assert first["type"] == "session.state"
    async with h.client.websocket(path) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token, "onBehalfOf": CAL}))
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(ws.receive(), 5)
        assert closed.value.args[0] == 1008


async def test_logins_forwarded_by_a_trusted_peer_are_limited_per_browser(
    tmp_path: Path,
) -> None:
    """The web chat logs everyone in from one address; it forwards each browser's."""
    wrong = {"username": "alice", "password": "not the password"}

    async def attempt(h: Harness, address: str, name: str) -> int:
        body = {**wrong, "username": name}
        headers = {"X-Forwarded-For": address}
        return (await h.client.post("/api/auth/login", json=body, headers=headers)).status_code

    limits = {"login_address_burst": 2, "login_address_per_minute": 0.01, "login_burst": 50}
    local = frozenset({"<local>"})  # the peer address of Quart's test client
    async with running_app(tmp_path / "trusted", forwarded_allow_ips=local, **limits) as h:
        assert [await attempt(h, "203.0.113.7", f"u{i}") for i in range(3)] == [401, 401, 429]
        assert await attempt(h, "203.0.113.8", "u9") == 401, "another browser is not limited"
    async with running_app(tmp_path / "untrusted", forwarded_allow_ips=frozenset(), **limits) as h:
        statuses = [await attempt(h, f"203.0.113.{i}", f"u{i}") for i in range(3)]
        assert statuses == [401, 401, 429], "an untrusted peer's header is ignored"
