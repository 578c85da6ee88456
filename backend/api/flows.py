"""The registered flows, with input schemas and review options."""

from __future__ import annotations

from quart import Blueprint

from backend.api.common import principal
from backend.services import services

blueprint = Blueprint("flows", __name__)


@blueprint.get("/api/flows")
async def list_flows() -> dict:
    principal()
    return {"flows": [spec.to_json() for spec in services().flows.values() if not spec.internal]}
