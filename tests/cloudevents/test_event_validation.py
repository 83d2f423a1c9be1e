"""Attribute rules: required attributes, types, URIs, media types, extensions, int32."""

from __future__ import annotations

import pytest

from kawa import memo
from kawa.cloudevents import validation
from kawa.cloudevents.validation import CloudEventError, validate
from kawa.errors import FieldError, ValidationError

MINIMAL: dict[str, object] = {
    "specversion": "1.0",
    "id": "1",
    "source": "https://example.com/source",
    "type": "com.example.test",
}


def problems(**changes: object) -> dict[str, str]:
    attrs = {**MINIMAL, **changes}
    return {e.path: e.message for e in validate(attrs)}


def test_minimal_event_is_valid() -> None:
    assert validate(MINIMAL) == []
    assert validate({**MINIMAL, "specversion": "0.3"}) == []


def test_every_missing_required_attribute_is_reported() -> None:
    errors = validate({})
    assert {e.path for e in errors} == {"specversion", "id", "source", "type"}
    assert all(e.message == "required" for e in errors)


@pytest.mark.parametrize("name", ["id", "source", "type"])
def test_required_strings_must_be_non_empty_strings(name: str) -> None:
    assert problems(**{name: ""}) == {name: "must be a non-empty string"}
    assert "must be a string (got int)" in problems(**{name: 25})[name]
    assert "must be a string (got bool)" in problems(**{name: True})[name]
    assert "must be a string (got dict)" in problems(**{name: {"x": 1}})[name]


@pytest.mark.parametrize("version", ["", "0.9", "1", "1.0.2", 1.0])
def test_unknown_specversion(version: object) -> None:
    assert "must be" in problems(specversion=version)["specversion"]


@pytest.mark.parametrize(
    "source",
    [
        "https://example.com/source",
        "/apis/v1/namespaces/default/pingsources/p",
        "#fragment",
        "//authority/path",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "relative/path?q=1#f",
        "mailto:someone@example.com",
        "http://example.com/caf%C3%A9",
        "http://example.com/café",  # IRIs are tolerated (Go's net/url accepts them)
    ],
)
def test_valid_sources(source: str) -> None:
    assert problems(source=source) == {}


@pytest.mark.parametrize(
    "source",
    [
        "has space",
        "tab\there",
        "line\nbreak",
        "bad%zzescape",
        "trailing%",
        "1http://example.com",  # a scheme starts with a letter
        ":nothing-before-colon",
        "ht_tp://example.com",
    ],
)
def test_invalid_sources(source: str) -> None:
    assert "URI-reference" in problems(source=source)["source"]


def test_dataschema_must_be_an_absolute_uri() -> None:
    assert problems(dataschema="https://example.com/schema.json") == {}
    assert problems(dataschema="urn:example:schema") == {}
    assert "absolute URI" in problems(dataschema="/relative/schema")["dataschema"]
    assert "non-empty" in problems(dataschema="")["dataschema"]
    assert "absolute URI" in problems(dataschema="http://a b")["dataschema"]


def test_schemaurl_is_the_03_name_of_dataschema() -> None:
    v03 = {**MINIMAL, "specversion": "0.3"}
    assert validate({**v03, "schemaurl": "https://example.com/s"}) == []
    errors = validate({**v03, "schemaurl": "relative"})
    assert [e.path for e in errors] == ["schemaurl"]
    # In 1.0 a schemaurl is merely an extension (any string will do).
    assert problems(schemaurl="relative") == {}


def test_datacontentencoding_in_03_must_be_base64() -> None:
    v03 = {**MINIMAL, "specversion": "0.3"}
    assert validate({**v03, "datacontentencoding": "base64"}) == []
    assert validate({**v03, "datacontentencoding": "Base64"}) == []
    assert [e.path for e in validate({**v03, "datacontentencoding": "gzip"})] == [
        "datacontentencoding"
    ]


