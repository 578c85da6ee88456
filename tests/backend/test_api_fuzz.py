"""Schema-driven fuzzing of the API with hypothesis: no 5xx, ever, and every 4xx is JSON.

Bodies are generated from the API's own JSON Schemas (the request schemas and each
flow's input schema): valid values, values just past a limit, wrong types, missing and
extra fields, arbitrary JSON and raw junk bytes. Where the outcome is known from the
schema alone, the test also checks the server agrees: a valid request is accepted, an
invalid one refused.

One app serves every example of a test (pytest-asyncio runs the `@given` test on the
fixture's event loop), so each test runs its examples in a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from quart import Response

from backend.api import schemas
from backend.domain import JobStatus
from backend.reviews import terms
from flows.registry import default_flows
from tests.harness import ERROR_CODES, TERMINAL, Harness, leaks_stack_trace, running_app

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the work tree; failures print their example
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app for all examples, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

MAX_INPUT_CHARS = 2_000
FLOWS = {name: spec for name, spec in default_flows().items() if not spec.internal}

# -- strategies ------------------------------------------------------------------------

NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",  # a lone surrogate
        "\udfff\ud800",
        "\u202e\u200b",
        "😀" * 3,
        "Ω≈ç√",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "%00",
        "NaN",
        "null",
        "9" * 30,
        "-1",
        "1e999",
    ]
)
TEXT = st.one_of(st.text(max_size=20), NASTY)

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities included: they are not JSON and must be refused
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def valid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that satisfy `schema` (the subset of JSON Schema the API uses)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(*(valid({**schema, "type": k}) for k in kind))
    if kind == "string":
        low = schema.get("minLength", 0)
        high = min(schema.get("maxLength", 40), MAX_INPUT_CHARS)
        return st.one_of(
            st.text(min_size=low, max_size=min(high, 40)),
            st.sampled_from(sorted({low, high})).map(lambda n: "x" * n),  # at the limits
            NASTY.filter(lambda text: low <= len(text) <= high),  # valid, if not well-formed
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "null":
        return st.none()
    if kind == "object":
        properties = schema.get("properties", {})
        if not properties:
            return st.dictionaries(TEXT, JSON, max_size=3)
        required = schema.get("required", [])
        return st.fixed_dictionaries(
            {name: valid(properties[name]) for name in required},
            optional={n: valid(s) for n, s in properties.items() if n not in required},
        )
    return JSON


def invalid_near(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that just miss `schema`: past a length limit, a near-enum, a wrong type."""
    kind = schema.get("type")
    options: list[st.SearchStrategy[Any]] = [JSON]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]).map(lambda v: f"{v} ".upper()))
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        if "maxLength" in schema:
            options.append(st.just("y" * (schema["maxLength"] + 1)))
            if schema["maxLength"] > MAX_INPUT_CHARS:  # fits the schema, not the server limit
                options.append(st.just("z" * (MAX_INPUT_CHARS + 1)))
        if schema.get("minLength", 0) > 0:
            options.append(st.just(""))
        options.append(st.integers() | st.lists(TEXT, max_size=2))
    return st.one_of(*options)


