"""Bad input and auth through Quart's test client.

Every refusal must carry the right status and a JSON body
`{"error": {"code", "message", "details"?}}`, never a 500 and never a traceback.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Response

from backend.auth import issue_token
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.harness import ERROR_CODES, Harness, leaks_stack_trace, running_app


async def error_of(response: Response, status: int) -> dict[str, Any]:
    """Assert `response` is a JSON error with `status`; return its `error` object."""
    text = await response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "application/json", text
    assert not leaks_stack_trace(text), text
    body = await response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == ERROR_CODES[status], error
    assert isinstance(error["message"], str) and error["message"], error
    assert set(error) <= {"code", "message", "details"}, error
    return error


def fields(error: dict[str, Any]) -> list[str]:
    return [problem["field"] for problem in error["details"]]


def mentions(error: dict[str, Any], name: str) -> bool:
    """Whether the 422 details name `name` (as the field or in a required-property message)."""
    return any(
        problem["field"].split(".")[-1] == name or repr(name) in problem["message"]
        for problem in error["details"]
    )


def slow_llm(delay: float = 30.0) -> ScriptedLLM:
    """A model that takes `delay` seconds to answer: its jobs stay `running`."""
    return ScriptedLLM([Reply("An answer.", delay=delay)])


async def post_job(h: Harness, body: Any = None, *, data: Any = None, sub: str = "alice") -> Any:
    if data is None:
        return await h.client.post("/api/jobs", json=body, headers=h.headers(sub))
    return await h.client.post("/api/jobs", data=data, headers=h.headers(sub))


async def waiting_review_job(h: Harness, sub: str = "alice") -> dict[str, Any]:
    job = await h.create("review", {"task": "Write a haiku"}, sub=sub)
    return await h.wait_for(job["id"], "waiting_for_review", sub=sub)


# -- malformed bodies (400) ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"{nope", b'{"flow": "article",}', b"\xff\xfe\x00garbage", b"{'flow': 'article'}", b"NaN"],
    ids=["truncated", "trailing-comma", "not-utf8", "single-quotes", "nan"],
)
async def test_malformed_json_is_400(harness: Harness, data: bytes) -> None:
    error = await error_of(await post_job(harness, data=data), 400)
    assert "JSON" in error["message"]


@pytest.mark.parametrize("data", [b"[]", b'"article"', b"42", b"null", b"true", b'[{"a": 1}]'])
async def test_non_object_json_is_400(harness: Harness, data: bytes) -> None:
    error = await error_of(await post_job(harness, data=data), 400)
    assert "object" in error["message"]


@pytest.mark.parametrize("data", [b"", b"   \n\t "])
async def test_empty_body_is_400(harness: Harness, data: bytes) -> None:
    error = await error_of(await post_job(harness, data=data), 400)
    assert "required" in error["message"]


async def test_hostile_json_is_400_not_500(harness: Harness) -> None:
    """Nesting, lone surrogates and huge numbers that once crashed the server."""
    deep = b'{"flow": "article", "input": {"topic": "x", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    assert (await post_job(harness, data=deep)).status_code == 400
    deeper = b"[" * 200_000 + b"]" * 200_000
    await error_of(await post_job(harness, data=deeper), 400)
    surrogate = b'{"flow": "article", "input": {"topic": "\\ud800"}}'
    await error_of(await post_job(harness, data=surrogate), 400)
    big = b'{"flow": "article", "input": {"topic": "x", "review": 1' + b"0" * 5000 + b"}}"
    await error_of(await post_job(harness, data=big), 400)


# -- invalid fields (422) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": {"topic": "x"}}, "flow"),
        ({"flow": "article"}, "input"),
        ({"flow": 1, "input": {"topic": "x"}}, "flow"),
        ({"flow": "", "input": {"topic": "x"}}, "flow"),
        ({"flow": ["article"], "input": {"topic": "x"}}, "flow"),
        ({"flow": "article", "input": "topic=x"}, "input"),
        ({"flow": "article", "input": ["x"]}, "input"),
        ({"flow": "article", "input": None}, "input"),
        ({"flow": "article", "input": {"topic": "x"}, "priority": 1}, "priority"),
    ],
    ids=[
        "missing-flow",
        "missing-input",
        "flow-int",
        "flow-empty",
        "flow-list",
        "input-str",
        "input-list",
        "input-null",
        "extra-field",
    ],
)
async def test_bad_create_fields_are_422(harness: Harness, body: dict, field: str) -> None:
    error = await error_of(await post_job(harness, body), 422)
    assert mentions(error, field), error


async def test_unknown_flow_is_422(harness: Harness) -> None:
    error = await error_of(await post_job(harness, {"flow": "poem", "input": {}}), 422)
    assert fields(error) == ["flow"]
    assert "article" in error["details"][0]["message"]  # tells which flows exist


@pytest.mark.parametrize(
    ("input_", "field", "words"),
    [
        ({}, "input", "'topic' is a required property"),
        ({"topic": ""}, "input.topic", "non-empty"),
        ({"topic": "x" * 501}, "input.topic", "long"),
        ({"topic": 7}, "input.topic", "not of type"),
        ({"topic": "coffee", "review": "yes"}, "input.review", "not of type"),
        ({"topic": "coffee", "tone": "dry"}, "input", "Additional properties"),
    ],
    ids=["no-topic", "empty-topic", "topic-too-long", "topic-int", "review-str", "extra"],
)
async def test_article_input_failing_its_schema_is_422(
    harness: Harness, input_: dict, field: str, words: str
) -> None:
    error = await error_of(await post_job(harness, {"flow": "article", "input": input_}), 422)
    assert "article" in error["message"]
    assert [(p["field"], words in p["message"]) for p in error["details"]] == [(field, True)]


async def test_every_problem_is_listed(harness: Harness) -> None:
    body = {"flow": "image", "input": {"prompt": "", "size": "huge", "style": 1}}
    error = await error_of(await post_job(harness, body), 422)
    assert sorted(fields(error)) == ["input", "input.prompt", "input.size"]


async def test_nothing_is_created_by_a_refused_request(harness: Harness) -> None:
    await error_of(await post_job(harness, {"flow": "article", "input": {}}), 422)
    response = await harness.client.get("/api/jobs", headers=harness.headers())
    assert (await response.get_json())["jobs"] == []


async def test_oversized_body_is_413(tmp_path: Path) -> None:
    async with running_app(tmp_path, max_body_bytes=300) as h:
        ok = await post_job(h, {"flow": "article", "input": {"topic": "x" * 100}})
        assert ok.status_code == 201
        big = {"flow": "article", "input": {"topic": "x" * 400}}
        error = await error_of(await post_job(h, big), 413)
        assert "large" in error["message"]
        job = await waiting_review_job(h)
        decision = {"review_id": job["review"]["id"], "decision": "reject", "comment": "x" * 400}
        response = await h.client.post(
            f"/api/jobs/{job['id']}/review", json=decision, headers=h.headers()
        )
        await error_of(response, 413)
        assert (await h.job(job["id"]))["status"] == "waiting_for_review"


async def test_strings_longer_than_max_input_chars_are_422(tmp_path: Path) -> None:
    async with running_app(tmp_path, max_input_chars=50) as h:
        ok = await post_job(h, {"flow": "article", "input": {"topic": "x" * 50}})
        assert ok.status_code == 201
        error = await error_of(
            await post_job(h, {"flow": "article", "input": {"topic": "x" * 51}}), 422
        )
        assert error["details"] == [
            {"field": "input.topic", "message": "longer than 50 characters"}
        ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("limit=" + "9" * 5000, "limit"),
        ("status=done", "status"),
        ("status=COMPLETED", "status"),
    ],
)
async def test_invalid_list_query_params_are_422(harness: Harness, query: str, field: str) -> None:
    response = await harness.client.get(f"/api/jobs?{query}", headers=harness.headers())
    error = await error_of(response, 422)
    assert fields(error) == [field]


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [
        ("after=-1", {}, "after"),
        ("after=x", {}, "after"),
        (f"after={2**64}", {}, "after"),
        ("limit=0", {}, "limit"),
        ("limit=5001", {}, "limit"),
        ("", {"Last-Event-ID": "seven"}, "Last-Event-ID"),
        ("", {"Last-Event-ID": str(10**30)}, "Last-Event-ID"),
    ],
)
async def test_invalid_events_query_params_are_422(
    harness: Harness, query: str, headers: dict, field: str
) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    accept = "text/event-stream" if headers else "application/json"
    response = await harness.client.get(
        f"/api/jobs/{job['id']}/events?{query}",
        headers={**harness.headers(), "Accept": accept, **headers},
    )
    error = await error_of(response, 422)
    assert fields(error) == [field]


# -- reviews and cancel: state conflicts (409) ----------------------------------------


async def test_decision_body_errors(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    url, review_id = f"/api/jobs/{job['id']}/review", job["review"]["id"]
    headers = harness.headers()
    await error_of(await harness.client.post(url, data=b"{", headers=headers), 400)
    await error_of(await harness.client.post(url, data=b"", headers=headers), 400)
    await error_of(await harness.client.post(url, json=["approve"], headers=headers), 400)
    for body, field in [
        ({"decision": "approve"}, "review_id"),
        ({"review_id": review_id}, "decision"),
        ({"review_id": 1, "decision": "approve"}, "review_id"),
        ({"review_id": review_id, "decision": True}, "decision"),
        ({"review_id": review_id, "decision": "approve", "comment": 3}, "comment"),
        ({"review_id": review_id, "decision": "approve", "via": "fax"}, "via"),
        ({"review_id": review_id, "decision": "approve", "vote": 1}, "vote"),
    ]:
        error = await error_of(await harness.client.post(url, json=body, headers=headers), 422)
        assert mentions(error, field), (body, error)
    assert (await harness.job(job["id"]))["status"] == "waiting_for_review"


async def test_invalid_decision_option_is_422(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    response = await harness.decide(job["id"], "maybe", review_id=job["review"]["id"])
    error = await error_of(response, 422)
    assert fields(error) == ["decision"]
    assert "approve" in error["details"][0]["message"]
    after = await harness.job(job["id"])
    assert after["status"] == "waiting_for_review"
    assert after["review"]["id"] == job["review"]["id"]


async def test_unknown_review_id_is_409(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    response = await harness.decide(job["id"], "approve", review_id="rev_does_not_exist")
    error = await error_of(response, 409)
    assert error["details"]["open_review_id"] == job["review"]["id"]
    assert (await harness.job(job["id"]))["status"] == "waiting_for_review"


async def test_stale_review_id_is_409_and_changes_nothing(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    first = job["review"]["id"]
    assert (
        await harness.decide(job["id"], "reject", "shorter", review_id=first)
    ).status_code == 200
    second = await harness.wait_for(job["id"], "waiting_for_review")
    while second["review"]["id"] == first:  # still the old review: wait for the next one
        await asyncio.sleep(0.02)
        second = await harness.wait_for(job["id"], "waiting_for_review")
    events_before = await harness.events(job["id"])
    error = await error_of(await harness.decide(job["id"], "approve", review_id=first), 409)
    assert error["details"]["decision"] == "reject"
    assert await harness.events(job["id"]) == events_before
    still = await harness.job(job["id"])
    assert still["status"] == "waiting_for_review"
    assert still["review"]["id"] == second["review"]["id"]


async def test_review_from_another_job_is_409(harness: Harness) -> None:
    one, two = await waiting_review_job(harness), await waiting_review_job(harness)
    response = await harness.decide(one["id"], "approve", review_id=two["review"]["id"])
    error = await error_of(response, 409)
    assert error["details"]["open_review_id"] == one["review"]["id"]
    assert (await harness.job(two["id"]))["status"] == "waiting_for_review"


async def test_decision_while_no_review_is_open_is_409(tmp_path: Path) -> None:
    async with running_app(tmp_path, slow_llm()) as h:
        job = await h.create("review", {"task": "Write a haiku"})
        await h.wait_for(job["id"], "running")
        error = await error_of(await h.decide(job["id"], "approve", review_id="rev_x"), 409)
        assert error["details"]["open_review_id"] is None
        assert (await h.job(job["id"]))["status"] == "running"


async def test_double_decision_is_409_with_the_winner(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    review_id = job["review"]["id"]
    first = await harness.decide(job["id"], "approve", "lovely", review_id=review_id)
    assert first.status_code == 200
    error = await error_of(await harness.decide(job["id"], "reject", review_id=review_id), 409)
    assert error["details"] == {
        "decision": "approve",
        "comment": "lovely",
        "by": "alice",
        "via": "api",
    }
    done = await harness.wait_for(job["id"])
    assert done["status"] == "completed"
    decided = [e for e in await harness.events(job["id"]) if e["type"] == "review.decided"]
    assert [e["data"]["decision"] for e in decided] == ["approve"]


async def test_concurrent_decisions_have_one_winner(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    review_id = job["review"]["id"]
    responses = await asyncio.gather(
        *(
            harness.decide(job["id"], decision, review_id=review_id)
            for decision in ("approve", "reject", "approve", "reject")
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409]
    winner = next(r for r in responses if r.status_code == 200)
    won = (await winner.get_json())["status"]
    assert won in ("running", "pending", "waiting_for_review", "completed")
    for response in responses:
        if response.status_code == 409:
            error = await error_of(response, 409)
            assert error["details"]["decision"] in ("approve", "reject")
    decided = [e for e in await harness.events(job["id"]) if e["type"] == "review.decided"]
    assert len(decided) == 1


async def test_decision_on_a_finished_job_is_409(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    review_id = job["review"]["id"]
    assert (await harness.decide(job["id"], "approve", review_id=review_id)).status_code == 200
    assert (await harness.wait_for(job["id"]))["status"] == "completed"
    await error_of(await harness.decide(job["id"], "approve", review_id=review_id), 409)
    article = await harness.create("article", {"topic": "coffee"})
    assert (await harness.wait_for(article["id"]))["status"] == "completed"
    error = await error_of(await harness.decide(article["id"], "approve", review_id="rev_x"), 409)
    assert error["details"]["open_review_id"] is None


async def test_cancel_of_a_finished_job_is_409(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    assert (await harness.wait_for(job["id"]))["status"] == "completed"
    response = await harness.client.post(f"/api/jobs/{job['id']}/cancel", headers=harness.headers())
    error = await error_of(response, 409)
    assert error["details"] == {"status": "completed"}
    assert (await harness.job(job["id"]))["status"] == "completed"


async def test_cancel_of_a_running_job(tmp_path: Path) -> None:
    async with running_app(tmp_path, slow_llm()) as h:
        job = await h.create("review", {"task": "Write a haiku"})
        await h.wait_for(job["id"], "running")
        response = await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=h.headers())
        assert response.status_code == 200
        assert (await response.get_json())["status"] == "cancelled"
        for _ in range(250):  # the job's task (with its in-flight LLM call) ends
            if h.services.queue.active() == 0:
                break
            await asyncio.sleep(0.02)
        assert h.services.queue.active() == 0
        assert (await h.job(job["id"]))["status"] == "cancelled"  # nothing moved it on
        events = await h.events(job["id"])
        assert events[-1]["type"] == "job.cancelled"
        assert events[-1]["data"] == {"by": "alice"}
        again = await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=h.headers())
        assert (await error_of(again, 409))["details"] == {"status": "cancelled"}


async def test_cancel_of_a_waiting_job_refuses_a_later_decision(harness: Harness) -> None:
    job = await waiting_review_job(harness)
    url = f"/api/jobs/{job['id']}/cancel"
    response = await harness.client.post(url, headers=harness.headers())
    assert response.status_code == 200
    cancelled = await response.get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["review"] is None
    error = await error_of(
        await harness.decide(job["id"], "approve", review_id=job["review"]["id"]), 409
    )
    assert error["details"]["status"] == "cancelled"
    events = await harness.events(job["id"])
    assert events[-1]["type"] == "job.cancelled"
    assert [e["type"] for e in events].count("review.decided") == 0
    assert (await harness.job(job["id"]))["status"] == "cancelled"


async def test_unknown_job_is_404(harness: Harness) -> None:
    headers = harness.headers()
    for method, path in [
        ("get", "/api/jobs/job_nope"),
        ("get", "/api/jobs/job_nope/events"),
        ("post", "/api/jobs/job_nope/cancel"),
        ("get", "/api/artifacts/art_nope"),
    ]:
        await error_of(await getattr(harness.client, method)(path, headers=headers), 404)
    response = await harness.client.post(
        "/api/jobs/job_nope/review", json={"review_id": "r", "decision": "approve"}, headers=headers
    )
    await error_of(response, 404)


# -- auth (401) ------------------------------------------------------------------------


def bad_authorizations(h: Harness) -> dict[str, dict[str, str]]:
    secret = h.services.secret
    expired = issue_token(secret, "alice", ttl=timedelta(seconds=-60))
    forged = issue_token("another-secret-of-at-least-32-bytes!", "alice", ttl=timedelta(hours=1))
    good = h.headers()["Authorization"].split(" ", 1)[1]
    return {
        "missing": {},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "empty-bearer": {"Authorization": "Bearer "},
        "expired": {"Authorization": f"Bearer {expired}"},
        "forged": {"Authorization": f"Bearer {forged}"},
        "basic": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        "no-scheme": {"Authorization": good},
    }


async def test_bad_tokens_are_401(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    for name, headers in bad_authorizations(harness).items():
        for method, path in [
            ("get", "/api/flows"),
            ("get", "/api/jobs"),
            ("post", "/api/jobs"),
            ("get", f"/api/jobs/{job['id']}"),
            ("get", f"/api/jobs/{job['id']}/events"),
            ("post", f"/api/jobs/{job['id']}/cancel"),
        ]:
            response = await getattr(harness.client, method)(path, headers=headers)
            error = await error_of(response, 401)
            if name == "expired":
                assert "expired" in error["message"]
    assert (await harness.job(job["id"]))["status"] != "cancelled"


async def test_401_wins_over_a_bad_body(harness: Harness) -> None:
    await error_of(await harness.client.post("/api/jobs", data=b"{nope"), 401)


async def test_access_token_query_param_on_the_events_endpoint(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    await harness.wait_for(job["id"])
    token = harness.headers()["Authorization"].split(" ", 1)[1]
    url = f"/api/jobs/{job['id']}/events?access_token={token}"
    response = await harness.client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == 200
    events = (await response.get_json())["events"]
    assert events[0]["type"] == "job.created"
    assert events[-1]["type"] == "job.completed"
    stream = await harness.client.get(url, headers={"Accept": "text/event-stream"})
    assert stream.status_code == 200
    assert "event: job.completed" in await stream.get_data(as_text=True)
    bad = await harness.client.get(
        f"/api/jobs/{job['id']}/events?access_token=junk", headers={"Accept": "application/json"}
    )
    await error_of(bad, 401)
    bob = harness.headers("bob")["Authorization"].split(" ", 1)[1]
    other = await harness.client.get(
        f"/api/jobs/{job['id']}/events?access_token={bob}", headers={"Accept": "application/json"}
    )
    await error_of(other, 404)


# -- ownership (404, not 403) ----------------------------------------------------------


async def test_another_principals_things_do_not_exist(harness: Harness) -> None:
    article = await harness.create("article", {"topic": "coffee"})
    done = await harness.wait_for(article["id"])
    artifact_id = done["result"]["artifact_id"]
    waiting = await waiting_review_job(harness)
    bob = harness.headers("bob")
    client = harness.client
    for response in [
        await client.get(f"/api/jobs/{article['id']}", headers=bob),
        await client.get(f"/api/jobs/{article['id']}/events", headers=bob),
        await client.get(
            f"/api/jobs/{article['id']}/events", headers={**bob, "Accept": "application/json"}
        ),
        await client.get(f"/api/artifacts/{artifact_id}", headers=bob),
        await client.get(f"/api/artifacts/{artifact_id}?meta=1", headers=bob),
        await client.post(
            f"/api/jobs/{waiting['id']}/review",
            json={"review_id": waiting["review"]["id"], "decision": "approve"},
            headers=bob,
        ),
        await client.post(f"/api/jobs/{waiting['id']}/cancel", headers=bob),
    ]:
        error = await error_of(response, 404)
        assert "alice" not in error["message"]
    assert (await harness.job(waiting["id"]))["status"] == "waiting_for_review"
    bobs = await harness.create("article", {"topic": "tea"}, sub="bob")
    listed = await (await client.get("/api/jobs", headers=bob)).get_json()
    assert [job["id"] for job in listed["jobs"]] == [bobs["id"]]
    # an owner filter is for admins: bob cannot use it to look at alice's jobs
    spying = await (await client.get("/api/jobs?owner=alice", headers=bob)).get_json()
    assert [job["id"] for job in spying["jobs"]] == [bobs["id"]]


async def test_admin_sees_alices_job(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    done = await harness.wait_for(job["id"])
    admin = harness.headers("root", admin=True)
    response = await harness.client.get(f"/api/jobs/{job['id']}", headers=admin)
    assert response.status_code == 200
    assert (await response.get_json())["owner"] == "alice"
    artifact = await harness.client.get(
        f"/api/artifacts/{done['result']['artifact_id']}", headers=admin
    )
    assert artifact.status_code == 200
    listed = await (await harness.client.get("/api/jobs", headers=admin)).get_json()
    assert job["id"] in [j["id"] for j in listed["jobs"]]
    only = await (await harness.client.get("/api/jobs?owner=bob", headers=admin)).get_json()
    assert only["jobs"] == []


# -- rate limit (429) ------------------------------------------------------------------


async def test_job_creation_is_rate_limited_per_principal(tmp_path: Path) -> None:
    async with running_app(tmp_path, rate_limit_burst=2, rate_limit_per_minute=1) as h:
        body = {"flow": "article", "input": {"topic": "coffee"}}
        assert [(await post_job(h, body)).status_code for _ in range(2)] == [201, 201]
        response = await post_job(h, body)
        error = await error_of(response, 429)
        retry_after = int(response.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert 0 < error["details"]["retry_after"] <= 60
        # one principal's bucket is not another's
        assert (await post_job(h, body, sub="bob")).status_code == 201
        # a request refused for its body costs no token
        await error_of(await post_job(h, {"flow": "article"}, sub="carol"), 422)
        assert [(await post_job(h, body, sub="carol")).status_code for _ in range(2)] == [201, 201]
        listed = await (await h.client.get("/api/jobs", headers=h.headers())).get_json()
        assert len(listed["jobs"]) == 2


# -- routing, health, docs, metrics ----------------------------------------------------


async def test_unknown_route_is_404_json(harness: Harness) -> None:
    await error_of(await harness.client.get("/api/nope", headers=harness.headers()), 404)
    await error_of(await harness.client.get("/nope"), 404)
    await error_of(await harness.client.post("/api/jobs/x/y/z", json={}), 404)


async def test_wrong_method_is_405_json(harness: Harness) -> None:
    headers = harness.headers()
    for method, path in [
        ("delete", "/api/jobs"),
        ("put", "/api/jobs"),
        ("get", "/api/jobs/job_x/cancel"),
        ("get", "/api/jobs/job_x/review"),
        ("post", "/api/health"),
        ("post", "/api/flows"),
    ]:
        response = await getattr(harness.client, method)(path, headers=headers)
        await error_of(response, 405)
        assert "GET" in response.headers["Allow"] or "POST" in response.headers["Allow"]


async def test_health_needs_no_auth(harness: Harness) -> None:
    response = await harness.client.get("/api/health")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["status"] == "ok"
    assert body["store"]["ok"] is True


async def test_openapi_documents_every_route(harness: Harness) -> None:
    response = await harness.client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = await response.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"]
    assert doc["components"]["schemas"]["Error"]
    undocumented = {"/api/openapi.json", "/api/docs"}
    routes = 0
    for rule in harness.app.url_map.iter_rules():
        if rule.websocket or rule.endpoint == "static" or rule.rule in undocumented:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        assert path in doc["paths"], f"{path} is not in the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"][path].get(method.lower())
            assert operation, f"{method} {path} is not in the OpenAPI document"
            assert operation["responses"]
        routes += 1
    assert routes >= 9
    for path, item in doc["paths"].items():
        for parameter in re.findall(r"{([^}]+)}", path):
            for operation in item.values():
                assert parameter in [p["name"] for p in operation.get("parameters", [])]


async def test_docs_page_serves_html(harness: Harness) -> None:
    response = await harness.client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = await response.get_data(as_text=True)
    assert "<html" in html.lower()
    assert "/api/openapi.json" in html


async def test_metrics_expose_jobs_and_llm_tokens(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    assert (await harness.wait_for(job["id"]))["status"] == "completed"
    response = await harness.client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = await response.get_data(as_text=True)
    assert "# TYPE genflow_jobs gauge" in text
    assert 'genflow_jobs{status="completed"} 1.0' in text
    assert 'genflow_jobs{status="running"} 0.0' in text
    tokens = re.findall(r"^genflow_llm_tokens_total\{([^}]*)\} (\S+)$", text, re.MULTILINE)
    assert tokens, text
    assert any('direction="out"' in labels and float(value) > 0 for labels, value in tokens)


# -- listing ---------------------------------------------------------------------------


async def test_job_list_is_newest_first_and_paginates(harness: Harness) -> None:
    created = [(await harness.create("article", {"topic": f"topic {i}"}))["id"] for i in range(7)]
    await harness.create("article", {"topic": "not alice's"}, sub="bob")
    response = await harness.client.get("/api/jobs", headers=harness.headers())
    listed = await response.get_json()
    assert [job["id"] for job in listed["jobs"]] == created[::-1]
    assert listed["next_cursor"] is None
    for limit in (1, 2, 3, 7, 100):
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            page = await (
                await harness.client.get(f"/api/jobs?{query}", headers=harness.headers())
            ).get_json()
            assert len(page["jobs"]) <= limit
            seen += [job["id"] for job in page["jobs"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert pages <= len(created) + 1
        assert seen == created[::-1], limit


async def test_job_list_filters_by_status_and_flow(harness: Harness) -> None:
    articles = [(await harness.create("article", {"topic": t}))["id"] for t in ("tea", "coffee")]
    review = (await waiting_review_job(harness))["id"]
    for job_id in articles:
        assert (await harness.wait_for(job_id))["status"] == "completed"

    async def ids(query: str) -> list[str]:
        response = await harness.client.get(f"/api/jobs?{query}", headers=harness.headers())
        assert response.status_code == 200, await response.get_data(as_text=True)
        return [job["id"] for job in (await response.get_json())["jobs"]]

    assert await ids("status=completed") == articles[::-1]
    assert await ids("status=waiting_for_review") == [review]
    assert await ids("status=failed") == []
    assert await ids("flow=review") == [review]
    assert await ids("flow=article") == articles[::-1]
    assert await ids("flow=article&status=waiting_for_review") == []
    assert await ids("flow=image") == []
    assert await ids("flow=no-such-flow") == []
    assert await ids("status=completed&limit=1") == [articles[1]]
    assert await ids(f"status=completed&limit=1&cursor={articles[1]}") == [articles[0]]


async def test_access_token_in_the_query_is_refused_where_headers_work(harness: Harness) -> None:
    """Tokens in URLs end up in logs: only SSE, WebSocket and artifacts accept them."""
    token = harness.headers()["Authorization"].split(" ", 1)[1]
    response = await harness.client.get(f"/api/jobs?access_token={token}")
    assert response.status_code == 401


async def test_a_refused_input_does_not_use_up_the_rate_limit(tmp_path: Path) -> None:
    async with running_app(tmp_path, rate_limit_burst=1, rate_limit_per_minute=0.01) as h:
        for _ in range(3):
            response = await h.client.post(
                "/api/jobs", json={"flow": "article", "input": {}}, headers=h.headers()
            )
            assert response.status_code == 422
        await h.create("article", {"topic": "counted"})
        response = await h.client.post(
            "/api/jobs", json={"flow": "article", "input": {"topic": "x"}}, headers=h.headers()
        )
        assert response.status_code == 429
