"""The generated protocol documentation (docs/) is up to date and consistent with the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motcua.protocol import docs
from motcua.protocol import messages as m
from motcua.protocol.codec import decode
from motcua.protocol.topics import TOPIC_SPECS

DOCS = Path(__file__).resolve().parent.parent / "docs"
MODELS = {model.__name__: model for model in docs.documented_models()}


def _all_examples() -> list[tuple[object, docs.Example]]:
    ex = docs.examples()
    return [(spec, e) for spec in TOPIC_SPECS for e in ex[spec.name]]


def test_committed_docs_are_up_to_date():
    assert docs.check(DOCS) == [], "run `motcua schema export docs` and commit the result"


def test_export_writes_what_check_expects(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "Gone.json").write_text("{}\n")
    written = docs.export(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(docs.render())
    assert not (tmp_path / "schemas" / "Gone.json").exists()
    assert docs.check(tmp_path) == []
    (tmp_path / "protocol.md").write_text("stale\n")
    (tmp_path / "schemas" / "Health.json").unlink()
    assert sorted(docs.check(tmp_path)) == ["protocol.md", "schemas/Health.json"]


def test_output_is_deterministic():
    assert docs.render() == docs.render()


def test_every_topic_is_documented_in_protocol_md():
    md = (DOCS / "protocol.md").read_text(encoding="utf-8")
    for spec in TOPIC_SPECS:
        assert f"\n### {spec.name}\n" in md
        assert f"`motcua/v1/{{site}}/{spec.pattern}`" in md
        assert f"[`{spec.pattern}`]" in md  # the summary table
    for code in m.ErrorInfo.model_fields["code"].annotation.__args__:
        assert f"| `{code}` |" in md
    for action in m.COUNTER_ACTIONS:
        assert f"counter/3/{action}`" in md


def test_every_topic_and_counter_action_has_an_example():
    ex = docs.examples()
    assert set(ex) == {spec.name for spec in TOPIC_SPECS}
    assert all(ex[name] for name in ex)
    actions = [e.topic.rsplit("/", 1)[1] for e in ex["counter command"]]
    assert actions == list(m.COUNTER_ACTIONS)


def test_examples_decode_as_their_topic_says():
    for spec, example in _all_examples():
        assert example.topic.startswith(f"motcua/v1/{docs.SITE}/")
        if spec.payload is None:
            assert example.payload in ("online", "offline")
            continue
        model = spec.payload
        if model is m.CounterCommand:
            model = m.COUNTER_ACTIONS[example.topic.rsplit("/", 1)[1]]
        assert decode(model, example.payload.to_json()) == example.payload
        if spec.reply is not None:
            assert example.reply is not None
            assert decode(spec.reply, example.reply.to_json()) == example.reply
            request_id = getattr(example.payload, "command_id", None) or example.payload.rating_id
            assert example.reply.command_id == request_id


@pytest.mark.parametrize("name", sorted(MODELS))
def test_schema_file_is_valid_and_round_trips_its_examples(name):
    schema = json.loads((DOCS / "schemas" / f"{name}.json").read_text(encoding="utf-8"))
    assert schema["title"] == name
    assert schema["additionalProperties"] is False
    model = MODELS[name]
    instances = [x for _, e in _all_examples() for x in (e.payload, e.reply) if isinstance(x, model)]
    assert instances, f"no example of {name}"
    for x in instances:
        data = json.loads(x.model_dump_json(include=set(model.model_fields)))
        assert set(schema["required"]) <= set(data) <= set(schema["properties"])
        assert model.model_validate_json(json.dumps(data)).model_dump() == x.model_dump(include=set(model.model_fields))


def test_schema_files_are_exactly_the_documented_models():
    assert {p.stem for p in (DOCS / "schemas").glob("*.json")} == set(MODELS)
    assert set(m.COUNTER_ACTIONS.values()) | {m.Reply} <= set(MODELS.values())


def _resolve(doc: dict, ref: str):
    """Follow a local reference, and the references it points at, to the object itself."""
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return _resolve(doc, node["$ref"]) if set(node) == {"$ref"} else node


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_asyncapi_document():
    doc = json.loads((DOCS / "asyncapi.json").read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "motcua hall protocol"
    channels = doc["channels"]
    assert len(channels) == len(TOPIC_SPECS)
    assert sorted(c["address"] for c in channels.values()) == sorted(f"motcua/v1/{{site}}/{s.pattern}"
                                                                     for s in TOPIC_SPECS)
    for ref in set(_refs(doc)):
        _resolve(doc, ref)  # every reference points at something
    for channel in channels.values():
        for param in docs._params(channel["address"]):
            assert param in channel["parameters"]
    reply = next(c for c in channels.values() if c["address"].endswith("/device/{device_id}/reply"))
    for spec in TOPIC_SPECS:
        ops = [op for op in doc["operations"].values() if _resolve(doc, op["channel"]["$ref"])["title"] == spec.name]
        assert len(ops) == 1
        assert ops[0]["bindings"]["mqtt"]["qos"] == spec.qos
        assert ops[0]["bindings"]["mqtt"]["retain"] == spec.retained
        if spec.reply is not None:
            assert _resolve(doc, ops[0]["reply"]["channel"]["$ref"]) is reply
            assert [_resolve(doc, r["$ref"]) for r in ops[0]["reply"]["messages"]] == [
                doc["components"]["messages"][spec.reply.__name__]]
        else:
            assert "reply" not in ops[0]
    availability = doc["components"]["messages"]["Availability"]
    assert availability["payload"] == {"type": "string", "enum": ["online", "offline"]}
