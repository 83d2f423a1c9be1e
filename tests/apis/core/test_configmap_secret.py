from __future__ import annotations

import base64
from typing import Any

import pytest

from kawa.apis import core
from kawa.apis.core import configmap, secret

from ..helpers import field_errors


def cm(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "config-br-defaults", "namespace": "knative-eventing"},
        **extra,
    }


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_config_map_parses_data_and_binary_data() -> None:
    parsed = configmap.parse_config_map(
        cm(data={"default-br-config": "x: 1", "a.b_c-D": ""}, binaryData={"bin": b64("\x00\x01")})
    )
    assert parsed.data == {"default-br-config": "x: 1", "a.b_c-D": ""}
    assert parsed.binary_data == {"bin": b"\x00\x01"}
    assert not parsed.immutable
    assert parsed.namespace == "knative-eventing"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (cm(data={"a/b": "x"}), {"data[a/b]": "invalid key: a valid config key must consist"}),
        (cm(data={"..x": "x"}), {"data[..x]": "invalid key: must not start with '..'"}),
        (cm(data={"k": 1}), {"data[k]": "expected a string, got a number (quote it in YAML)"}),
        (cm(data=["k"]), {"data": "expected a mapping, got a list"}),
        (cm(binaryData={"k": "not base64!"}), {"binaryData[k]": "invalid value: expected base64"}),
        (
            cm(data={"k": "v"}, binaryData={"k": b64("v")}),
            {"data[k]": "duplicate of key present in binaryData"},
        ),
        (cm(immutable="yes"), {"immutable": "expected a boolean, got a string"}),
        (cm(data={"k": "x" * (1024 * 1024)}), {"": "too long: must have at most 1048576 bytes"}),
    ],
)
def test_invalid_config_maps(obj: dict[str, Any], expected: dict[str, str]) -> None:
    found = field_errors(lambda: core.CONFIG_MAP.validate(obj))
    assert found.keys() == expected.keys()
    for path, start in expected.items():
        assert found[path].startswith(start)


def test_immutable_config_map() -> None:
    mutable = cm(data={"k": "v"})
    core.CONFIG_MAP.validate_update(mutable, cm(data={"k": "w"}, immutable=True))
    frozen = cm(data={"k": "v"}, immutable=True)
    core.CONFIG_MAP.validate_update(frozen, cm(data={"k": "v"}, immutable=True))
    assert field_errors(lambda: core.CONFIG_MAP.validate_update(frozen, cm(data={"k": "w"}))) == {
        "immutable": "field is immutable when `immutable` is set",
        "data": "field is immutable when `immutable` is set",
    }
    assert field_errors(
        lambda: core.CONFIG_MAP.validate_update(
            frozen, cm(data={"k": "v"}, binaryData={"b": b64("x")}, immutable=True)
        )
    ) == {"binaryData": "field is immutable when `immutable` is set"}


def test_config_map_data_column_counts_both_maps() -> None:
    column = core.CONFIG_MAP.printer_columns[0]
    assert column.name == "Data"
    assert column.value is not None
    assert column.value(cm(data={"a": "1", "b": "2"}, binaryData={"c": b64("3")})) == 3
    assert column.value(cm()) == 0


def sec(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        **extra,
    }


def test_secret_defaults_type_and_merges_string_data_on_a_copy() -> None:
    obj = sec(data={"user": b64("old"), "keep": b64("k")}, stringData={"user": "new", "pw": "p"})
    out = core.SECRET.default(obj)
    assert out["type"] == "Opaque"
    assert "stringData" not in out
    assert out["data"] == {"user": b64("new"), "keep": b64("k"), "pw": b64("p")}
    assert obj["stringData"] == {"user": "new", "pw": "p"}
    parsed = secret.parse_secret(obj)
    assert parsed.data == {"user": b"new", "keep": b"k", "pw": b"p"}
    assert parsed.type == "Opaque"
    only_string = core.SECRET.default(sec(stringData={"a": "b"}))
    assert only_string["data"] == {"a": b64("b")}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (sec(data={"k": "%%%"}), {"data[k]": "invalid value: expected base64-encoded data"}),
        (
            sec(stringData={"k": 5}),
            {"stringData[k]": "expected a string, got a number (quote it in YAML)"},
        ),
        (
            sec(type="kubernetes.io/tls", data={"tls.crt": b64("c")}),
            {"data[tls.key]": "required for a kubernetes.io/tls Secret"},
        ),
        (
            sec(type="kubernetes.io/basic-auth"),
            {"data": "a kubernetes.io/basic-auth Secret needs username or password"},
        ),
        (
            sec(type="kubernetes.io/service-account-token"),
            {
                "metadata.annotations[kubernetes.io/service-account.name]": (
                    "required field is missing"
                )
            },
        ),
        (sec(type="kubernetes.io/dockerconfigjson"), {"data[.dockerconfigjson]": "required"}),
        (sec(type="x" * 254), {"type": "must be no more than 253 characters"}),
    ],
)
def test_invalid_secrets(obj: dict[str, Any], expected: dict[str, str]) -> None:
    found = field_errors(lambda: core.SECRET.validate(obj))
    assert found.keys() == expected.keys()
    for path, start in expected.items():
        assert found[path].startswith(start)


def test_well_known_types_are_accepted() -> None:
    token = sec(
        type="kubernetes.io/service-account-token",
        metadata={
            "name": "t",
            "namespace": "default",
            "annotations": {"kubernetes.io/service-account.name": "events-sa"},
        },
    )
    assert secret.parse_secret(token).type == "kubernetes.io/service-account-token"
    tls = sec(type="kubernetes.io/tls", stringData={"tls.crt": "c", "tls.key": "k"})
    assert secret.parse_secret(tls).data == {"tls.crt": b"c", "tls.key": b"k"}
    assert secret.parse_secret(sec(type="example.com/custom")).type == "example.com/custom"


def test_secret_updates() -> None:
    core.SECRET.validate_update(sec(data={"a": b64("1")}), sec(stringData={"a": "2"}))
    assert field_errors(
        lambda: core.SECRET.validate_update(sec(), sec(type="kubernetes.io/basic-auth"))
    ) == {
        "type": "immutable field changed from 'Opaque' to 'kubernetes.io/basic-auth'; delete and "
        "recreate the Secret to change its type"
    }
    frozen = sec(data={"a": b64("1")}, immutable=True)
    assert field_errors(
        lambda: core.SECRET.validate_update(frozen, sec(stringData={"a": "2"}, immutable=True))
    ) == {"data": "field is immutable when `immutable` is set"}


def test_secret_columns() -> None:
    type_, data, age = core.SECRET.printer_columns
    assert (type_.name, type_.json_path, age.name) == ("Type", ".type", "Age")
    assert data.value is not None
    assert data.value(sec(data={"a": b64("1"), "b": b64("2")})) == 2
