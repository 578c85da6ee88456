"""The web UI's own settings. Where the API is (GENFLOW_API_URL) is read by
`backend.client.api_url_from_env`; it needs no token, it acts with those of the people who
log in. This is how it serves pages and how hard it works."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


def _artifact_dir() -> Path:
    # Gradio serves files it copied from the system temp dir (or cwd); images go there.
    return Path(tempfile.gettempdir()) / f"genflow-ui-{os.getuid()}" / "artifacts"


@dataclass(frozen=True)
class UISettings:
    host: str = "127.0.0.1"
    port: int = 7860
    # While a review is open the page polls the job this often (seconds); a decision made
    # elsewhere (Slack, the API, another tab) shows up within about this long.
    poll_seconds: float = 0.5
    # Live followers (one per tab whose job is running) and other events at once.
    max_followers: int = 500
    concurrency: int = 64
    artifact_dir: Path = field(default_factory=_artifact_dir)

    @classmethod
    def from_env(cls) -> UISettings:
        """GENFLOW_HOST (bind address, as for the API) and GENFLOW_UI_PORT."""
        return cls(
            host=os.environ.get("GENFLOW_HOST") or "127.0.0.1",
            port=int(os.environ.get("GENFLOW_UI_PORT") or 7860),
        )
