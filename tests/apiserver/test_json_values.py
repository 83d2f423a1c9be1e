"""What no JSON a Kubernetes API takes is refused at the door with its field path: NaN and
infinities (YAML ``.nan``), integers beyond 64 bits, absurd nesting; and what the review of
issue 10 found: nulls of maps refused, nulls of fields pruned from what is stored, nested
immutable fields kept when their parent is dropped, many errors answered in linear time."""

from __future__ import annotations

import time
from typing import Any

from .api_support import serving

TRIGGERS = "/apis/eventing.knative.dev/v1/namespaces/default/triggers"
BROKERS = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
YAML = {"Content-Type": "application/yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON = {"Content-Type": "application/json"}
STRICT = "?fieldValidation=Strict"


def causes(body: Any) -> dict[str, str]:
    return {c["field"]: c["message"] for c in body["details"]["causes"]}


TRIGGER_YAML = """
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t}
spec:
  broker: default
  subscriber: {uri: "http://x.example/"}
"""


async def test_non_json_numbers_are_refused_with_their_path() -> None:
    async with serving() as api:
        for value, message in (
            (".nan", "expected a finite number, got nan"),
            (".inf", "expected a finite number, got inf"),
            ("9223372036854775808", "an integer must fit in 64 bits"),
        ):
            body = TRIGGER_YAML + f"  delivery: {{retry: {value}}}\n"
            status, answer = await api.call("POST", TRIGGERS + STRICT, body, YAML)
            assert status == 422, answer
            assert message in causes(answer)["spec.delivery.retry"]


async def test_deep_nesting_is_a_field_error_not_a_500() -> None:
    nested: dict[str, Any] = {"exact": {"type": "x"}}
    for _ in range(600):
        nested = {"not": nested}
    trigger = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "deep"},
        "spec": {"broker": "default", "subscriber": {"uri": "http://x/"}, "filters": [nested]},
    }
    async with serving() as api:
        status, answer = await api.call("POST", TRIGGERS, trigger)
        assert status == 422, answer
        ((field, message),) = causes(answer).items()
        assert field.startswith("spec.filters[0].not.not")
        assert message.startswith("nested too deeply")


def deep_trigger_json(levels: int) -> str:
    filters = '{"not":' * levels + '{"exact":{"type":"x"}}' + "}" * levels
    return (
        '{"apiVersion":"eventing.knative.dev/v1","kind":"Trigger","metadata":{"name":"deep"},'
        f'"spec":{{"broker":"default","subscriber":{{"uri":"http://x/"}},"filters":[{filters}]}}}}'
    )


def deep_trigger_yaml(levels: int) -> str:
    filters = "{not: " * levels + "{exact: {type: x}}" + "}" * levels
    return TRIGGER_YAML.replace("metadata: {name: t}", "metadata: {name: deep}") + (
        f"  filters:\n  - {filters}\n"
    )


async def test_yaml_nested_too_deeply_answers_as_json_does_naming_the_limit() -> None:
    """PyYAML's composer recurses; 1,000 levels of YAML once answered 500 (RecursionError),
    then a 400 that named no limit. The loader stops at the limit, with the same path and
    message as a JSON body nested as deeply."""
    too_deep = "nested too deeply (more than 199 levels)"
    async with serving() as api:
        for levels in (250, 900, 5000):
            status, from_json = await api.call(
                "POST", TRIGGERS, deep_trigger_json(min(levels, 900)), JSON
            )
            assert status == 422, from_json
            status, from_yaml = await api.call("POST", TRIGGERS, deep_trigger_yaml(levels), YAML)
            assert status == 422, from_yaml
            assert causes(from_yaml) == causes(from_json)
            ((field, message),) = causes(from_yaml).items()
            assert field == "spec.filters[0]" + ".not" * 197
            assert message == too_deep
        block = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\nblock:\n" + "".join(
            "  " * (i + 1) + "k:\n" for i in range(300)
        )
        status, answer = await api.call("POST", CONFIGMAPS, block, YAML)
        assert status == 422, answer
        assert causes(answer) == {"block" + ".k" * 199: too_deep}


async def test_json_deeper_than_the_parser_reads_names_the_limit() -> None:
    async with serving() as api:
        status, answer = await api.call("POST", TRIGGERS, deep_trigger_json(2000), JSON)
        assert status == 400, answer
        assert answer["message"].endswith("nested too deeply (more than 199 levels)")


async def test_nulls_of_fields_are_pruned_and_nulls_of_maps_refused() -> None:
    async with serving() as api:
        empty_type = TRIGGER_YAML + "  filter:\n    attributes: {type: }\n"
        status, answer = await api.call("POST", TRIGGERS + STRICT, empty_type, YAML)
        assert status == 422
        assert causes(answer) == {"spec.filter.attributes[type]": "expected a string, got null"}
        status, stored = await api.call(
            "POST", TRIGGERS + STRICT, TRIGGER_YAML + "  delivery: null\n", YAML
        )
        assert status == 201, stored
        assert "delivery" not in stored["spec"]
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"k": None},
        }
        status, answer = await api.call("POST", CONFIGMAPS, cm)
        assert status == 422
        assert causes(answer) == {"data[k]": "expected a string, got null"}


async def test_dropping_a_parent_does_not_drop_its_immutable_field() -> None:
    broker = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "b"},
        "spec": {"config": {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg"}},
    }
    async with serving() as api:
        assert (await api.call("POST", BROKERS, broker))[0] == 201
        status, answer = await api.call("PATCH", f"{BROKERS}/b", {"spec": None}, MERGE)
        assert status == 422, answer
        assert list(causes(answer)) == ["spec.config"]
        status, kept = await api.call("GET", f"{BROKERS}/b")
        assert kept["spec"]["config"]["name"] == "cfg"


async def test_thousands_of_errors_do_not_stall_the_api() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "many"},
        "data": {f"k{i}": i for i in range(12_000)},
    }
    async with serving(client_max_size=4 * 1024**2) as api:
        started = time.monotonic()
        status, answer = await api.call("POST", CONFIGMAPS, cm)
        assert status == 422
        assert len(answer["details"]["causes"]) == 12_000
        assert time.monotonic() - started < 5.0  # ~0.3 s here; it once took 13 s
