"""A workflow's values (what a review shows, a run's `result.output`) as a person reads
them in Slack: text as quoted text, numbers and yes/no inline, anything else as a short
JSON block.

Workflows are drafted by a model, so every value is escaped: it can format, never ping.
"""

from __future__ import annotations

import json
from typing import Any

from bots.markdown import escape, to_mrkdwn, truncate

CUT = "\n_(cut to fit in Slack; the whole value is in the web UI)_"


def readable(value: Any, limit: int = 2500) -> str:
    """mrkdwn for `value`, at most about `limit` characters."""
    if value is None or value == "":
        return "_(empty)_"
    if isinstance(value, str):
        text = to_mrkdwn(value)
        cut = len(text) > limit
        quoted = "\n".join("> " + line for line in truncate(text, limit).splitlines() or [""])
        return quoted + (CUT if cut else "")
    if isinstance(value, bool | int | float):
        return f"`{json.dumps(value)}`"
    dumped = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    cut = len(dumped) > limit
    return f"```{escape(truncate(dumped, limit))}```" + (CUT if cut else "")
