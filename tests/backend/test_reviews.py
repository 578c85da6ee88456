"""Reviews: who may decide (one rule), edit before approve, review terms, and the audit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from pocketflow import AsyncFlow, AsyncNode

from flows.gate import HumanReview
from flows.registry import FlowSpec, default_flows
from tests.backend.test_api_errors import error_of
from tests.harness import STYLED_TEXT, Harness, running_app


async def create(h: Harness, flow: str, input_: dict[str, Any], sub: str = "alice", **terms: Any):
    response = await h.client.post(
        "/api/jobs", json={"flow": flow, "input": input_, **terms}, headers=h.headers(sub)
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def decide(h: Harness, job: dict[str, Any], sub: str, **body: Any):
    body.setdefault("review_id", job["review"]["id"])
    return await h.client.post(f"/api/jobs/{job['id']}/review", json=body, headers=h.headers(sub))


def of_type(events: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == type_]


# -- a flow with two gates, each with its own assignee --------------------------------


class Draft(AsyncNode):
    async def post_async(self, shared: dict, prep_res: Any, exec_res: Any) -> str:
        shared["text"] = "a draft"
        return "default"


class Done(AsyncNode):
    async def post_async(self, shared: dict, prep_res: Any, exec_res: Any) -> str:
        shared["result"] = {"text": shared["text"], "reviews": shared.get("reviews", [])}
        return "default"


class Shown(HumanReview):
    def payload(self, shared: dict) -> dict[str, Any]:
        return {"text": shared["text"]}


def two_gates() -> AsyncFlow:
    draft, done = Draft(), Done()
    legal = Shown(("approve", "reject"), name="Legal", assignees=("dave",))
    editor = Shown(("approve", "reject", "edit"), name="Editor", assignees=("erin",))
    draft >> legal
    legal - "approve" >> editor
    editor - "approve" >> done
    return AsyncFlow(start=draft)


def flows_with_two_gates() -> dict[str, FlowSpec]:
    return {
        **default_flows(),
        "two_gates": FlowSpec(
            name="two_gates",
            title="Two gates",
            description="legal, then the editor",
            input_schema={"type": "object"},
            build=lambda _input: two_gates(),
            review_options=("approve", "reject", "edit"),
        ),
        "no_review": FlowSpec(
            name="no_review",
            title="No review",
            description="nothing to review",
            input_schema={"type": "object"},
            build=lambda _input: AsyncFlow(start=Done()),
        ),
    }


@pytest.fixture
async def h(tmp_path: Path):
    async with running_app(tmp_path, flows=flows_with_two_gates()) as harness:
        yield harness


# -- who may decide --------------------------------------------------------------------


async def test_a_reviewer_sees_lists_and_decides_a_job_they_do_not_own(h: Harness) -> None:
    job = await create(h, "review", {"task": "Write a haiku"}, reviewers=["bob"])
    assert job["reviewers"] == ["bob"]
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    assert waiting["review"]["assignees"] == ["bob"]

    seen = await h.client.get(f"/api/jobs/{job['id']}", headers=h.headers("bob"))
    assert seen.status_code == 200 and (await seen.get_json())["owner"] == "alice"
    assert (await h.events(job["id"], sub="bob"))[0]["type"] == "job.created"
    inbox = await h.client.get(
        "/api/jobs?assigned=me&status=waiting_for_review", headers=h.headers("bob")
    )
    assert [j["id"] for j in (await inbox.get_json())["jobs"]] == [job["id"]]
    own = await (await h.client.get("/api/jobs", headers=h.headers("bob"))).get_json()
    assert own["jobs"] == [], "a plain list is still the caller's own jobs"
    spying = await h.client.get("/api/jobs?assigned=alice", headers=h.headers("bob"))
    await error_of(spying, 422)

    # bob decides as bob, whatever surface he names: no one may claim a name (`by`)
    await error_of(await decide(h, waiting, "bob", decision="approve", by="mallory"), 422)
    answer = await decide(h, waiting, "bob", decision="approve", via="slack")
    assert answer.status_code == 200, await answer.get_data(as_text=True)
    done = await h.wait_for(job["id"], sub="bob")
    assert done["status"] == "completed"
    (decided,) = of_type(await h.events(job["id"]), "review.decided")
    assert (decided["by"], decided["via"]) == ("bob", "slack")


async def test_a_stranger_gets_404_everywhere(h: Harness) -> None:
    job = await create(h, "review", {"task": "Write a haiku"}, reviewers=["bob"])
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    carol = h.headers("carol")
    for response in [
        await h.client.get(f"/api/jobs/{job['id']}", headers=carol),
        await h.client.get(f"/api/jobs/{job['id']}/reviews", headers=carol),
        await h.client.get(
            f"/api/jobs/{job['id']}/events", headers={**carol, "Accept": "application/json"}
        ),
        await decide(h, waiting, "carol", decision="approve"),
        await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=carol),
    ]:
        await error_of(response, 404)
    listed = await h.client.get("/api/jobs?assigned=me", headers=carol)
    assert (await listed.get_json())["jobs"] == []
    assert (await h.job(job["id"]))["status"] == "waiting_for_review"


async def test_who_can_see_but_is_not_assigned_gets_403_and_changes_nothing(h: Harness) -> None:
    job = await create(h, "two_gates", {})
    legal = await h.wait_for(job["id"], "waiting_for_review")
    assert legal["review"]["node"] == "Legal" and legal["review"]["assignees"] == ["dave"]
    # erin is the editor's assignee: she sees the job once the editor's review opens
    await error_of(await h.client.get(f"/api/jobs/{job['id']}", headers=h.headers("erin")), 404)
    assert (await decide(h, legal, "dave", decision="approve")).status_code == 200

    editor = await h.wait_for(job["id"], "waiting_for_review")
    assert editor["review"]["node"] == "Editor" and editor["review"]["assignees"] == ["erin"]
    # dave (legal's assignee) still sees the job, but this review is not his
    seen = await h.client.get(f"/api/jobs/{job['id']}", headers=h.headers("dave"))
    assert seen.status_code == 200
    before = await h.events(job["id"])
    error = await error_of(await decide(h, editor, "dave", decision="approve"), 403)
    assert error["code"] == "forbidden"
    await error_of(await decide(h, editor, "dave", decision="approve", via="web"), 403)
    # dave's own, decided review: a 409 with the winner (he may decide it), not a 403
    again = await decide(h, editor, "dave", decision="approve", review_id=legal["review"]["id"])
    assert (await error_of(again, 409))["details"]["by"] == "dave"
    await error_of(
        await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=h.headers("dave")), 403
    )
    assert await h.events(job["id"]) == before
    assert (await h.job(job["id"]))["review"]["id"] == editor["review"]["id"]

    answer = await decide(h, editor, "erin", decision="approve")
    assert answer.status_code == 200, await answer.get_data(as_text=True)
    assert (await h.wait_for(job["id"]))["status"] == "completed"
    for who in ("dave", "erin"):
        listed = await h.client.get("/api/jobs?assigned=me", headers=h.headers(who))
        assert [j["id"] for j in (await listed.get_json())["jobs"]] == [job["id"]]


async def test_may_cancel_says_whom_the_api_lets_cancel(h: Harness) -> None:
    """Every job answer says whether its caller may cancel the job (the rule the cancel
    route applies): the owner and admins may, an assignee who sees the job may not."""
    job = await create(h, "review", {"task": "Write a haiku"}, reviewers=["bob"])
    assert job["may_cancel"] is True
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    assert waiting["may_cancel"] is True
    path = f"/api/jobs/{job['id']}"
    for who, admin, may in (("bob", False, False), ("root", True, True)):
        seen = await h.client.get(path, headers=h.headers(who, admin=admin))
        assert (await seen.get_json())["may_cancel"] is may, who
    inbox = await h.client.get("/api/jobs?assigned=me", headers=h.headers("bob"))
    assert [j["may_cancel"] for j in (await inbox.get_json())["jobs"]] == [False]
    own = await h.client.get("/api/jobs", headers=h.headers())
    assert [j["may_cancel"] for j in (await own.get_json())["jobs"]] == [True]

    refused = await h.client.post(f"{path}/cancel", headers=h.headers("bob"))
    error = await error_of(refused, 403)
    assert error["message"] == "only the job's owner (or an admin) can cancel it"
    decided = await decide(h, waiting, "bob", decision="reject", comment="shorter")
    assert (await decided.get_json())["may_cancel"] is False  # bob's answer, as bob
    cancelled = await h.client.post(f"{path}/cancel", headers=h.headers())
    assert cancelled.status_code == 200
    assert (await cancelled.get_json())["status"] == "cancelled"


async def test_may_decide_says_whom_the_api_lets_decide_the_open_review(h: Harness) -> None:
    """Every job answer says whether its caller may decide the job's open review, by the
    rule the decide route applies: the owner, admins and that review's assignees may; an
    assignee of another review of the job sees it but may not; with no review open, nobody
    may (the answer is about the open review, not about the job)."""
    job = await create(h, "two_gates", {})
    assert job["may_decide"] is False  # created: no review open yet
    legal = await h.wait_for(job["id"], "waiting_for_review")
    path = f"/api/jobs/{job['id']}"

    async def may(who: str, admin: bool = False) -> bool:
        seen = await h.client.get(path, headers=h.headers(who, admin=admin))
        assert seen.status_code == 200, who
        return (await seen.get_json())["may_decide"]

    assert legal["may_decide"] is True  # alice's own job
    assert [await may("alice"), await may("root", admin=True), await may("dave")] == [True] * 3
    inbox = await h.client.get("/api/jobs?assigned=me", headers=h.headers("dave"))
    assert [j["may_decide"] for j in (await inbox.get_json())["jobs"]] == [True]
    decided = await decide(h, legal, "dave", decision="approve")
    assert (await decided.get_json())["may_decide"] is False  # legal's review is closed

    editor = await h.wait_for(job["id"], "waiting_for_review")
    assert editor["review"]["assignees"] == ["erin"]
    # dave still sees the job, but the open review is erin's: what its 403 enforces
    assert [await may("dave"), await may("erin"), await may("alice")] == [False, True, True]
    assert await may("root", admin=True) is True
    inbox = await h.client.get("/api/jobs?assigned=me", headers=h.headers("dave"))
    assert [j["may_decide"] for j in (await inbox.get_json())["jobs"]] == [False]
    await error_of(await decide(h, editor, "dave", decision="approve"), 403)

    cancelled = await h.client.post(f"{path}/cancel", headers=h.headers())
    assert (await cancelled.get_json())["may_decide"] is False  # nothing open any more
    assert [await may("alice"), await may("erin")] == [False, False]


async def test_owner_and_admin_decide_and_each_is_recorded_as_themselves(h: Harness) -> None:
    first = await create(h, "two_gates", {})
    legal = await h.wait_for(first["id"], "waiting_for_review")
    assert (await decide(h, legal, "alice", decision="approve")).status_code == 200
    editor = await h.wait_for(first["id"], "waiting_for_review")
    root = h.headers("root", admin=True)
    answer = await h.client.post(
        f"/api/jobs/{first['id']}/review",
        json={"review_id": editor["review"]["id"], "decision": "approve", "via": "web"},
        headers=root,
    )
    assert answer.status_code == 200
    assert (await h.wait_for(first["id"]))["status"] == "completed"
    decided = of_type(await h.events(first["id"]), "review.decided")
    assert [(d["by"], d["via"]) for d in decided] == [("alice", "api"), ("root", "web")]

    # an admin token acting for a Slack user has that person's rights, not its own
    second = await create(h, "review", {"task": "Write a haiku"})
    waiting = await h.wait_for(second["id"], "waiting_for_review")
    answer = await h.client.post(
        f"/api/jobs/{second['id']}/review",
        json={"review_id": waiting["review"]["id"], "decision": "approve", "via": "slack"},
        headers={**root, "X-GenFlow-On-Behalf-Of": "slack:T1:U9"},
    )
    await error_of(answer, 404)


async def test_an_assignee_reads_the_artifacts_of_the_job(h: Harness) -> None:
    job = await create(h, "article", {"topic": "coffee", "review": True}, reviewers=["bob"])
    waiting = await h.wait_for(job["id"], "waiting_for_review", timeout=30)
    artifact_id = waiting["review"]["payload"]["artifact_id"]
    shown = await h.client.get(f"/api/artifacts/{artifact_id}", headers=h.headers("bob"))
    assert shown.status_code == 200 and b"Coffee" in await shown.get_data()
    await error_of(
        await h.client.get(f"/api/artifacts/{artifact_id}", headers=h.headers("carol")), 404
    )


# -- review terms at creation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"reviewers": "bob"}, "body.reviewers"),
        ({"reviewers": ["a b"]}, "body.reviewers.0"),
        ({"reviewers": ["genflow"]}, "body.reviewers.0"),
        ({"reviewers": ["bob", "bob"]}, "body.reviewers"),
        ({"reviewers": [f"p{i}" for i in range(21)]}, "body.reviewers"),
        ({"review_timeout": 0}, "body.review_timeout"),
        ({"review_timeout": "60"}, "body.review_timeout"),
        ({"review_timeout": 10**9}, "body.review_timeout"),
        ({"review_timeout": 60, "on_timeout": "revise"}, "body.on_timeout"),
        ({"review_timeout": 60, "on_timeout": "edit"}, "body.on_timeout"),
    ],
)
async def test_bad_review_terms_are_422_and_create_nothing(
    h: Harness, terms: dict[str, Any], field: str
) -> None:
    response = await h.client.post(
        "/api/jobs",
        json={"flow": "review", "input": {"task": "t"}, **terms},
        headers=h.headers(),
    )
    error = await error_of(response, 422)
    assert field in [d["field"] for d in error["details"]], error
    assert (await (await h.client.get("/api/jobs", headers=h.headers())).get_json())["jobs"] == []


async def test_review_terms_need_a_flow_with_reviews(h: Harness) -> None:
    response = await h.client.post(
        "/api/jobs",
        json={"flow": "no_review", "input": {}, "reviewers": ["bob"]},
        headers=h.headers(),
    )
    assert "asks for no reviews" in (await error_of(response, 422))["details"][0]["message"]


# -- edit before approve -----------------------------------------------------------------


async def test_an_edit_of_the_task_answer_is_the_result_with_a_diff(h: Harness) -> None:
    job = await create(h, "review", {"task": "Write a haiku"})
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    review = waiting["review"]
    assert review["options"] == ["approve", "reject", "edit"]
    assert review["editable"] == ["output"]
    shown = review["payload"]["output"]
    edited = "An old pond.\nA frog jumps in.\nThe sound of water."
    answer = await decide(h, waiting, "alice", decision="edit", edits={"output": edited})
    assert answer.status_code == 200, await answer.get_data(as_text=True)
    done = await h.wait_for(job["id"])
    assert done["status"] == "completed"
    assert done["result"] == {"output": edited, "attempts": 1}
    events = await h.events(job["id"])
    (decided,) = of_type(events, "review.decided")
    assert decided["decision"] == "edit" and decided["edits"] == {"output": edited}
    diff = decided["diff"]["output"]
    assert diff.startswith("--- output (shown)\n+++ output (decided)\n@@")
    assert f"-{shown}\n" in diff and "+A frog jumps in.\n" in diff
    assert [e["data"]["node"] for e in events if e["type"] == "node.finished"][-1] == "Result"


async def test_an_edit_of_the_final_article_is_the_result(h: Harness) -> None:
    job = await create(h, "article", {"topic": "coffee", "review": True})
    waiting = await h.wait_for(job["id"], "waiting_for_review", timeout=30)
    review = waiting["review"]
    assert review["options"] == ["approve", "revise", "edit"]
    assert review["editable"] == ["title", "markdown"]
    assert STYLED_TEXT[:40] in review["payload"]["markdown"]
    mine = "# Coffee, my way\n\nI rewrote this myself: beans, water, patience.\n"
    answer = await decide(h, waiting, "alice", decision="edit", edits={"markdown": mine})
    assert answer.status_code == 200, await answer.get_data(as_text=True)
    done = await h.wait_for(job["id"], timeout=30)
    assert done["status"] == "completed"
    assert done["result"]["markdown"] == mine
    assert done["result"]["artifact_id"] != review["payload"]["artifact_id"]
    stored = await h.client.get(
        f"/api/artifacts/{done['result']['artifact_id']}", headers=h.headers()
    )
    assert (await stored.get_data(as_text=True)) == mine
    (decided,) = of_type(await h.events(job["id"]), "review.decided")
    assert "+I rewrote this myself: beans, water, patience.\n" in decided["diff"]["markdown"]
    assert "-# Coffee, a history\n" in decided["diff"]["markdown"]


async def test_a_new_title_alone_renames_the_article(h: Harness) -> None:
    job = await create(h, "article", {"topic": "coffee", "review": True})
    waiting = await h.wait_for(job["id"], "waiting_for_review", timeout=30)
    answer = await decide(h, waiting, "alice", decision="edit", edits={"title": "Bean there"})
    assert answer.status_code == 200
    done = await h.wait_for(job["id"], timeout=30)
    assert done["result"]["title"] == "Bean there"
    assert done["result"]["markdown"].startswith("# Bean there\n\n")
    (decided,) = of_type(await h.events(job["id"]), "review.decided")
    assert decided["diff"] == {"title": "--- title (shown)\n+++ title (decided)\n@@ -1 +1 @@\n"
                               "-Coffee, a history\n+Bean there\n"}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "edit", "edits": {"nope": "x"}}, "body.edits.nope"),
        ({"decision": "edit", "edits": {"output": 5}}, "body.edits.output"),
        ({"decision": "edit", "edits": {"output": None}}, "body.edits.output"),
        ({"decision": "edit", "edits": {"task": "another task"}}, "body.edits.task"),
        ({"decision": "edit", "edits": {}}, "body.edits"),
        ({"decision": "edit"}, "body.edits"),
        ({"decision": "approve", "edits": {"output": "x"}}, "body.edits"),
        ({"decision": "edit", "edits": "output"}, "body.edits"),
    ],
)
async def test_bad_edits_are_422_and_change_nothing(
    h: Harness, body: dict[str, Any], field: str
) -> None:
    job = await create(h, "review", {"task": "Write a haiku"})
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    before = await h.events(job["id"])
    error = await error_of(await decide(h, waiting, "alice", **body), 422)
    assert field in [d["field"] for d in error["details"]], error
    assert await h.events(job["id"]) == before
    after = await h.job(job["id"])
    assert after["status"] == "waiting_for_review" and after["review"] == waiting["review"]
    assert (await decide(h, waiting, "alice", decision="approve")).status_code == 200


async def test_a_gate_without_edit_refuses_an_edit(h: Harness) -> None:
    job = await create(h, "image", {"prompt": "a lighthouse"})
    waiting = await h.wait_for(job["id"], "waiting_for_review")
    assert waiting["review"]["editable"] == []
    response = await decide(h, waiting, "alice", decision="edit", edits={"prompt": "x"})
    assert (await error_of(response, 422))["details"][0]["field"] == "decision"


# -- the audit ---------------------------------------------------------------------------


def sha256_of(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def test_the_audit_lists_every_request_and_decision(h: Harness) -> None:
    job = await create(h, "review", {"task": "Write a haiku"}, reviewers=["bob"])
    first = await h.wait_for(job["id"], "waiting_for_review")
    answer = await decide(h, first, "bob", decision="reject", comment="more autumn", via="web")
    assert answer.status_code == 200
    second = await h.wait_for(job["id"], "waiting_for_review")
    audit = await (
        await h.client.get(f"/api/jobs/{job['id']}/reviews", headers=h.headers("bob"))
    ).get_json()
    assert audit["job_id"] == job["id"] and audit["owner"] == "alice"
    assert [r["state"] for r in audit["reviews"]] == ["decided", "open"]
    assert audit["reviews"][1]["decision"] is None

    answer = await decide(h, second, "alice", decision="edit", edits={"output": "Leaves fall."})
    assert answer.status_code == 200
    await h.wait_for(job["id"])
    response = await h.client.get(f"/api/jobs/{job['id']}/reviews", headers=h.headers())
    assert response.status_code == 200
    rejected, edited = (await response.get_json())["reviews"]
    requested = of_type(await h.events(job["id"]), "review.requested")
    for entry, shown in zip((rejected, edited), requested, strict=True):
        assert entry["review_id"] == shown["id"]
        assert entry["payload_sha256"] == sha256_of(shown["payload"])
        assert entry["requested_at"] == shown["requested_at"]
        assert entry["assignees"] == ["bob"] and entry["node"] == "TaskReview"
        assert entry["deadline"] is None and entry["reminded_at"] is None
    assert rejected["payload_sha256"] != edited["payload_sha256"]
    assert rejected["state"] == "decided"
    assert {k: rejected["decision"][k] for k in ("decision", "comment", "by", "via")} == {
        "decision": "reject",
        "comment": "more autumn",
        "by": "bob",
        "via": "web",
    }
    assert rejected["decision"]["edits"] is None and rejected["decision"]["at"]
    assert edited["decision"]["decision"] == "edit" and edited["decision"]["by"] == "alice"
    assert edited["decision"]["edits"] == {"output": "Leaves fall."}
    assert "+Leaves fall.\n" in edited["decision"]["diff"]["output"]


async def test_a_review_closed_by_a_cancel_is_closed_in_the_audit(h: Harness) -> None:
    job = await create(h, "review", {"task": "Write a haiku"})
    await h.wait_for(job["id"], "waiting_for_review")
    await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=h.headers())
    audit = await (
        await h.client.get(f"/api/jobs/{job['id']}/reviews", headers=h.headers())
    ).get_json()
    assert [(r["state"], r["decision"]) for r in audit["reviews"]] == [("closed", None)]
