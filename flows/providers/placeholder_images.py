"""The `local` image backend: a placeholder picture, so the image flow works offline.

Deterministic for a (prompt, attempt) pair, different between attempts, and captioned
"PLACEHOLDER" so nobody mistakes it for a generated image.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import textwrap

from PIL import Image, ImageDraw, ImageFont


class PlaceholderImages:
    name = "local"

    async def generate(self, prompt: str, *, size: str, attempt: int) -> tuple[bytes, str]:
        return await asyncio.to_thread(render, prompt, size, attempt), "image/png"


def render(prompt: str, size: str, attempt: int) -> bytes:
    width, height = (min(int(v), 1024) for v in size.split("x"))
    digest = hashlib.sha256(f"{prompt}\n{attempt}".encode()).digest()
    top, bottom = digest[:3], digest[3:6]
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        mix = y / max(1, height - 1)
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)),
        )
    for i in range(6):  # a few shapes so attempts differ visibly
        x, y, r = (
            digest[6 + i] * width // 256,
            digest[12 + i] * height // 256,
            10 + digest[18 + i] // 3,
        )
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 255), width=3)
    font = ImageFont.load_default(size=max(12, width // 24))
    caption = f"PLACEHOLDER (attempt {attempt})\n" + "\n".join(textwrap.wrap(prompt, 28)[:6])
    draw.rectangle([0, height - height // 3, width, height], fill=(0, 0, 0))
    draw.multiline_text((12, height - height // 3 + 8), caption, fill=(255, 255, 255), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
