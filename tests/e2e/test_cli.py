"""`genflow` on the command line, against a real server process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ROOT, GenFlowServer, write_script
from tests.fakes.session_answers import NOTES, REVIEW, TOPICS
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT

SCRIPT = [
    {"answer": OUTLINE, "match": "Write an outline"},
    {"answer": SECTION_TEXT, "match": "Write one paragraph"},
    {"answer": f"A friendly article about coffee. {STYLED_TEXT}",
     "match": "Rewrite this article draft"},
    {"answer": TOPICS, "match": "Suggest 2"},
    {"answer": NOTES, "match": "research notes"},
    {"answer": REVIEW, "match": "Review this article"},
    {"answer": "First answer.", "match": "Task: first", "times": 1},
    {"answer": "Second answer, with more autumn.", "match": "Task: first"},
    {"answer": "An answer to edit.", "match": "Task: edit"},
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GenFlowServer]:
    script = write_script(tmp_path_factory.mktemp("script") / "llm.json", SCRIPT)
    proc = GenFlowServer(data_dir=tmp_path_factory.mktemp("data"), script=script)
    try:
        yield proc.start()
    finally:
        proc.stop()


def genflow(server: GenFlowServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = server.env() | {"GENFLOW_API_URL": server.base_url}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_run_article_shows_progress_and_prints_the_article(server: GenFlowServer) -> None:
    done = genflow(server, "run", "article", "topic=The history of coffee")
    assert done.returncode == 0, done.stderr
    assert "100% ✔ completed" in done.stderr
    assert "✔ WriteContent" in done.stderr
    assert "# Coffee, a history" in done.stdout
    assert "A friendly article about coffee." in done.stdout


def test_run_answers_reviews_at_the_prompt(server: GenFlowServer) -> None:
    done = genflow(
        server, "run", "review", "task=first task", stdin="reject\nmore autumn\napprove\n"
    )
    assert done.returncode == 0, done.stderr
    assert "review: reject by admin via cli" in done.stderr
    assert done.stdout.rstrip().endswith("Second answer, with more autumn.")


def test_run_edits_a_review_at_the_prompt(server: GenFlowServer) -> None:
    done = genflow(server, "run", "review", "task=edit me", stdin="edit\nMy own answer.\n\n")
    assert done.returncode == 0, done.stderr
    assert "review: edit by admin via cli" in done.stderr
    assert done.stdout.rstrip().endswith("My own answer.")


def test_run_exits_non_zero_when_the_job_fails(server: GenFlowServer) -> None:
    done = genflow(server, "run", "review", "task=nobody scripted this")
    assert done.returncode == 1
    assert "✘ failed: scripted LLM has no answer" in done.stderr


def test_run_explains_invalid_input(server: GenFlowServer) -> None:
    done = genflow(server, "run", "article", "subject=coffee")
    assert done.returncode == 1
    assert "invalid input for flow 'article'" in done.stderr
    assert "input: 'topic' is a required property" in done.stderr


def test_run_names_reviewers_who_see_the_job_and_decide(server: GenFlowServer) -> None:
    """`genflow run … --reviewer bob`: the review terms of POST /api/jobs (as `genflow
    workflow run` gives them); bob, with his own token, sees the job and decides it."""
    terms = ["--reviewer", "bob", "--review-timeout", "3600", "--on-timeout", "approve"]
    started = genflow(server, "run", "review", "task=edit for bob", *terms, "--no-wait")
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.strip()
    token = genflow(server, "token", "create", "--sub", "bob", "--ttl", "1h").stdout.split()[-1]
    with httpx.Client(base_url=server.base_url, headers=bearer(token)) as bob:
        job = waited(bob, job_id, "waiting_for_review")
        assert (job["owner"], job["reviewers"], job["review_timeout"], job["on_timeout"]) == (
            "admin", ["bob"], 3600, "approve"
        )  # fmt: skip
        assert (job["may_cancel"], job["may_decide"]) == (False, True)
        assert job["review"]["assignees"] == ["bob"]
        decided = bob.post(
            f"/api/jobs/{job_id}/review",
            json={"review_id": job["review"]["id"], "decision": "approve"},
        )
        assert decided.status_code == 200, decided.text
        assert waited(bob, job_id, "completed")["result"]["output"] == "An answer to edit."


def test_run_explains_bad_review_terms(server: GenFlowServer) -> None:
    late = genflow(server, "run", "review", "task=x", "--on-timeout", "later")
    assert late.returncode == 1
    assert "error: invalid input for flow 'review'" in late.stderr
    assert "  body.on_timeout: use one of: approve, reject, cancel" in late.stderr
    unnamed = genflow(server, "run", "review", "task=x", "--reviewer", "bob smith")
    assert unnamed.returncode == 1
    assert "  body.reviewers.0: use a principal's name" in unnamed.stderr


def waited(http: httpx.Client, job_id: str, status: str, within: float = 30.0) -> dict:
    """The job once it has `status` (polled)."""
    import time

    deadline = time.monotonic() + within
    while (job := http.get(f"/api/jobs/{job_id}").json())["status"] != status:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_token_create_prints_a_token_the_server_accepts(server: GenFlowServer) -> None:
    done = genflow(server, "token", "create", "--sub", "bob", "--ttl", "1h")
    assert done.returncode == 0, done.stderr
    token = done.stdout.split()[-1]
    response = httpx.get(
        f"{server.base_url}/api/jobs", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json()["jobs"] == []  # bob sees none of admin's jobs
    bad = genflow(server, "token", "create", "--sub", "bob", "--ttl", "forever")
    assert bad.returncode == 2 and "invalid ttl" in bad.stderr


def refused_within(server: GenFlowServer, token: str, within: float) -> None:
    """Poll until the server refuses `token` (a CLI revocation reaches a server without
    Redis within GENFLOW_TOKEN_CACHE_SECONDS, 2 s)."""
    import time

    deadline = time.monotonic() + within
    while True:
        answer = httpx.get(f"{server.base_url}/api/auth/me", headers=bearer(token))
        if answer.status_code == 401:
            return
        assert answer.status_code == 200 and time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_list_and_revoke_against_a_running_server(server: GenFlowServer) -> None:
    created = genflow(server, "token", "create", "--sub", "dora", "--ttl", "1h")
    token_id, token = created.stdout.split()[1], created.stdout.split()[-1]
    assert httpx.get(f"{server.base_url}/api/auth/me", headers=bearer(token)).json() == {
        "principal": "dora", "admin": False, "token_id": token_id
    }  # fmt: skip
    listed = genflow(server, "token", "list", "--principal", "dora")
    assert token_id in listed.stdout and "cli" in listed.stdout and "active" in listed.stdout
    revoked = genflow(server, "token", "revoke", token_id)
    assert revoked.returncode == 0 and f"token {token_id} of dora revoked" in revoked.stdout
    refused_within(server, token, 5.0)
    assert token_id not in genflow(server, "token", "list").stdout  # live ones only
    assert "revoked" in genflow(server, "token", "list", "--all", "--principal", "dora").stdout
    unknown = genflow(server, "token", "revoke", "tok_nope")
    assert unknown.returncode == 1 and "no token 'tok_nope'" in unknown.stderr


def test_user_add_list_remove_and_login_at_the_server(server: GenFlowServer) -> None:
    password = "carols own passphrase"
    added = genflow(server, "user", "add", "carol", "--password-stdin", stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "account carol added"
    again = genflow(server, "user", "add", "carol", "--password-stdin", stdin=password + "\n")
    assert again.returncode == 1 and "exists already" in again.stderr
    short = genflow(server, "user", "add", "dave", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "8 to 1024 characters" in short.stderr
    listed = genflow(server, "user", "list").stdout.splitlines()
    assert listed[0].split() == ["NAME", "ADMIN", "CREATED", "SLACK"]
    assert [line.split()[0] for line in listed[1:]] == ["admin", "carol"]
    assert listed[1].split()[1] == "yes"  # the first admin, made on the server's first start
    login = httpx.post(
        f"{server.base_url}/api/auth/login", json={"username": "carol", "password": password}
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    assert httpx.get(f"{server.base_url}/api/jobs", headers=bearer(token)).status_code == 200
    new = "new " + password
    changed = genflow(server, "user", "passwd", "carol", "--password-stdin", stdin=new)
    assert changed.stdout.strip() == "password of carol changed"
    for attempt, status in [(password, 401), (new, 200)]:
        login = httpx.post(
            f"{server.base_url}/api/auth/login", json={"username": "carol", "password": attempt}
        )
        assert login.status_code == status
    removed = genflow(server, "user", "remove", "carol")
    assert removed.stdout.strip() == "account carol removed; 2 token(s) revoked"
    refused_within(server, token, 5.0)
    login = httpx.post(
        f"{server.base_url}/api/auth/login", json={"username": "carol", "password": password}
    )
    assert login.status_code == 401
    for done in (added, again, short, changed, removed):
        assert password not in done.stdout + done.stderr


async def test_the_python_client_logs_in_and_out(server: GenFlowServer) -> None:
    from backend.client import APIError, GenFlowClient

    added = genflow(server, "user", "add", "erin", "--password-stdin", stdin="erins passphrase")
    assert added.returncode == 0, added.stderr
    async with GenFlowClient(server.base_url, None) as anonymous:
        with pytest.raises(APIError) as refused:
            await anonymous.login("erin", "not it")
        assert refused.value.status == 401
        session = await anonymous.login("erin", "erins passphrase")
    async with GenFlowClient(server.base_url, session["token"]) as erin:
        me = await erin.me()
        assert me == {"principal": "erin", "admin": False, "token_id": session["token_id"]}
        listed = await erin.tokens()
        assert [t["id"] for t in listed["tokens"]] == [session["token_id"]]
        await erin.revoke_token(me["token_id"])  # logging out
        with pytest.raises(APIError) as gone:
            await erin.me()
        assert gone.value.status == 401


async def test_a_slack_user_linked_by_the_cli_acts_as_the_account(server: GenFlowServer) -> None:
    from backend.client import GenFlowClient

    added = genflow(server, "user", "add", "fay", "--password-stdin", stdin="fays passphrase")
    assert added.returncode == 0, added.stderr
    linked = genflow(server, "user", "link-slack", "fay", "T0FAY", "u0fay")
    assert linked.stdout.strip() == "slack:T0FAY:U0FAY now acts as fay", linked.stderr
    assert "slack:T0FAY:U0FAY" in genflow(server, "user", "list").stdout
    async with GenFlowClient(server.base_url, server.token) as bot:
        job = await bot.acting_for("slack:T0FAY:U0FAY").create_job("review", {"task": "a haiku"})
        assert job["owner"] == "fay"
        async with GenFlowClient(server.base_url, None) as anonymous:
            session = await anonymous.login("fay", "fays passphrase")
        async with GenFlowClient(server.base_url, session["token"]) as fay:
            assert job["id"] in [j["id"] for j in (await fay.jobs())["jobs"]]
        unlinked = genflow(server, "user", "unlink-slack", "T0FAY", "U0FAY")
        assert unlinked.returncode == 0, unlinked.stderr
        later = await bot.acting_for("slack:T0FAY:U0FAY").create_job("review", {"task": "x"})
        assert later["owner"] == "slack:T0FAY:U0FAY"
    missing = genflow(server, "user", "link-slack", "nobody", "T1", "U1")
    assert missing.returncode == 1 and "no account named 'nobody'" in missing.stderr
    bad = genflow(server, "user", "link-slack", "fay", "T1", "not an id")
    assert bad.returncode == 2 and "Slack team and user ids" in bad.stderr


def test_migrate_reports_the_database(server: GenFlowServer, tmp_path: Path) -> None:
    env_dir = tmp_path / "fresh"
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"], cwd=ROOT, capture_output=True,
        text=True, timeout=60, env=server.env() | {"GENFLOW_DATA_DIR": str(env_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "database is up to date" in done.stdout
    assert (env_dir / "genflow.db").exists()


def test_up_serves_the_api_and_the_web_ui_and_stops_both(tmp_path: Path) -> None:
    import os
    import signal
    import time

    from tests.e2e.server import free_port

    api_port, ui_port = free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENFLOW_", "OPENAI_", "SLACK_"))
    }
    env |= {
        "GENFLOW_DATA_DIR": str(tmp_path),
        "GENFLOW_PORT": str(api_port),
        "GENFLOW_UI_PORT": str(ui_port),
        "GENFLOW_LLM": "local",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "up"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                api = httpx.get(f"http://127.0.0.1:{api_port}/api/health", timeout=2)
                ui = httpx.get(f"http://127.0.0.1:{ui_port}/login", timeout=2)
                if api.status_code == ui.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.5)
        banner = (tmp_path / "up.log").read_text()
        assert f"Web UI: http://127.0.0.1:{ui_port}/" in banner
        assert (tmp_path / "admin.token").read_text().strip() in banner
        password = (tmp_path / "admin.password").read_text().strip()
        assert f"Log in: username admin, password {password}" in banner
        login = httpx.post(
            f"http://127.0.0.1:{api_port}/api/auth/login",
            json={"username": "admin", "password": password},
        )
        assert login.status_code == 200 and login.json()["admin"] is True
        web = f"http://127.0.0.1:{ui_port}"
        assert httpx.get(f"{web}/").headers["location"] == "login"  # the chat asks first
        form = {"username": "admin", "password": password}
        assert httpx.post(f"{web}/login", data=form).json() == {"success": True}
        assert tmp_path.stat().st_mode & 0o777 == 0o700
        for name in ("genflow.db", "secret", "admin.token", "admin.password"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{ui_port}/", timeout=2)  # the UI went with it
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        log.close()


def test_a_whole_session_at_the_terminal(server: GenFlowServer) -> None:
    steps = [
        "discover_topics", "2",  # how many topics
        "select_topic", "1",  # the first one
        "research_topic",
        "write_article",
        "advance",
        "apply_style", "",  # the default tone
        "advance",
        "review_article",
        "approve",
    ]  # fmt: skip
    done = genflow(server, "session", "coffee", stdin="\n".join(steps) + "\n")
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "1. Why coffee houses mattered: Where news was made." in out
    assert "- Coffee was first brewed in Yemen." in out, out
    assert "--- draft version 1 ---" in out and "--- draft version 2 ---" in out
    assert "review: clarity 8/10, accuracy 6/10, engagement 7/10" in out, out
    final = out.rsplit("\n\n# ", 1)[1]
    assert final.startswith("Why coffee houses mattered") and "## Origins" in final
    assert "So, picture this" in final  # the styled draft is the one approved
