"""Requests the schemathesis run (tests/apiserver/test_openapi_fuzz.py) found answered with a
500, one focused test each: what a client may send, however odd, gets a 2xx or a 4xx."""

from __future__ import annotations

from typing import Any

from .api_support import serving

TRIGGERS = "/apis/eventing.knative.dev/v1/namespaces/default/triggers"


def trigger(name: str, **extra: Any) -> dict[str, Any]:
    spec = {"broker": "default", "subscriber": {"uri": "http://x.example/"}}
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name},
        "spec": spec,
        **extra,
    }


async def test_unknown_fields_with_odd_names_are_pruned_exactly() -> None:
    """An unknown field named "" at the top once raised IndexError (500); one named "" in
    ``spec`` pruned the whole spec; "a.b" and "filters[0]" were looked for elsewhere and kept."""
    async with serving() as api:
        odd = trigger("odd", **{"": 1, "x.y": 2})
        odd["spec"].update({"": 1, "a.b": 2, "filters[0]": 3, "subscriber[uri]": 4})
        status, created = await api.call("POST", TRIGGERS, odd)
        assert status == 201, created
        assert not {"", "x.y"} & set(created)
        assert created["spec"]["broker"] == "default"
        assert created["spec"]["subscriber"] == {"uri": "http://x.example/"}
        assert not {"", "a.b", "filters[0]", "subscriber[uri]"} & set(created["spec"])
        status, refused = await api.call("POST", TRIGGERS + "?fieldValidation=Strict", odd)
        assert status == 422, refused
        fields = {c["field"] for c in refused["details"]["causes"]}
        assert {"spec.a.b", "spec.filters[0]", "x.y"} <= fields


async def test_a_warning_about_a_field_named_with_a_newline_is_one_header() -> None:
    """The Warning header once carried the field's name as it was: aiohttp refused to write a
    header with a newline and dropped the connection after the object was stored."""
    async with serving() as api:
        odd = trigger("newline", **{"a\r\nX-Injected: 1": 1, "tab\there": 2})
        async with api.client.post(api.url + TRIGGERS, json=odd) as resp:
            assert resp.status == 201
            warnings = resp.headers.getall("Warning")
            assert "X-Injected" not in resp.headers
        assert sorted(warnings) == [
            '299 - "unknown field \\"a\\\\x0d\\\\x0aX-Injected: 1\\""',
            '299 - "unknown field \\"tab\\\\x09here\\""',
        ]


async def test_thousands_of_unknown_fields_answer_a_bounded_number_of_warnings() -> None:
    """One Warning header per unknown field made a response Python's http.client (and so the
    Kubernetes Python client) refuses: more than 100 headers. At most 50 now, the last one
    counting the rest; long texts are cut as Kubernetes cuts them."""
    many = trigger("many", **{f"unknown{i}": i for i in range(300)})
    long = trigger("long", **{"x" * 5000: 1, "y": 2})
    async with serving(client_max_size=4 * 1024**2) as api:
        async with api.client.post(api.url + TRIGGERS, json=many) as resp:
            assert resp.status == 201
            warnings = resp.headers.getall("Warning")
        assert len(warnings) == 50
        assert warnings[0] == '299 - "unknown field \\"unknown0\\""'
        assert warnings[-1] == '299 - "and 251 more warnings"'
        async with api.client.post(api.url + TRIGGERS, json=long) as resp:
            assert resp.status == 201
            cut, whole = resp.headers.getall("Warning")
        assert cut == '299 - "unknown field \\"' + "x" * (256 - len('unknown field "')) + '"'
        assert whole == '299 - "unknown field \\"y\\""'
