"""GenFlow's Gradio web chat: a client of the GenFlow HTTP API (through backend.client only).

Gradio's usage analytics are off unless someone explicitly turns them on: a self-hosted
tool should not phone home. This runs before any `ui` module imports gradio.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
