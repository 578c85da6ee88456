"""Workflows over the API: stored, versioned, run as jobs by the durable runner, measured.

Each node type runs inside a real job (the scripted model answers the `llm` nodes), so a
run is checkpointed, streamed and reviewable like any other job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flows.pilot.library import TEMPLATES
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.backend.test_api_errors import error_of
from tests.harness import Harness, running_app

DRAFT = "Coffee came from Ethiopia and spread through Yemen to the world."
REDRAFT = "Coffee began in Ethiopia; the kettle came much later."


def model() -> ScriptedLLM:
    return ScriptedLLM(
        [
            Reply(REDRAFT, match="mention the kettle"),
            Reply(DRAFT, match="Write a short article"),
            Reply("Three values, squares 1 and 4.", match="Their squares"),
            Reply("no", match="angry or upset"),
        ]
    )


async def store(h: Harness, spec: dict[str, Any], sub: str = "alice") -> dict[str, Any]:
    response = await h.client.post("/api/workflows", json=spec, headers=h.headers(sub))
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def execute(h: Harness, workflow_id: str, input_data: dict[str, Any], **terms: Any) -> Any:
    return await h.client.post(
        f"/api/workflows/{workflow_id}/execute",
        json={"input_data": input_data, **terms},
        headers=h.headers(),
    )


async def test_a_workflow_with_a_review_loop_runs_to_its_output(tmp_path: Path) -> None:
    async with running_app(tmp_path, model()) as h:
        made = await store(h, TEMPLATES["content_generation"].spec())
        started = await execute(h, made["workflow_id"], {"topic": "coffee"})
        assert started.status_code == 201
        job = await started.get_json()
        assert job["workflow_id"] == made["workflow_id"]

        waiting = await h.wait_for(job["id"], "waiting_for_review")
        assert waiting["review"]["payload"]["show"] == DRAFT
        assert waiting["review"]["options"] == ["approve", "reject"]
        assert (await h.decide(job["id"], "reject", "mention the kettle")).status_code == 200
        again = await h.wait_for(job["id"], "waiting_for_review")
        assert again["review"]["payload"]["show"] == REDRAFT  # the comment reached the model
        assert (await h.decide(job["id"], "approve")).status_code == 200
        done = await h.wait_for(job["id"])
        assert done["status"] == "completed", done["error"]
        assert done["result"]["output"] == REDRAFT

        listed = await (
            await h.client.get(
                f"/api/workflows/{made['workflow_id']}/executions", headers=h.headers()
            )
        ).get_json()
        runs = listed["executions"][0]["nodes"]
        assert [r["node"] for r in runs] == ["start", "draft", "edit", "draft", "edit", "article"]
        assert all(r["status"] == "completed" for r in runs)
        assert runs[1]["tokens_out"] > 0 and runs[1]["duration_ms"] is not None

        stats = await (
            await h.client.get(f"/api/workflows/{made['workflow_id']}/stats", headers=h.headers())
        ).get_json()
        assert stats["executions"] == 1 and stats["completed"] == 1
        assert stats["nodes"]["draft"]["runs"] == 2
        assert stats["nodes"]["draft"]["success_rate"] == 1.0


async def test_a_run_names_reviewers_who_see_it_and_decide_its_review(tmp_path: Path) -> None:
    """The review terms of POST /api/jobs, on an execution: bob, assigned, sees alice's
    run and decides its review node; he may not cancel it."""
    async with running_app(tmp_path, model()) as h:
        made = await store(h, TEMPLATES["content_generation"].spec())
        terms = {"reviewers": ["bob"], "review_timeout": 3600, "on_timeout": "approve"}
        started = await execute(h, made["workflow_id"], {"topic": "coffee"}, **terms)
        assert started.status_code == 201, await started.get_data(as_text=True)
        job = await started.get_json()
        assert (job["owner"], job["reviewers"], job["may_cancel"]) == ("alice", ["bob"], True)
        assert (job["review_timeout"], job["on_timeout"]) == (3600, "approve")

        waiting = await h.wait_for(job["id"], "waiting_for_review")
        review = waiting["review"]
        assert review["assignees"] == ["bob"]
        assert review["on_timeout"] == "approve" and review["deadline"] is not None
        seen = await h.client.get(f"/api/jobs/{job['id']}", headers=h.headers("bob"))
        assert seen.status_code == 200
        assert (await seen.get_json())["may_cancel"] is False
        inbox = await h.client.get("/api/jobs?assigned=me", headers=h.headers("bob"))
        assert [j["id"] for j in (await inbox.get_json())["jobs"]] == [job["id"]]
        bob_cancels = await h.client.post(f"/api/jobs/{job['id']}/cancel", headers=h.headers("bob"))
        assert "owner" in (await error_of(bob_cancels, 403))["message"]

        assert await executed(h, made["workflow_id"]) == [(job["id"], True, True)]

        answer = await h.decide(job["id"], "approve", sub="bob", review_id=review["id"])
        assert answer.status_code == 200, await answer.get_data(as_text=True)
        done = await h.wait_for(job["id"], sub="bob")
        assert done["status"] == "completed", done["error"]
        assert done["result"]["output"] == DRAFT
        (decided,) = [e["data"] for e in await h.events(job["id"]) if e["type"] == "review.decided"]
        assert (decided["decision"], decided["by"]) == ("approve", "bob")
        assert await executed(h, made["workflow_id"]) == [(job["id"], True, False)]


async def executed(h: Harness, workflow_id: str, sub: str = "alice") -> list[tuple[str, Any, Any]]:
    """A workflow's executions as `sub` is answered them: each job's id, `may_cancel` and
    `may_decide`, which every job answer carries (api/jobs.py `shown`)."""
    runs = f"/api/workflows/{workflow_id}/executions"
    listed = await (await h.client.get(runs, headers=h.headers(sub))).get_json()
    return [
        (run["job"]["id"], run["job"].get("may_cancel"), run["job"].get("may_decide"))
        for run in listed["executions"]
    ]


@pytest.mark.parametrize(
    ("template", "terms", "field", "says"),
    [
        ("content_generation", {"reviewers": ["genflow"]}, "body.reviewers.0", "reserved"),
        ("content_generation", {"reviewers": ["bob smith"]}, "body.reviewers.0", "without spaces"),
        ("content_generation", {"reviewers": "bob"}, "body.reviewers", "array"),
        ("content_generation", {"review_timeout": 0}, "body.review_timeout", "minimum"),
        (
            "content_generation",
            {"review_timeout": 60, "on_timeout": "edit"},
            "body.on_timeout",
            "use one of: approve, reject, cancel",
        ),
        ("summarize_text", {"reviewers": ["bob"]}, "body", "the workflow asks for no reviews"),
    ],
)
async def test_bad_review_terms_on_a_run_are_422_and_run_nothing(
    tmp_path: Path, template: str, terms: dict[str, Any], field: str, says: str
) -> None:
    async with running_app(tmp_path, model()) as h:
        made = await store(h, TEMPLATES[template].spec())
        input_data = {"topic": "coffee"} if template == "content_generation" else {"text": "t"}
        refused = await execute(h, made["workflow_id"], input_data, **terms)
        error = await error_of(refused, 422)
        assert [d["field"] for d in error["details"]] == [field], error
        assert says in error["details"][0]["message"], error
        runs = f"/api/workflows/{made['workflow_id']}/executions"
        assert (await (await h.client.get(runs, headers=h.headers())).get_json())[
            "executions"
        ] == []


@pytest.mark.parametrize(
    ("template", "input_data", "terms", "message", "fields"),
    [
        (
            "content_generation",
            {"audience": 3},
            {"review_timeout": 60, "on_timeout": "edit"},
            "invalid input_data for this workflow",
            ["input_data", "input_data.audience", "body.on_timeout"],
        ),
        (
            "summarize_text",
            {},
            {"reviewers": ["bob"]},
            "invalid input_data for this workflow",
            ["input_data", "body"],
        ),
        ("content_generation", {}, {}, "invalid input_data for this workflow", ["input_data"]),
        (
            "content_generation",
            {"topic": "coffee"},
            {"on_timeout": "edit"},
            "invalid input for the workflow",
            ["body.on_timeout"],
        ),
    ],
)
async def test_a_run_is_refused_once_for_all_its_problems(
    tmp_path: Path, template: str, input_data: dict[str, Any], terms: dict[str, Any],
    message: str, fields: list[str],
) -> None:  # fmt: skip
    """Wrong input_data and wrong review terms in one 422, as POST /api/jobs answers a
    wrong input and wrong terms: fixing one does not reveal the other."""
    async with running_app(tmp_path, model()) as h:
        made = await store(h, TEMPLATES[template].spec())
        error = await error_of(await execute(h, made["workflow_id"], input_data, **terms), 422)
        assert error["message"] == message, error
        assert [d["field"] for d in error["details"]] == fields, error
        assert await executed(h, made["workflow_id"]) == []


async def test_a_loop_stops_at_its_bound_and_collects_each_iteration(tmp_path: Path) -> None:
    spec = TEMPLATES["data_analysis"].spec()
    next(n for n in spec["nodes"] if n["type"] == "loop")["config"]["max_iterations"] = 2
    async with running_app(tmp_path, model()) as h:
        made = await store(h, spec)
        job = await (await execute(h, made["workflow_id"], {"numbers": [1, 2, 3]})).get_json()
        done = await h.wait_for(job["id"])
        assert done["status"] == "completed", done["error"]
        output = done["result"]["output"]
        assert output["count"] == 2 and output["squares"] == [1, 4]
        assert output["summary"] == "Three values, squares 1 and 4."


async def test_a_condition_routes_and_the_number_stays_a_number(tmp_path: Path) -> None:
    spec = TEMPLATES["approval_chain"].spec()
    async with running_app(tmp_path, ScriptedLLM([Reply("A laptop for Ana, 1500 EUR.")])) as h:
        made = await store(h, spec)
        for amount, reviews in ((1500, 2), (200, 1)):
            job = await (
                await execute(h, made["workflow_id"], {"request": "a laptop", "amount": amount})
            ).get_json()
            for _ in range(reviews):
                assert (await h.decide(job["id"], "approve")).status_code == 200
            done = await h.wait_for(job["id"])
            assert done["result"]["output"]["status"] == "approved"
            events = await h.events(job["id"])
            decided = [e for e in events if e["type"] == "review.decided"]
            assert len(decided) == reviews, f"amount {amount}: {len(decided)} reviews"


async def test_input_is_checked_against_the_input_fields(tmp_path: Path) -> None:
    async with running_app(tmp_path, model()) as h:
        made = await store(h, TEMPLATES["data_analysis"].spec())
        refused = await execute(h, made["workflow_id"], {"numbers": "1,2,3"})
        assert refused.status_code == 422
        body = await refused.get_json()
        assert body["error"]["details"][0]["field"] == "input_data.numbers"


async def test_placeholders_must_be_filled_before_a_run(tmp_path: Path) -> None:
    async with running_app(tmp_path, model()) as h:
        made = await store(h, TEMPLATES["customer_support"].spec())
        assert made["validation"]["placeholders"][0]["node"] == "faq"
        refused = await execute(h, made["workflow_id"], {"message": "hi"})
        assert refused.status_code == 422
        body = await refused.get_json()
        assert "placeholders" in body["error"]["message"]
        assert body["error"]["details"][0]["field"] == "config.base"


async def test_an_invalid_spec_is_refused_with_node_and_field(tmp_path: Path) -> None:
    spec = TEMPLATES["summarize_text"].spec()
    spec["nodes"][1]["config"]["prompt"] = "{{ ''.__class__.__mro__ }}"
    async with running_app(tmp_path, model()) as h:
        response = await h.client.post("/api/workflows", json=spec, headers=h.headers())
        assert response.status_code == 422
        details = (await response.get_json())["error"]["details"]
        assert details[0]["node"] == "summary" and details[0]["field"] == "config.prompt"
        yaml_text = "name: x\nnodes: [oops"
        response = await h.client.post(
            "/api/workflows", json={"workflow": yaml_text}, headers=h.headers()
        )
        assert response.status_code == 422
        assert "neither JSON nor YAML" in (await response.get_json())["error"]["message"]


async def test_data_is_never_rendered_as_a_template(tmp_path: Path) -> None:
    """Input holding template syntax reaches the output as the text it is."""
    async with running_app(tmp_path, ScriptedLLM([Reply("a summary")])) as h:
        spec = TEMPLATES["summarize_text"].spec()
        spec["nodes"][2]["config"]["value"] = {"echo": "{{input.text}}", "s": "{{summary.text}}"}
        made = await store(h, spec)
        sneaky = "{{summary.text}} {{ ''.__class__ }}"
        job = await (await execute(h, made["workflow_id"], {"text": sneaky})).get_json()
        done = await h.wait_for(job["id"])
        assert done["result"]["output"] == {"echo": sneaky, "s": "a summary"}


async def test_versions_owners_and_deletion(tmp_path: Path) -> None:
    async with running_app(tmp_path, model()) as h:
        made = await store(h, TEMPLATES["summarize_text"].spec())
        path = f"/api/workflows/{made['workflow_id']}"
        assert (await h.client.get(path, headers=h.headers("bob"))).status_code == 404
        edited = TEMPLATES["summarize_text"].spec({"name": "Short summary"})
        put = await h.client.put(path, json={"workflow": edited}, headers=h.headers())
        assert put.status_code == 200
        body = await put.get_json()
        assert body["version"] == 2 and body["workflow"]["name"] == "Short summary"
        broken = {**edited, "connections": []}
        assert (await h.client.put(path, json=broken, headers=h.headers())).status_code == 422
        assert (await (await h.client.get(path, headers=h.headers())).get_json())["version"] == 2
        listed = await (await h.client.get("/api/workflows", headers=h.headers())).get_json()
        assert [w["name"] for w in listed["workflows"]] == ["Short summary"]
        assert (await h.client.delete(path, headers=h.headers("bob"))).status_code == 404
        assert (await h.client.delete(path, headers=h.headers())).status_code == 204
        assert (await h.client.get(path, headers=h.headers())).status_code == 404


async def test_the_workflow_flow_is_not_started_directly(tmp_path: Path) -> None:
    async with running_app(tmp_path, model()) as h:
        response = await h.client.post(
            "/api/jobs",
            json={"flow": "workflow", "input": {"spec": {}, "input_data": {}}},
            headers=h.headers(),
        )
        assert response.status_code == 422


async def test_an_llm_node_chooses_its_model_and_temperature(tmp_path: Path) -> None:
    spec = TEMPLATES["summarize_text"].spec()
    spec["nodes"][1]["config"].update(model="gpt-4o", temperature=0.2)
    llm = ScriptedLLM([Reply("a summary")])
    async with running_app(tmp_path, llm) as h:
        made = await store(h, spec)
        job = await (await execute(h, made["workflow_id"], {"text": "notes"})).get_json()
        assert (await h.wait_for(job["id"]))["status"] == "completed"
    assert [(s.model, s.temperature) for s in llm.samplings] == [("gpt-4o", 0.2)]


async def test_a_failing_step_fails_the_run_and_says_why(tmp_path: Path) -> None:
    spec = {
        "name": "Compare",
        "nodes": [
            {"id": "start", "type": "input", "config": {"fields": {"n": {"type": "string"}}}},
            {
                "id": "big",
                "type": "condition",
                "config": {"when": {"left": "{{input.n}}", "op": ">", "right": 5}},
            },
            {"id": "yes", "type": "output", "config": {"value": "big"}},
            {"id": "no", "type": "output", "config": {"value": "small"}},
        ],
        "connections": [
            {"source": "start", "target": "big"},
            {"source": "big", "target": "yes", "type": "true"},
            {"source": "big", "target": "no", "type": "false"},
        ],
    }
    async with running_app(tmp_path, model()) as h:
        made = await store(h, spec)
        wid = made["workflow_id"]
        ok = await (await execute(h, wid, {"n": "7"})).get_json()  # a numeric string compares
        assert (await h.wait_for(ok["id"]))["result"]["output"] == "big"
        bad = await (await execute(h, wid, {"n": "many"})).get_json()
        failed = await h.wait_for(bad["id"])
        assert failed["status"] == "failed"
        assert (
            failed["error"]["message"]
            == "cannot compare 'many' > 5: one is text, the other a number"
        )

        runs = await (
            await h.client.get(f"/api/workflows/{wid}/executions", headers=h.headers())
        ).get_json()
        last = runs["executions"][0]["nodes"][-1]
        assert (last["node"], last["status"]) == ("big", "failed")
        assert "cannot compare" in last["error"]

        metrics = (await (await h.client.get("/metrics")).get_data(as_text=True)).splitlines()
        runs_of_big = {
            line.split("outcome=")[1].split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in metrics
            if line.startswith("genflow_workflow_node_runs_total") and 'node="big"' in line
        }
        assert runs_of_big == {"completed": 1.0, "failed": 1.0}
        ended = [m for m in metrics if m.startswith("genflow_workflow_executions_total")]
        assert any('status="failed"' in m and m.endswith(" 1.0") for m in ended)


FAQ = """# Refunds

