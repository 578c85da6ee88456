"""Artifacts: the stored bytes of an image or article, with their mime type."""

from __future__ import annotations

from quart import Blueprint, Response, request

from backend.api.common import principal
from backend.errors import NotFound
from backend.reviews import access
from backend.services import services

blueprint = Blueprint("artifacts", __name__)


@blueprint.get("/api/artifacts/<artifact_id>")
async def get_artifact(artifact_id: str) -> Response | dict:
    caller = principal(query_token=True)
    meta = request.args.get("meta") in ("1", "true")
    artifact = await services().store.get_artifact(artifact_id, with_data=not meta)
    store = services().store
    if artifact is None or not (  # the owner's, an admin's, and its job's assignees'
        caller.can_see(artifact.owner) or await access.is_assignee(store, caller, artifact.job_id)
    ):
        raise NotFound(f"artifact {artifact_id!r} not found")
    if meta:
        return artifact.to_json()
    return Response(
        artifact.data or b"",
        content_type=artifact.mime,
        headers={
            "Content-Disposition": f'inline; filename="{artifact.name}"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )
