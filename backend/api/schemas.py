"""JSON Schemas of the request bodies; used to validate requests and in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from backend.reviews import terms
from backend.runtime.jobs import SURFACES

CREATE_JOB: dict[str, Any] = {
    "type": "object",
    "properties": {
        "flow": {"type": "string", "minLength": 1, "maxLength": 100},
        "input": {"type": "object"},
        **terms.SCHEMA,  # reviewers, review_timeout, on_timeout
        "on_behalf_of": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "Admin tokens only: start the job for this Slack user "
            "(slack:<team>:<user>), as the X-GenFlow-On-Behalf-Of header does",
        },
    },
    "required": ["flow", "input"],
    "additionalProperties": False,
}

DECISION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "review_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "decision": {"type": "string", "minLength": 1, "maxLength": 64},
        "comment": {"type": ["string", "null"], "maxLength": 5000},
        "via": {"type": "string", "enum": list(SURFACES)},
        "edits": {
            "type": "object",
            "maxProperties": 50,
            "description": "With decision `edit`: the changed fields of the review's payload",
        },
    },
    "required": ["review_id", "decision"],
    "additionalProperties": False,
}
