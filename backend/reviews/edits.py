"""Edit before approve: a reviewer's changes to the review's payload, checked and diffed.

An `edit` decision carries `edits`, the changed fields of the payload the reviewer was
shown: only fields the review lets be edited (`editable`, all present in the payload),
each with the JSON type it had. `review.decided` then records the edits and, for every
text field that changed, a unified diff of what was shown against what was decided.
"""

from __future__ import annotations

import difflib
from typing import Any

from backend.domain import Review
from backend.errors import InvalidInput

EDIT = "edit"


def check(review: Review, decision: str, edits: dict[str, Any] | None) -> None:
    """InvalidInput (422) listing every problem, or nothing."""
    if decision != EDIT:
        if edits is not None:
            raise InvalidInput(
                "edits go with the decision 'edit'",
                [{"field": "body.edits", "message": f"not taken with {decision!r}"}],
            )
        return
    if not edits:
        raise InvalidInput(
            "an edit needs the changed fields",
            [{"field": "body.edits", "message": f"change one of: {', '.join(review.editable)}"}],
        )
    problems = [
        {"field": f"body.edits.{field}", "message": problem}
        for field, value in edits.items()
        if (problem := _problem(review, field, value))
    ]
    if problems:
        raise InvalidInput("these edits cannot be made to this review", problems)


def _problem(review: Review, field: str, value: Any) -> str | None:
    if field not in review.payload:
        return "not a field of the review's payload"
    if field not in review.editable:
        return f"not editable (editable: {', '.join(review.editable) or 'none'})"
    shown, given = json_type(review.payload[field]), json_type(value)
    if shown != given:
        return f"must be {shown}, like the payload's, not {given}"
    return None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def diffs(payload: dict[str, Any], edits: dict[str, Any]) -> dict[str, str]:
    """A unified diff per text field the edits changed (shown -> decided)."""
    out: dict[str, str] = {}
    for field, value in edits.items():
        shown = payload.get(field)
        if isinstance(value, str) and isinstance(shown, str) and value != shown:
            lines = difflib.unified_diff(
                _lines(shown), _lines(value), f"{field} (shown)", f"{field} (decided)"
            )
            out[field] = "".join(lines)
    return out


def _lines(text: str) -> list[str]:
    """Lines with their ends, the last one ended too (so a diff never runs lines together)."""
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(True)]
