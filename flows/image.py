"""image: generate -> a person approves or asks to regenerate -> final.

Every attempt is stored as an image artifact; the result names the approved one.
"""

from __future__ import annotations

from typing import Any, TypedDict

from pocketflow import AsyncFlow, AsyncNode

from flows import context, images
from flows.gate import HumanReview

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {
            "type": "string",
            "minLength": 1,
            "maxLength": 4000,
            "description": "What the picture should show",
        },
        "size": {"type": "string", "enum": list(images.SIZES), "default": "1024x1024"},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}


class ImageShared(TypedDict, total=False):
    prompt: str
    size: str
    attempts: list[str]
    image_artifact: str
    result: dict[str, Any]


class GenerateImage(AsyncNode):
    async def prep_async(self, shared: ImageShared) -> dict[str, Any]:
        return {
            "prompt": shared["prompt"],
            "size": shared.get("size", "1024x1024"),
            "attempt": len(shared.get("attempts", [])) + 1,
        }

    async def exec_async(self, job: dict[str, Any]) -> tuple[bytes, str]:
        context.report(f"Generating image (attempt {job['attempt']})", attempt=job["attempt"])
        return await images.generate(job["prompt"], size=job["size"], attempt=job["attempt"])

    async def post_async(
        self, shared: ImageShared, job: dict[str, Any], image: tuple[bytes, str]
    ) -> str:
        data, mime = image
        artifact_id = await context.save_artifact(
            data, mime=mime, kind="image", name=f"image-{job['attempt']}.png"
        )
        shared.setdefault("attempts", []).append(artifact_id)
        shared["image_artifact"] = artifact_id
        return "default"

    def summarize(self, shared: ImageShared) -> str:
        return f"attempt {len(shared['attempts'])}"


class ImageReview(HumanReview):
    options = ("approve", "regenerate")
    prompt = "Approve the image, or regenerate it"

    def payload(self, shared: ImageShared) -> dict[str, Any]:
        return {
            "artifact_id": shared["image_artifact"],
            "url": f"/api/artifacts/{shared['image_artifact']}",
            "attempt": len(shared["attempts"]),
            "prompt": shared["prompt"],
        }


class FinalImage(AsyncNode):
    async def post_async(self, shared: ImageShared, prep_res: Any, exec_res: Any) -> str:
        shared["result"] = {
            "artifact_id": shared["image_artifact"],
            "url": f"/api/artifacts/{shared['image_artifact']}",
            "attempts": list(shared["attempts"]),
        }
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    generate, review, final = GenerateImage(max_retries=2, wait=1), ImageReview(), FinalImage()
    generate >> review
    review - "regenerate" >> generate
    review - "approve" >> final
    return AsyncFlow(start=generate)
