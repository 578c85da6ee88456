"""Workflow spec validation: every rule, each problem naming the node and the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flows.pilot.library import TEMPLATES
from flows.pilot.validate import Validation, validate


def small() -> dict[str, Any]:
    return {
        "name": "Greeter",
        "nodes": [
            {"id": "start", "type": "input", "config": {"fields": {"name": {"type": "string"}}}},
            {"id": "greet", "type": "llm", "config": {"prompt": "Greet {{input.name}}"}},
            {"id": "done", "type": "output", "config": {"value": "{{greet.text}}"}},
        ],
        "connections": [
            {"source": "start", "target": "greet"},
            {"source": "greet", "target": "done"},
        ],
    }


def errors(result: Validation) -> list[tuple[str | None, str, str]]:
    return [(p.node, p.field, p.message) for p in result.errors]


def one_error(spec: dict[str, Any], **kwargs: Any) -> tuple[str | None, str, str]:
    result = validate(spec, **kwargs)
    assert len(result.errors) >= 1, "expected the spec to be refused"
    return errors(result)[0]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_validates(name: str) -> None:
    result = validate(TEMPLATES[name].spec())
    assert result.valid, errors(result)


def test_a_small_spec_is_valid() -> None:
    assert validate(small()).valid


def test_an_unknown_node_type_names_the_node_and_the_known_types() -> None:
    spec = small()
    spec["nodes"][1]["type"] = "gpt"
    node, field, message = one_error(spec)
    assert (node, field) == ("greet", "nodes.1.type")
    assert "llm" in message and "condition" in message


def test_a_config_field_the_type_does_not_take_is_named() -> None:
    spec = small()
    spec["nodes"][1]["config"]["promt"] = "typo"
    node, field, message = one_error(spec)
    assert (node, field) == ("greet", "config")
    assert "promt" in message


def test_a_missing_required_config_field_is_named() -> None:
    spec = small()
    del spec["nodes"][1]["config"]["prompt"]
    node, _, message = one_error(spec)
    assert node == "greet" and "prompt" in message


def test_duplicate_node_ids() -> None:
    spec = small()
    spec["nodes"].append(copy.deepcopy(spec["nodes"][1]))
    node, field, _ = one_error(spec)
    assert (node, field) == ("greet", "id")


def test_exactly_one_input() -> None:
    spec = small()
    spec["nodes"].append({"id": "again", "type": "input", "config": {}})
    spec["connections"].append({"source": "again", "target": "greet"})
    assert any("exactly one input" in m for _, _, m in errors(validate(spec)))
    spec = small()
    spec["nodes"][0]["type"] = "llm"
    spec["nodes"][0]["config"] = {"prompt": "hi"}
    spec["nodes"][1]["config"]["prompt"] = "hello"
    assert any("exactly one input" in m for _, _, m in errors(validate(spec)))


def test_dangling_edges_name_the_missing_node() -> None:
    spec = small()
    spec["connections"].append({"source": "greet", "target": "nowhere", "type": "default"})
    assert ("greet", "connections[2].target", "no node 'nowhere'") in errors(validate(spec))
    spec = small()
    spec["connections"].append({"source": "ghost", "target": "done"})
    assert (None, "connections[2].source", "no node 'ghost'") in errors(validate(spec))


def test_duplicate_edges_for_one_action_are_refused() -> None:
    spec = small()
    spec["nodes"].append({"id": "other", "type": "output", "config": {"value": "x"}})
    spec["connections"].append({"source": "greet", "target": "other"})
    node, field, message = one_error(spec)
    assert (node, field) == ("greet", "connections[2].type")
    assert "already leads to 'done'" in message


def test_an_action_a_node_type_cannot_take() -> None:
    spec = small()
    spec["connections"][1]["type"] = "true"
    found = errors(validate(spec))
    assert any(n == "greet" and "'true' cannot leave a llm node" in m for n, _, m in found)


def test_every_route_of_a_condition_review_and_loop_is_connected() -> None:
    spec = small()
    spec["nodes"][1] = {
        "id": "greet",
        "type": "condition",
        "config": {"when": {"left": "{{input.name}}", "op": "not_empty"}},
    }
    spec["connections"][1]["type"] = "true"
    spec["nodes"][2]["config"]["value"] = "{{input.name}}"
    found = errors(validate(spec))
    assert any(n == "greet" and "nothing connected for 'false'" in m for n, _, m in found)

    spec = small()
    spec["nodes"].insert(2, {"id": "ok", "type": "review", "config": {"options": ["yes", "no"]}})
    spec["connections"] = [
        {"source": "start", "target": "greet"},
        {"source": "greet", "target": "ok"},
        {"source": "ok", "target": "done", "type": "yes"},
    ]
    found = errors(validate(spec))
    assert any(n == "ok" and "nothing connected for 'no'" in m for n, _, m in found)


def test_no_output_reachable_and_unreachable_nodes() -> None:
    spec = small()
    spec["connections"] = [{"source": "start", "target": "greet"}]
    found = errors(validate(spec))
    assert any(n == "done" and "never runs" in m for n, _, m in found)
    assert any("no output node is reachable" in m for _, _, m in found)


def test_an_unbounded_cycle_is_refused_and_a_loop_bounds_one() -> None:
    spec = small()
    spec["nodes"].insert(2, {"id": "again", "type": "llm", "config": {"prompt": "more"}})
    spec["connections"] = [
        {"source": "start", "target": "greet"},
        {"source": "greet", "target": "again"},
        {"source": "again", "target": "greet"},
    ]
    found = errors(validate(spec))
    assert any("unbounded cycle" in m and "loop node" in m for _, _, m in found)


def test_a_loop_needs_a_bound_and_one_source_of_items() -> None:
    spec = TEMPLATES["data_analysis"].spec()
    loop = next(n for n in spec["nodes"] if n["type"] == "loop")
    del loop["config"]["max_iterations"]
    assert any(n == "each" and "max_iterations" in m for n, _, m in errors(validate(spec)))
    loop["config"].update(max_iterations=5, times=3)
    assert any("exactly one of `over`" in m for _, _, m in errors(validate(spec)))
    loop["config"]["max_iterations"] = 100_000
    assert any(n == "each" for n, _, _ in errors(validate(spec)))


def test_a_reference_to_a_node_that_has_not_run_on_every_path() -> None:
    spec = TEMPLATES["research_with_knowledge"].spec()
    nothing = next(n for n in spec["nodes"] if n["id"] == "nothing")
    nothing["config"]["value"] = {"answer": "{{answer.text}}"}  # only the true branch ran it
    node, field, message = one_error(spec)
    assert (node, field) == ("nothing", "config.value.answer")
    assert "'answer' does not run before 'nothing' on every path" in message


def test_references_to_unknown_nodes_and_fields() -> None:
    spec = small()
    spec["nodes"][2]["config"]["value"] = "{{greet.txt}}"
    node, _, message = one_error(spec)
    assert node == "done" and "has no field 'txt'" in message and "text" in message
    spec["nodes"][2]["config"]["value"] = "{{input.age}}"
    assert "has no field 'age'" in one_error(spec)[2]
    spec["nodes"][2]["config"]["value"] = "{{nobody.text}}"
    assert "names no node" in one_error(spec)[2]


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ config.items() }}",
        "{{ greet.text | upper }}",
        "{{ 7*7 }}",
    ],
)
def test_code_in_a_template_is_refused(template: str) -> None:
    spec = small()
    spec["nodes"][1]["config"]["prompt"] = f"Greet {template}"
    node, field, message = one_error(spec)
    assert (node, field) == ("greet", "config.prompt")
    assert "is not a reference" in message


def test_unregistered_tools_and_knowledge_bases() -> None:
    spec = TEMPLATES["data_analysis"].spec()
    next(n for n in spec["nodes"] if n["type"] == "tool")["config"]["tool"] = "shell"
    node, field, message = one_error(spec)
    assert (node, field) == ("square", "config.tool") and "calculator" in message

    spec = TEMPLATES["research_with_knowledge"].spec({"knowledge_base": "faq"})
    node, field, message = one_error(spec, knowledge_bases={"handbook"})
    assert (node, field) == ("search", "config.base") and "handbook" in message
    assert validate(spec, knowledge_bases={"faq"}).valid


def test_a_bad_regular_expression_is_refused_before_it_runs() -> None:
    spec = small()
    spec["nodes"][1] = {
        "id": "greet",
        "type": "condition",
        "config": {"when": {"left": "{{input.name}}", "op": "matches", "right": "(a+)+$"}},
    }
    spec["connections"][1]["type"] = "true"
    spec["nodes"][2]["config"]["value"] = "x"
    spec["nodes"].append({"id": "no", "type": "output", "config": {"value": "y"}})
    spec["connections"].append({"source": "greet", "target": "no", "type": "false"})
    node, field, message = one_error(spec)
    assert (node, field) == ("greet", "config.when.right") and "nested quantifiers" in message


def test_sending_data_out_without_a_review_is_a_warning() -> None:
    spec = TEMPLATES["api_enrichment"].spec({"api_url": "https://crm.example.com/r/1"})
    assert validate(spec).warnings == []  # a GET without a body sends nothing
    lookup = next(n for n in spec["nodes"] if n["type"] == "api")
    lookup["config"].update(method="POST", body={"id": "{{input.record_id}}"})
    result = validate(spec)
    assert result.valid
    assert [(w.node, w.field) for w in result.warnings] == [("lookup", "type")]


def test_placeholders_are_listed_not_errors() -> None:
    result = validate(TEMPLATES["customer_support"].spec())
    assert result.valid
    assert [(p.node, p.field) for p in result.placeholders] == [("faq", "config.base")]


def test_yaml_and_json_text_parse_to_the_same_spec() -> None:
    import json

    import yaml

    from flows.pilot.spec import parse

    spec = small()
    assert parse(json.dumps(spec)) == spec == parse(yaml.safe_dump(spec))