You can ask for a refund within 30 days of delivery. Send the order number and we pay
the money back to the card you used within five working days.

# Shipping

We ship to every country in the European Union. Parcels arrive in three to five days.

# Accounts

To close your account, write to support and we delete your data within a week.
"""


async def test_a_workflow_answers_from_an_uploaded_knowledge_base(tmp_path: Path) -> None:
    """Upload an FAQ, store a workflow that searches it by name, run it: the passages the
    model is given, and the sources in the output, are the ones that answer."""
    llm = ScriptedLLM([Reply("Within 30 days, paid back in five working days.")])
    async with running_app(tmp_path, llm) as h:
        base = await h.client.post(
            "/api/knowledge",
            json={"name": "faq", "documents": [{"name": "faq.md", "text": FAQ}]},
            headers=h.headers(),
        )
        assert base.status_code == 201, await base.get_data(as_text=True)
        spec = TEMPLATES["research_with_knowledge"].spec({"knowledge_base": "faq"})
        missing = TEMPLATES["research_with_knowledge"].spec({"knowledge_base": "handbook"})
        refused = await h.client.post("/api/workflows", json=missing, headers=h.headers())
        assert refused.status_code == 422  # a base this person does not have
        assert (await refused.get_json())["error"]["details"][0]["field"] == "config.base"

        made = await store(h, spec)
        job = await (
            await execute(h, made["workflow_id"], {"question": "How do I get a refund?"})
        ).get_json()
        done = await h.wait_for(job["id"])
        assert done["status"] == "completed", done["error"]
        output = done["result"]["output"]
        assert output["answer"] == "Within 30 days, paid back in five working days."
        assert output["sources"][0]["source"].startswith("faq.md")
        assert "30 days" in output["sources"][0]["text"]
        assert "30 days of delivery" in llm.prompts()[0]

        other = await h.client.post(
            f"/api/workflows/{made['workflow_id']}/execute",
            json={"input_data": {"question": "refund?"}},
            headers=h.headers("bob"),
        )
        assert other.status_code == 404  # bob can neither see the workflow nor the base


class Listener:
    """A loopback HTTP server that counts who reached it and answers JSON."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def __aenter__(self) -> Listener:
        self.server = await asyncio.start_server(self.answer, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"city": "Lyon", "temperature": 21}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()


