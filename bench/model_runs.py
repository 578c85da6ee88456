"""What the benchmarks that measure the configured model share: its settings with a
private store, the services started and stopped around a run, and the JSON report."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.assembly import build_services
from backend.services import Services
from backend.settings import Settings


@contextlib.contextmanager
def configured_model(prefix: str, **overrides: Any) -> Iterator[Settings]:
    """The settings `genflow serve` would use (the embedded SmolLM2 unless GENFLOW_LLM /
    OPENAI_BASE_URL say otherwise), with a private store so nothing is left behind."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield replace(
            Settings.from_env(data_dir=Path(tmp)),
            database_url=None,
            queue="local",
            redis_url=None,
            **overrides,
        )


@contextlib.asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[Services]:
    services = build_services(settings)
    await services.store.initialize()
    await services.bus.start()
    await services.queue.start()
    try:
        yield services
    finally:
        await services.queue.close()
        await services.bus.aclose()
        await services.store.close()


def write_report(
    path: Path, settings: Settings, body: dict[str, Any], out: Callable[[str], None]
) -> dict[str, Any]:
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {"backend": settings.llm, "name": settings.model},
        **body,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
    out(f"\nwrote {path}")
    return report
