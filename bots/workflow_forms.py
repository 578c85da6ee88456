"""The Run form: one input per field of the workflow's `input` node, and its submission
read back into `input_data`.

A text field is a text input (multiline when it may be longer than 200 characters), a
number or integer field a number input, anything else a text input read as JSON. The
modal carries the workflow id, the channel and each field's kind in `private_metadata`,
so the submission needs no second look at the workflow. Pure functions, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from bots.blocks import plain, section
from bots.edits import INPUT_LIMIT  # the longest text a Slack text box holds
from bots.markdown import escape, truncate
from bots.workflow_inputs import INTEGER, NUMBER, TEXT, InputField, input_fields, value_of

RUN_CALLBACK = "genflow_workflow_run"

MULTILINE_OVER = 200  # maxLength above which a text field gets a multiline input
METADATA_LIMIT = 3000  # Slack's limit for private_metadata
MAX_FIELDS = 90  # a modal holds 100 blocks
VALUE = "value"  # every input's action_id (unique per block is enough)


class FormError(Exception):
    """What to show next to the form's fields (`response_action: errors`)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def run_modal(workflow: dict[str, Any], *, channel: str) -> dict[str, Any]:
    """The modal for running `workflow` (as the API describes it); ValueError says why
    Slack cannot hold its form."""
    spec = workflow.get("workflow") or {}
    fields = input_fields(spec)
    meta = {
        "workflow": workflow["workflow_id"],
        "name": truncate(str(spec.get("name") or "Workflow"), 100),
        "channel": channel,
        "fields": [[f.name, f.kind, f.required] for f in fields],
    }
    too_long = any(len(f.name) > 255 for f in fields)
    if len(fields) > MAX_FIELDS or too_long or len(json.dumps(meta)) > METADATA_LIMIT:
        raise ValueError(
            "This workflow's inputs do not fit in a Slack form; run it with "
            f"`/workflow run {workflow['workflow_id']} key=value …` or on the web."
        )
    name = escape(truncate(str(spec.get("name") or "this workflow"), 200))
    intro = (
        f"*{name}* runs with what you fill in below; its progress and reviews appear in "
        "a message in the channel."
        if fields
        else f"*{name}* needs no input. Run it?"
    )
    return {
        "type": "modal",
        "callback_id": RUN_CALLBACK,
        "private_metadata": json.dumps(meta),
        "title": plain("Run workflow"),
        "submit": plain("Run"),
        "close": plain("Cancel"),
        "blocks": [section(intro), *(field_input(f) for f in fields)],
    }


def field_input(field: InputField) -> dict[str, Any]:
    """One input block for `field` (its block_id is the field's name)."""
    schema = field.schema
    default = schema.get("default")
    element: dict[str, Any]
    hints = [str(schema["description"])] if str(schema.get("description") or "").strip() else []
    if field.kind == TEXT:
        longest = int(schema.get("maxLength") or INPUT_LIMIT)
        element = {
            "type": "plain_text_input",
            "multiline": longest > MULTILINE_OVER,
            "max_length": min(longest, INPUT_LIMIT),
        }
        if longest > INPUT_LIMIT:
            hints.append(f"Up to {INPUT_LIMIT:,} characters here; longer on the web.")
        if isinstance(default, str) and default:
            element["initial_value"] = default[:INPUT_LIMIT]
        if schema.get("enum"):
            hints.append("One of: " + ", ".join(str(v) for v in schema["enum"]))
    elif field.kind in (NUMBER, INTEGER):
        element = {"type": "number_input", "is_decimal_allowed": field.kind == NUMBER}
        for key, bound in (("minimum", "min_value"), ("maximum", "max_value")):
            if isinstance(schema.get(key), int | float):
                element[bound] = str(schema[key])
        if isinstance(default, int | float) and not isinstance(default, bool):
            element["initial_value"] = str(default)
    else:
        element = {"type": "plain_text_input", "multiline": schema.get("type") != "boolean"}
        element["placeholder"] = plain(_json_example(schema))
        if default is not None:
            element["initial_value"] = json.dumps(default)[:INPUT_LIMIT]
        hints.append("Read as JSON (text that is not JSON is kept as text).")
    element["action_id"] = VALUE
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.name,
        "optional": not field.required,
        "label": plain(truncate(str(schema.get("title") or field.name), 2000)),
        "element": element,
    }
    if hints:
        sentences = [h.strip() if h.strip()[-1:] in ".!?" else h.strip() + "." for h in hints]
        block["hint"] = plain(truncate(" ".join(sentences), 2000))
    return block


def submitted(meta: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The execution's `input_data` from a submitted Run form; FormError names the fields
    to fix first (an empty optional field is left out, so its default applies)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, kind, required in meta.get("fields") or []:
        raw = ((values.get(name) or {}).get(VALUE) or {}).get("value")
        if raw is None or (kind != TEXT and not str(raw).strip()) or raw == "":
            if required:
                errors[name] = "Please fill this in."
            continue
        try:
            data[name] = value_of(str(raw), kind)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise FormError(errors)
    return data


def _json_example(schema: dict[str, Any]) -> str:
    examples = {
        "boolean": "true or false",
        "array": '["a", "b"] or [1, 2]',
        "object": '{"key": "value"}',
    }
    return examples.get(str(schema.get("type")), "JSON, or text")
