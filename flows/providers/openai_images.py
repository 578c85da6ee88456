"""The `openai` image backend: `images.generate` with a base64 response.

Like the LLM backend, an answer that is not one (an HTML page, invalid JSON, base64 that
does not decode) becomes an `ImageError` saying what arrived, and the whole answer must
arrive within `timeout` seconds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

import openai

from flows.images import ImageError
from flows.providers.openai_llm import SDK_CONNECTIONS, make_client, translate
from flows.providers.server_answers import BadAnswer, decode_json, error_in, excerpt


class OpenAIImages:
    name = "openai"
    max_concurrency = SDK_CONNECTIONS

    def __init__(self, *, model: str, timeout: float = 120.0, client: Any = None) -> None:
        self.model = model
        self.timeout = timeout
        self.client = client or make_client(timeout)

    async def generate(self, prompt: str, *, size: str, attempt: int) -> tuple[bytes, str]:
        extra: dict[str, Any] = {}
        if self.model.startswith("dall-e"):
            extra["response_format"] = "b64_json"  # gpt-image-* always answers base64
        try:
            async with self.client.images.with_streaming_response.generate(
                model=self.model, prompt=prompt, size=size, n=1, **extra
            ) as response:
                data = await self._json(response.http_response)
        except openai.OpenAIError as exc:
            raise ImageError(str(translate(exc))) from exc
        except BadAnswer as exc:
            raise ImageError(str(exc)) from exc
        return decode_image(data), "image/png"

    async def _json(self, response: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                body = await response.aread()
        except TimeoutError:
            raise ImageError(
                f"the image server did not finish its answer within {self.timeout:g} s "
                "(GENFLOW_LLM_TIMEOUT)"
            ) from None
        content_type = response.headers.get("content-type", "")
        return decode_json(
            response.status_code, content_type, body, who="image server", wanted="JSON"
        )


def decode_image(data: Any) -> bytes:
    """The first image's bytes from an `images.generate` body."""
    if (message := error_in(data)) is not None:
        raise ImageError(f"the image server answered with an error: {message}")
    items = data.get("data") if isinstance(data, dict) else None
    first = items[0] if isinstance(items, list) and items else None
    encoded = first.get("b64_json") if isinstance(first, dict) else None
    if not isinstance(encoded, str) or not encoded:
        raise ImageError("the image server returned no image data")
    try:  # line breaks are allowed (MIME-style wrapping); anything else is not base64
        return base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(
            f"the image server sent image data that is not valid base64: {excerpt(encoded, 40)}"
        ) from None
