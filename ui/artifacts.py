"""Image artifacts as local files that Gradio can serve.

The API serves artifacts only with a token, and a person's token must never reach a
browser, so images are fetched through the person's API client and written to a cache
directory; Gradio then copies them into its own cache and serves them. Artifacts never
change, so a file is fetched once per UI process and shared by every page that shows it
(an artifact id reaches a page only from the events of a job its person may read). The
files have random names: knowing an artifact's id is no way to its file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import tempfile
from pathlib import Path

from backend.client import APIError, GenFlowClient, Unreachable

log = logging.getLogger(__name__)

SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
UNAVAILABLE = ""  # the file value of an artifact that could not be fetched


class ArtifactFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def files(self) -> dict[str, str]:
        """Artifact id -> local path ("" when it could not be fetched)."""
        return dict(self._files)

    async def fetch(self, client: GenFlowClient, artifact_ids: list[str]) -> None:
        """Make sure each artifact has a local file (or is marked unavailable)."""
        for artifact_id in artifact_ids:
            if artifact_id not in self._files:
                async with self._locks.setdefault(artifact_id, asyncio.Lock()):
                    if artifact_id not in self._files:
                        path = await self._download(client, artifact_id)
                        if path is not None:
                            self._files[artifact_id] = path

    async def _download(self, client: GenFlowClient, artifact_id: str) -> str | None:
        """The local path; UNAVAILABLE if the API refuses; None to try again later."""
        if not SAFE_ID.match(artifact_id):
            return UNAVAILABLE
        try:
            data, mime = await client.artifact(artifact_id)
        except Unreachable:
            return None
        except APIError as exc:
            log.warning("artifact %s unavailable: %s", artifact_id, exc)
            return UNAVAILABLE
        suffix = SUFFIXES.get(mime.split(";")[0].strip(), ".bin")
        path = self.directory / f"{secrets.token_urlsafe(24)}{suffix}"
        await asyncio.to_thread(_write, path, data)
        return str(path)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