@pytest.mark.parametrize(
    "media_type",
    [
        "application/json",
        "text/plain; charset=utf-8",
        'multipart/form-data; boundary="a b;c"',
        "application/vnd.example+json;v=2;charset=UTF-8",
        "application/json;",
    ],
)
def test_valid_media_types(media_type: str) -> None:
    assert problems(datacontenttype=media_type) == {}


@pytest.mark.parametrize(
    "media_type",
    [
        "xyz",
        "",
        "application/",
        "/json",
        "text/plain; charset",
        "täxt/plain",
        'text/plain; x="a\r\nb"',  # a control character would break the delivery's headers
        'text/plain; x="a\x00b"',
    ],
)
def test_invalid_media_types(media_type: str) -> None:
    assert "datacontenttype" in problems(datacontenttype=media_type)


def test_subject_and_time() -> None:
    assert problems(subject="") == {"subject": "must be a non-empty string"}
    assert problems(time="2020-01-01T12:00:00Z") == {}
    assert "RFC 3339" in problems(time="2020-01-01 12:00:00")["time"]
    assert "RFC 3339" in problems(time="2020-13-01T00:00:00Z")["time"]
    assert problems(time="2020-01-01t12:00:00z") == {}


@pytest.mark.parametrize("name", ["a", "myext", "ext1", "0", "averyveryverylongextensionname"])
def test_valid_extension_names(name: str) -> None:
    assert problems(**{name: "v"}) == {}


@pytest.mark.parametrize(
    "name", ["MyExtension", "my.extension", "my_ext", "my-ext", "", "ext ", "exté", "data"]
)
def test_invalid_extension_names(name: str) -> None:
    assert name in problems(**{name: "v"})


def test_extension_values_keep_their_types() -> None:
    assert problems(extstr="", extint=10, extbool=True, extbin=b"\x00\x01") == {}
    assert problems(low=validation.INT32_MIN, high=validation.INT32_MAX) == {}


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 10**20])
def test_integers_must_fit_in_int32(value: int) -> None:
    assert "32 bits" in problems(ext=value)["ext"]


@pytest.mark.parametrize("value", [1.5, 1.0, None, [1], {"a": 1}])
def test_other_extension_value_types_are_rejected(value: object) -> None:
    assert "String, Integer" in problems(ext=value)["ext"]


def test_booleans_are_not_integers_or_strings() -> None:
    # A bool is a Boolean: accepted as an extension, never where a String is required.
    assert problems(ext=True) == {}
    assert "got bool" in problems(subject=False)["subject"]


def test_every_problem_is_reported_at_once() -> None:
    errors = validate({"specversion": "1.0", "id": "", "source": "a b", "Bad": 1.5})
    assert {e.path for e in errors} == {"id", "source", "Bad", "type"}


def test_cloud_event_error_is_a_validation_error() -> None:
    with pytest.raises(CloudEventError) as info:
        validation.check({"specversion": "1.0"})
    assert isinstance(info.value, ValidationError)
    assert FieldError("id", "required") in info.value.errors
    assert str(info.value).startswith("CloudEvent is invalid")
    validation.check(MINIMAL)  # no error


def test_checks_of_short_values_are_remembered_and_of_huge_ones_never() -> None:
    # values repeat from event to event; a sender's huge ones must not stay in memory
    remembered = memo.remembered(validation._uri_problem)
    names = memo.remembered(validation.extension_name_problem)
    for n in range(20):
        huge = f"/{n}/" + "x" * 100_000
        assert problems(source=huge) == {}
        bad_name = f"X{n}" + "x" * 1000  # uppercase: refused, and checked every time
        assert bad_name in problems(**{bad_name: "v"})
    assert memo.remembered(validation._uri_problem) == remembered
    assert memo.remembered(validation.extension_name_problem) == names
    assert problems(source="/short/and/repeated") == {}
    assert problems(source="/short/and/repeated") == {}
    assert memo.remembered(validation._uri_problem) <= remembered + 1
    assert "source" in problems(source="has space")  # an answer remembered is the same answer
    assert "source" in problems(source="has space")