def fuzzed(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly-structured values around `schema`: each field valid, near-miss or junk."""
    options = [valid(schema), invalid_near(schema)]
    properties = schema.get("properties")
    if schema.get("type") == "object" and properties:
        options.append(
            st.fixed_dictionaries(
                {},
                optional={n: st.one_of(valid(s), fuzzed_leaf(s)) for n, s in properties.items()},
            ).flatmap(
                lambda obj: (
                    st.dictionaries(TEXT, JSON, max_size=2).map(lambda extra: {**extra, **obj})
                    | st.just(obj)
                )
            )
        )
    return st.one_of(*options)


def fuzzed_leaf(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return invalid_near(schema) if schema.get("type") != "object" else fuzzed(schema)


def create_body() -> st.SearchStrategy[Any]:
    """A POST /api/jobs body: a real flow with fuzzed input, or a fuzzed envelope."""

    def for_flow(name: str) -> st.SearchStrategy[Any]:
        input_schema = FLOWS[name].input_schema
        envelope = {**schemas.CREATE_JOB["properties"], "input": input_schema}
        return st.one_of(
            st.fixed_dictionaries({"flow": st.just(name), "input": valid(input_schema)}),
            st.fixed_dictionaries({"flow": st.just(name), "input": fuzzed(input_schema)}),
            fuzzed({**schemas.CREATE_JOB, "properties": envelope}),
        )

    return st.sampled_from(sorted(FLOWS)).flatmap(for_flow) | JSON


def encoded(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Bodies as bytes: JSON of a value (ASCII or UTF-8), a byte-mutated one, or junk."""

    def to_json(value: Any, ascii_only: bool) -> bytes:
        return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")

    as_json = st.builds(to_json, values, st.booleans())

    def splice(data: bytes, at: int, cut: int, insert: bytes) -> bytes:
        at = at % (len(data) + 1)
        return data[:at] + insert + data[at + cut :]

    mutated = st.builds(
        splice, as_json, st.integers(0, 10_000), st.integers(0, 3), st.binary(max_size=3)
    )
    junk = st.one_of(
        st.binary(max_size=64),
        st.text(max_size=64).map(str.encode),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    )
    return st.one_of(as_json, as_json, as_json, mutated, junk)


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ]
)
WHO = st.sampled_from(["alice"] * 6 + ["admin"] * 2 + ["none", "garbage", "basic"])


def auth_headers(h: Harness, who: str) -> dict[str, str]:
    if who == "none":
        return {}
    if who == "garbage":
        return {"Authorization": "Bearer abc.def.ghi"}
    if who == "basic":
        return {"Authorization": "Basic YWxpY2U6cHc="}
    return h.headers("root" if who == "admin" else who, admin=who == "admin")


# -- oracles ---------------------------------------------------------------------------


async def check(response: Response) -> dict[str, Any] | None:
    """No 5xx; a 4xx is a JSON error with the right code. Returns the error, if any."""
    text = await asyncio.wait_for(response.get_data(as_text=True), timeout=10)
    assert response.status_code < 500, text
    assert not leaks_stack_trace(text), text
    event(f"HTTP {response.status_code}")  # shown by --hypothesis-show-statistics
    if response.status_code < 400:
        return None
    assert response.mimetype == "application/json", text
    body = json.loads(text)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == ERROR_CODES[response.status_code], (response.status_code, error)
    assert isinstance(error["message"], str) and error["message"], error
    assert set(error) <= {"code", "message", "details"}, error
    return error


