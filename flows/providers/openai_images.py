"""The `openai` image backend: `images.generate` with a base64 response."""

from __future__ import annotations

import base64
from typing import Any

import openai

from flows.images import ImageError
from flows.providers.openai_llm import make_client, translate


class OpenAIImages:
    name = "openai"

    def __init__(self, *, model: str, timeout: float = 120.0, client: Any = None) -> None:
        self.model = model
        self.client = client or make_client(timeout)

    async def generate(self, prompt: str, *, size: str, attempt: int) -> tuple[bytes, str]:
        extra: dict[str, Any] = {}
        if self.model.startswith("dall-e"):
            extra["response_format"] = "b64_json"  # gpt-image-* always answers base64
        try:
            response = await self.client.images.generate(
                model=self.model, prompt=prompt, size=size, n=1, **extra
            )
        except openai.OpenAIError as exc:
            raise ImageError(str(translate(exc))) from exc
        if not response.data or not response.data[0].b64_json:
            raise ImageError("the image server returned no image data")
        return base64.b64decode(response.data[0].b64_json), "image/png"
