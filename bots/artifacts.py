"""Show a job's artifacts in the thread of its message: images uploaded with
files_upload_v2 (every attempt), articles as section blocks, or as a file when long.

Each artifact is posted once: what was posted is recorded in the bot's store, so a
restarted bot replaying the job's events does not upload it again.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from backend.client import APIError, Artifact, GenFlowClient
from bots.blocks import article_blocks
from bots.markdown import truncate
from bots.store import BotStore
from bots.view import MessageView

log = logging.getLogger("genflow.slack")


class ArtifactPoster:
    def __init__(self, genflow: GenFlowClient, slack: AsyncWebClient, store: BotStore) -> None:
        self.genflow, self.slack, self.store = genflow, slack, store

    async def post(self, view: MessageView, artifact: Artifact, channel: str, ts: str) -> None:
        """Post `artifact` under the message (channel, ts); failures are logged, not raised."""
        try:
            data, _mime = await self.genflow.artifact(artifact.id)
            if artifact.kind == "markdown":
                await self._article(view, artifact, data.decode("utf-8", "replace"), channel, ts)
            else:
                await self._upload(view, artifact, data, channel, ts)
        except (APIError, SlackApiError, OSError, ValueError) as exc:
            log.warning("could not post %s of %s to Slack: %s", artifact.id, view.job_id, exc)
            return
        upload = view.upload(artifact.id)
        upload.posted = True
        await self.store.add_posted(view.job_id, artifact.id, upload.file_id, upload.permalink)

    async def _upload(
        self, view: MessageView, artifact: Artifact, data: bytes, channel: str, ts: str
    ) -> None:
        artifacts = view.job.artifacts
        number = sum(
            1 for a in artifacts[: artifacts.index(artifact) + 1] if a.kind == artifact.kind
        )
        name = artifact.name or artifact.id
        title = (
            f"Attempt {number}: {truncate(view.title, 120)}" if artifact.kind == "image" else name
        )
        response = await self.slack.files_upload_v2(
            channel=channel, thread_ts=ts, file=data, filename=name, title=title
        )
        uploaded = response.get("file") or {}
        upload = view.upload(artifact.id)
        upload.file_id, upload.permalink = uploaded.get("id"), uploaded.get("permalink")

    async def _article(
        self, view: MessageView, artifact: Artifact, markdown: str, channel: str, ts: str
    ) -> None:
        blocks = article_blocks(markdown)
        title = markdown.strip().splitlines()[0].lstrip("# ").strip() if markdown.strip() else ""
        if blocks is None:
            await self._upload(view, artifact, markdown.encode(), channel, ts)
            return
        await self.slack.chat_postMessage(
            channel=channel, thread_ts=ts, text=truncate(title or "The article", 150), blocks=blocks
        )