def well_formed(value: Any) -> bool:
    """What the server parses happily: finite numbers, no lone surrogates, shallow nesting."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, UnicodeEncodeError, RecursionError):
        return False
    return depth(value) <= 32


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def long_strings(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) > MAX_INPUT_CHARS
    if isinstance(value, dict):
        return any(map(long_strings, value.values()))
    if isinstance(value, list):
        return any(map(long_strings, value))
    return False


def acts_for_someone(body: Any) -> bool:
    """A well-formed body with `on_behalf_of`: refused (403) for a non-admin token."""
    return (
        isinstance(body, dict)
        and "on_behalf_of" in body
        and well_formed(body)
        and jsonschema.Draft202012Validator(schemas.CREATE_JOB).is_valid(body)
    )


def creatable(body: Any) -> bool:
    """Whether POST /api/jobs must accept `body` from alice (by the schemas alone)."""
    if not isinstance(body, dict) or not well_formed(body) or "on_behalf_of" in body:
        return False
    if not jsonschema.Draft202012Validator(schemas.CREATE_JOB).is_valid(body):
        return False
    spec = FLOWS.get(body["flow"])
    return (
        spec is not None
        and not long_strings(body["input"])
        and jsonschema.Draft202012Validator(spec.input_schema).is_valid(body["input"])
        and not terms.job_problems(  # the review terms fit the flow's review options
            spec.name,
            spec.review_options,
            body.get("reviewers") or [],
            body.get("review_timeout"),
            body.get("on_timeout"),
        )
    )


# -- the app ---------------------------------------------------------------------------


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_app(
        tmp_path,
        rate_limit_per_minute=0,  # off: every valid body must be accepted
        max_input_chars=MAX_INPUT_CHARS,
        max_body_bytes=64_000,
    ) as h:
        yield h


# -- POST /api/jobs --------------------------------------------------------------------


@FUZZ
@given(body=create_body(), ascii_only=st.booleans(), content_type=CONTENT_TYPES)
async def test_fuzz_create_job_json(
    app: Harness, body: Any, ascii_only: bool, content_type: str | None
) -> None:
    data = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    headers = app.headers()
    if content_type:
        headers["Content-Type"] = content_type
    response = await app.client.post("/api/jobs", data=data, headers=headers)
    error = await check(response)
    if len(data) > app.settings.max_body_bytes:
        assert response.status_code == 413
    elif acts_for_someone(body):
        assert response.status_code == 403, error  # alice's token is not an admin's
    elif creatable(body):
        assert response.status_code == 201, error
        job = await response.get_json()
        assert job["flow"] == body["flow"]
        assert job["input"] == body["input"]
        assert job["owner"] == "alice"
    else:
        assert response.status_code in (400, 422), (response.status_code, error)


@FUZZ
@given(data=encoded(create_body()), who=WHO, content_type=CONTENT_TYPES)
async def test_fuzz_create_job_bytes(
    app: Harness, data: bytes, who: str, content_type: str | None
) -> None:
    headers = auth_headers(app, who)
    if content_type:
        headers["Content-Type"] = content_type
    response = await app.client.post("/api/jobs", data=data, headers=headers)
    await check(response)
    if who in ("none", "garbage", "basic"):
        assert response.status_code == 401
    else:  # 403 only for `on_behalf_of` from a token that is not an admin's
        forbidden = {403} if who != "admin" else set()
        assert response.status_code in {201, 400, 413, 422} | forbidden


# -- POST /api/jobs/{id}/review --------------------------------------------------------


class ReviewTarget:
    """A job waiting for review; replaced by a fresh one once a decision moves it on."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.job: dict[str, Any] | None = None

    async def waiting(self) -> dict[str, Any]:
        if self.job is not None:
            job = await self.h.wait_for(self.job["id"], "waiting_for_review", *TERMINAL)
            if job["status"] == "waiting_for_review":
                self.job = job
                return job
        created = await self.h.create("review", {"task": "Write a haiku"})
        self.job = await self.h.wait_for(created["id"], "waiting_for_review")
        return self.job


def decision_body(review_id: str) -> st.SearchStrategy[Any]:
    decision_schema = {
        **schemas.DECISION,
        "properties": {
            **schemas.DECISION["properties"],
            "review_id": {"enum": [review_id]},
            "decision": {"enum": ["approve", "reject"]},
        },
    }
    return st.one_of(
        valid(decision_schema),
        fuzzed(decision_schema),
        fuzzed(schemas.DECISION),
        JSON,
    )


