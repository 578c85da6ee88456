"""Provider-neutral image generation: `await generate(prompt, size=..., attempt=...)`.

Returns `(bytes, mime)`. Backends: `openai` (images.generate, base64 response) and
`local` (a deterministic, clearly captioned placeholder drawn with Pillow).
"""

from __future__ import annotations

import os
from typing import Protocol

from flows.slot import ProviderSlot

SIZES = ("256x256", "512x512", "1024x1024", "1024x1536", "1536x1024")


class ImageError(RuntimeError):
    """The image could not be generated (after transient retries)."""


class ImageBackend(Protocol):
    name: str

    async def generate(self, prompt: str, *, size: str, attempt: int) -> tuple[bytes, str]: ...


def make_backend(kind: str, *, model: str = "gpt-image-1", timeout: float = 120.0) -> ImageBackend:
    if kind == "openai":
        from flows.providers.openai_images import OpenAIImages

        return OpenAIImages(model=model, timeout=timeout)
    if kind == "local":
        from flows.providers.placeholder_images import PlaceholderImages

        return PlaceholderImages()
    raise ImageError(f"unknown image backend {kind!r}; use openai or local")


def _backend_from_env() -> ImageBackend:
    default = "openai" if os.environ.get("OPENAI_API_KEY") else "local"
    return make_backend(
        os.environ.get("GENFLOW_IMAGES") or default,
        model=os.environ.get("GENFLOW_IMAGE_MODEL") or "gpt-image-1",
    )


backend = ProviderSlot[ImageBackend]("genflow_images", _backend_from_env)


async def generate(prompt: str, *, size: str = "1024x1024", attempt: int = 1) -> tuple[bytes, str]:
    if size not in SIZES:
        raise ImageError(f"unsupported size {size!r}; use one of {', '.join(SIZES)}")
    return await backend.get().generate(prompt, size=size, attempt=attempt)
