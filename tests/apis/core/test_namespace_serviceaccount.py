from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import core
from kawa.apis.core import namespace, serviceaccount
from kawa.errors import FieldError

from ..helpers import field_errors, status_errors


def ns(name: str = "dev", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, **extra}


def test_namespace_defaults_to_active_on_a_copy() -> None:
    obj = ns()
    out = core.NAMESPACE.default(obj)
    assert out["status"] == {"phase": "Active"}
    assert "status" not in obj
    parsed = namespace.parse_namespace(
        ns(spec={"finalizers": ["kubernetes"]}, metadata={"name": "dev", "uid": "u"})
    )
    assert (parsed.name, parsed.uid, parsed.finalizers) == ("dev", "u", ["kubernetes"])
    assert parsed.namespace == ""


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (ns("a.b"), {"metadata.name": "invalid value 'a.b': a lowercase RFC 1123 label"}),
        (ns("Dev"), {"metadata.name": "invalid value 'Dev': a lowercase RFC 1123 subdomain"}),
        (
            {**ns(), "metadata": {"name": "dev", "namespace": "x"}},
            {"metadata.namespace": "not allowed: this kind is not namespaced"},
        ),
        (
            ns(spec={"finalizers": [1]}),
            {"spec.finalizers[0]": "expected a string, got a number (quote it in YAML)"},
        ),
    ],
)
def test_invalid_namespaces(obj: dict[str, Any], expected: dict[str, str]) -> None:
    found = field_errors(lambda: core.NAMESPACE.validate(obj))
    assert found.keys() == expected.keys()
    for path, start in expected.items():
        assert found[path].startswith(start)


def test_namespace_subject_has_no_namespace() -> None:
    with pytest.raises(Exception, match="Namespace Bad is invalid"):
        core.NAMESPACE.validate(ns("Bad"))


def test_terminating_namespace_cannot_become_active() -> None:
    old = ns(status={"phase": "Active"})
    new = ns(status={"phase": "Active"})
    namespace.mark_terminating(new)
    core.NAMESPACE.validate_update(old, new)
    assert field_errors(lambda: core.NAMESPACE.validate_update(new, old)) == {
        "status.phase": "a terminating namespace cannot become active again"
    }


def test_namespace_status_phases() -> None:
    # The status is never read with the object: its schema checks writes of status.phase.
    assert status_errors(core.NAMESPACE, {"phase": "Gone"}) == [
        FieldError("status.phase", "must be one of Active, Terminating, got 'Gone'")
    ]


def test_namespace_column() -> None:
    assert [c.json_path for c in core.NAMESPACE.printer_columns] == [
        ".status.phase",
        ".metadata.creationTimestamp",
    ]


def sa(**extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "events-sa", "namespace": "default"},
        **extra,
    }


def test_seed_service_account() -> None:
    parsed = serviceaccount.parse_service_account(sa())
    assert (parsed.namespace, parsed.name) == ("default", "events-sa")
    assert (parsed.secrets, parsed.image_pull_secrets) == ([], [])
    assert parsed.automount_service_account_token is None
    full = serviceaccount.parse_service_account(
        sa(
            secrets=[{"name": "tok"}],
            imagePullSecrets=[{"name": "reg"}],
            automountServiceAccountToken=False,
        )
    )
    assert [s.name for s in full.secrets] == ["tok"]
    assert [s.name for s in full.image_pull_secrets] == ["reg"]
    assert full.automount_service_account_token is False
    secrets_column = core.SERVICE_ACCOUNT.printer_columns[0]
    assert secrets_column.value is not None
    assert secrets_column.value(sa(secrets=[{"name": "a"}, {"name": "b"}])) == 2
    assert secrets_column.value(sa()) == 0


def test_invalid_service_account() -> None:
    assert field_errors(
        lambda: core.SERVICE_ACCOUNT.validate(
            sa(
                secrets={"name": "x"},
                imagePullSecrets=[{"name": 3}],
                automountServiceAccountToken="no",
            )
        )
    ) == {
        "secrets": "expected a list, got a mapping",
        "imagePullSecrets[0].name": "expected a string, got a number (quote it in YAML)",
        "automountServiceAccountToken": "expected a boolean, got a string",
    }