def edits_fit(job: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether an edit decision's edits are editable fields of the payload's types."""
    if body["decision"] != "edit":
        return True
    review, edits = job["review"], body["edits"]
    return bool(edits) and all(
        field in review["editable"] and isinstance(value, str) for field, value in edits.items()
    )


@pytest.fixture
def review_target(app: Harness) -> ReviewTarget:
    return ReviewTarget(app)


@FUZZ
@given(data=st.data(), who=WHO, raw=st.booleans())
async def test_fuzz_review_decision(
    app: Harness, review_target: ReviewTarget, data: st.DataObject, who: str, raw: bool
) -> None:
    job = await review_target.waiting()
    review_id = job["review"]["id"]
    body = data.draw(decision_body(review_id), label="body")
    payload = (
        data.draw(encoded(st.just(body)), label="bytes")
        if raw
        else json.dumps(body).encode("utf-8", "surrogatepass")
    )
    url = f"/api/jobs/{job['id']}/review"
    response = await app.client.post(url, data=payload, headers=auth_headers(app, who))
    error = await check(response)
    if who in ("none", "garbage", "basic"):
        assert response.status_code == 401
        return
    if raw:
        assert response.status_code in (200, 400, 409, 413, 422), error
        return
    valid_body = (
        isinstance(body, dict)
        and well_formed(body)
        and jsonschema.Draft202012Validator(schemas.DECISION).is_valid(body)
    )
    if not valid_body:
        assert response.status_code in (400, 422), (response.status_code, error, body)
    elif body["review_id"] != review_id:
        assert response.status_code in (409, 422), (response.status_code, error, body)
    elif body["decision"] not in job["review"]["options"]:
        assert response.status_code == 422, (response.status_code, error, body)
        assert error is not None and error["details"][0]["field"] == "decision"
    elif ("edits" in body) != (body["decision"] == "edit") or not edits_fit(job, body):
        assert response.status_code == 422, (response.status_code, error, body)
        assert error is not None and error["details"][0]["field"].startswith("body.edits")
    else:
        assert response.status_code == 200, error
        assert (await response.get_json())["review"] is None


@FUZZ
@given(
    job_id=TEXT.filter(lambda s: "/" not in s and s not in ("", ".", "..")),
    data=encoded(decision_body("rev_x")),
)
async def test_fuzz_review_of_unknown_jobs(app: Harness, job_id: str, data: bytes) -> None:
    url = f"/api/jobs/{quote(job_id, safe='', errors='surrogatepass')}/review"
    response = await app.client.post(url, data=data, headers=app.headers())
    await check(response)
    assert response.status_code in (400, 404, 413, 422)


# -- query parameters ------------------------------------------------------------------

STATUSES = [s.value for s in JobStatus]
QUERY_TEXT = st.one_of(
    st.text(max_size=12),
    NASTY.filter(lambda s: "\ud800" not in s and "\udfff" not in s),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["", " 5", "5 ", "+5", "0x10", "1_0", "٣", "1.0", "1e3", "true"]),
)


def query(params: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {}, optional={name: values | QUERY_TEXT for name, values in params.items()}
    ).flatmap(
        lambda q: st.dictionaries(QUERY_TEXT, QUERY_TEXT, max_size=2).map(lambda x: {**x, **q})
    )


LIST_QUERY = query(
    {
        "status": st.sampled_from(STATUSES),
        "flow": st.sampled_from(sorted(FLOWS)),
        "limit": st.integers(-5, 120).map(str),
        "cursor": st.sampled_from(["job_", "job_0", "job_z", "zzz"]),
        "owner": st.sampled_from(["alice", "bob", ""]),
        "assigned": st.sampled_from(["me", "alice", "bob", ""]),
    }
)


def as_int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@pytest.fixture
async def seeded(app: Harness) -> Harness:
    """Jobs of alice's in three statuses, and one of bob's."""
    for topic in ("tea", "coffee", "cocoa"):
        await app.wait_for((await app.create("article", {"topic": topic}))["id"])
    await app.create("review", {"task": "haiku"})
    await app.create("review", {"task": "haiku"}, sub="bob")
    return app


@FUZZ
@given(params=LIST_QUERY, who=WHO)
async def test_fuzz_list_jobs_query(seeded: Harness, params: dict[str, str], who: str) -> None:
    app = seeded
    response = await app.client.get(
        f"/api/jobs?{urlencode(params)}", headers=auth_headers(app, who)
    )
    error = await check(response)
    if who in ("none", "garbage", "basic"):
        assert response.status_code == 401
        return
    status_ok = not params.get("status") or params["status"] in STATUSES
    limit = as_int(params.get("limit"))
    limit_ok = not params.get("limit") or (limit is not None and 1 <= limit <= 100)
    assigned = params.get("assigned")
    assigned_ok = not assigned or assigned in ("me", "alice") or who == "admin"
    if status_ok and limit_ok and assigned_ok:
        assert response.status_code == 200, error
        listed = await response.get_json()
        assert len(listed["jobs"]) <= (limit or 20)
        for job in listed["jobs"]:
            assert who == "admin" or job["owner"] == "alice"
            if params.get("status"):
                assert job["status"] == params["status"]
            if params.get("flow"):
                assert job["flow"] == params["flow"]
        ids = [job["id"] for job in listed["jobs"]]
        assert ids == sorted(ids, reverse=True)
    else:
        assert response.status_code == 422, error
        assert {d["field"] for d in error["details"]} <= {"status", "limit", "assigned"}


EVENTS_QUERY = query(
    {
        "after": st.integers(-3, 30).map(str) | st.just(str(2**63)),
        "limit": st.integers(-1, 6000).map(str),
    }
)
ACCEPT = st.sampled_from(
    [
        "application/json",
        "text/event-stream",
        "*/*",
        "application/json;q=0.5, text/event-stream",
        "text/html",
        "",
        "garbage/;;;q=x",
    ]
)
HEADER_TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + " -+_.", max_size=25
) | st.integers(-(2**70), 2**70).map(str)


@pytest.fixture
async def finished(app: Harness) -> dict[str, str]:
    """A finished job of alice's and one of bob's, by name; streams of these end."""
    alices = await app.create("article", {"topic": "coffee"})
    bobs = await app.create("article", {"topic": "tea"}, sub="bob")
    await app.wait_for(alices["id"])
    await app.wait_for(bobs["id"], sub="bob")
    return {"done": alices["id"], "bobs": bobs["id"], "unknown": "job_nope"}


@FUZZ
@given(
    params=EVENTS_QUERY,
    accept=ACCEPT,
    last_event_id=st.none() | HEADER_TEXT,
    who=WHO,
    token_in_query=st.booleans(),
    which=st.sampled_from(["done", "done", "bobs", "unknown"]),
)
async def test_fuzz_job_events_query(
    app: Harness,
    finished: dict[str, str],
    params: dict[str, str],
    accept: str,
    last_event_id: str | None,
    who: str,
    token_in_query: bool,
    which: str,
) -> None:
    job_id = finished[which]
    headers = auth_headers(app, who)
    params = dict(params)
    if token_in_query and "Authorization" in headers:
        params["access_token"] = headers.pop("Authorization").partition(" ")[2]
    if accept:
        headers["Accept"] = accept
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = await app.client.get(
        f"/api/jobs/{job_id}/events?{urlencode(params)}", headers=headers
    )
    error = await check(response)
    if who in ("none", "garbage", "basic") and "access_token" not in params:
        assert response.status_code == 401
    elif which == "unknown" or (which == "bobs" and who != "admin"):
        assert response.status_code in (401, 404), error
    if response.status_code == 200:
        if response.mimetype == "application/json":
            body = await response.get_json()
            seqs = [event["seq"] for event in body["events"]]
            assert seqs == sorted(seqs)
            assert all(seq > (as_int(params.get("after")) or 0) for seq in seqs)
        else:
            assert response.mimetype == "text/event-stream"
            text = await response.get_data(as_text=True)
            assert text.startswith("retry: 2000")


# -- any path, any method --------------------------------------------------------------

PATHS = st.sampled_from(
    [
        "/api/jobs",
        "/api/jobs/{job}",
        "/api/jobs/{job}/events",
        "/api/jobs/{job}/review",
        "/api/jobs/{job}/cancel",
        "/api/artifacts/{job}",
        "/api/flows",
        "/api/health",
        "/api/openapi.json",
        "/api/docs",
        "/metrics",
        "/api/{job}",
        "/{job}",
    ]
)


@FUZZ
@given(
    path=PATHS,
    job=st.text(alphabet=string.ascii_letters + string.digits + "_-.~%", min_size=1, max_size=20),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    data=st.none() | encoded(JSON),
    who=WHO,
)
async def test_fuzz_any_route(
    app: Harness, path: str, job: str, method: str, data: bytes | None, who: str
) -> None:
    if method == "GET" and path.endswith("/events") and "{job}" in path:
        job = "job_" + job  # an unknown job: its stream would never be followed
    url = path.format(job=job)
    open_: Callable[..., Any] = getattr(app.client, method.lower())
    response = await open_(url, data=data, headers=auth_headers(app, who))
    await check(response)