def weather_spec(url: str) -> dict[str, Any]:
    spec = TEMPLATES["api_enrichment"].spec({"api_url": url})
    describe = next(n for n in spec["nodes"] if n["id"] == "describe")
    describe["config"]["prompt"] = "Describe: {{lookup.json.city}} {{lookup.json.temperature}}"
    return spec


async def test_an_api_node_cannot_reach_loopback(tmp_path: Path) -> None:
    async with Listener() as listener, running_app(tmp_path, model()) as h:
        made = await store(h, weather_spec(f"http://127.0.0.1:{listener.port}/weather"))
        job = await (await execute(h, made["workflow_id"], {"record_id": "r1"})).get_json()
        failed = await h.wait_for(job["id"])
        assert failed["status"] == "failed"
        assert "GENFLOW_ALLOW_PRIVATE_NETWORKS" in failed["error"]["message"]
        assert failed["current_node"] == "lookup"
    assert listener.connections == 0, "the refused address received nothing"


async def test_an_api_node_reaches_a_private_address_when_allowed(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply("Mild in Lyon.", match="Describe: Lyon 21")])
    async with (
        Listener() as listener,
        running_app(tmp_path, llm, allow_private_networks=True) as h,
    ):
        made = await store(h, weather_spec(f"http://127.0.0.1:{listener.port}/weather"))
        job = await (await execute(h, made["workflow_id"], {"record_id": "r1"})).get_json()
        done = await h.wait_for(job["id"])
        assert done["status"] == "completed", done["error"]
        output = done["result"]["output"]
        assert output["data"] == {"city": "Lyon", "temperature": 21}
        assert output["description"] == "Mild in Lyon."
    assert listener.connections == 1
