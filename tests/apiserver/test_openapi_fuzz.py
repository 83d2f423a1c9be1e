"""schemathesis against kawa's own OpenAPI documents: no request answers 5xx.

One kawa API server (the in-memory one of :mod:`tests.apiserver.api_support`, no
controllers and no kubelet, so nothing the fuzzer writes runs) serves on a loopback port from
a thread of its own; the test reads ``/openapi/v3`` as kubectl does, loads each
group-version's document with schemathesis and, for a representative set of kinds, sends
every operation (list, create, get, replace, patch, delete) cases generated from the schema:
valid ones (positive) and invalid ones (negative), aimed at an object that exists
(valid ones also at made-up paths). Every answer must pass
schemathesis's ``not_a_server_error`` check; a dropped connection fails too.

The number of examples is bounded and CI runs derandomized (the ``ci`` Hypothesis profile of
tests/conftest.py), so a green run stays green. Each 500 this found has its own focused test
in tests/apiserver/test_odd_requests.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode

from .api_support import serving

pytestmark = pytest.mark.slow

EXAMPLES = 5
"""Cases per operation and per way of generating them (:data:`WAYS`)."""

WAYS = (
    (GenerationMode.POSITIVE, True),
    (GenerationMode.NEGATIVE, True),
    (GenerationMode.POSITIVE, False),
)
"""Valid and invalid cases aimed at the seeded object, and valid ones at made-up paths."""

SEED_NAME = "fuzz"


SUBSCRIBER = {"uri": "http://subscriber.example/"}
KINDS: dict[tuple[str, str], dict[str, Any]] = {
    ("api/v1", "ConfigMap"): {"data": {"a": "b"}},
    ("api/v1", "Namespace"): {},
    ("api/v1", "Pod"): {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    ("api/v1", "Secret"): {"stringData": {"a": "b"}},
    ("apis/eventing.knative.dev/v1", "Broker"): {"spec": {}},
    ("apis/eventing.knative.dev/v1", "Trigger"): {
        "spec": {"broker": "default", "subscriber": SUBSCRIBER, "filters": [{"cesql": "true"}]}
    },
    ("apis/eventing.knative.dev/v1alpha1", "Trigger"): {
        "spec": {"broker": "default", "subscriber": SUBSCRIBER}
    },
    ("apis/eventing.knative.dev/v1beta3", "EventType"): {
        "spec": {
            "attributes": [
                {"name": name, "value": "x", "required": True}
                for name in ("type", "source", "specversion", "id")
            ]
        }
    },
    ("apis/messaging.knative.dev/v1", "InMemoryChannel"): {"spec": {}},
    ("apis/messaging.knative.dev/v1", "Subscription"): {
        "spec": {
            "channel": {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "InMemoryChannel",
                "name": "c",
            },
            "subscriber": SUBSCRIBER,
        }
    },
    ("apis/flows.knative.dev/v1", "Sequence"): {"spec": {"steps": [SUBSCRIBER]}},
    ("apis/sources.knative.dev/v1", "PingSource"): {
        "spec": {"schedule": "* * * * *", "sink": SUBSCRIBER}
    },
    ("apis/sources.knative.dev/v1", "ApiServerSource"): {
        "spec": {
            "resources": [{"apiVersion": "v1", "kind": "Event"}],
            "sink": SUBSCRIBER,
        }
    },
    ("apis/serving.knative.dev/v1", "Service"): {
        "spec": {"template": {"spec": {"containers": [{"image": "busybox"}]}}}
    },
    ("apis/rbac.authorization.k8s.io/v1", "ClusterRole"): {
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    },
    ("apis/rbac.authorization.k8s.io/v1", "RoleBinding"): {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
    },
}
"""The kinds fuzzed, by group-version document, with the body of an object each to aim at."""


@dataclass
class Kawa:
    url: str
    session: requests.Session
    documents: dict[str, str]
    """group-version key (``apis/eventing.knative.dev/v1``) -> document URL."""


@pytest.fixture(scope="module")
def kawa() -> Iterator[Kawa]:
    """The API server on its own event loop in a thread (the test calls it synchronously)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    found: dict[str, str] = {}
    stop = asyncio.Event()

    async def run() -> None:
        async with serving(client_max_size=4 * 1024**2) as api:
            found["url"] = api.url
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    try:
        assert started.wait(30), "the API server did not start"
        with requests.Session() as session:
            session.trust_env = False  # no proxy from the environment for 127.0.0.1
            index = session.get(found["url"] + "/openapi/v3", timeout=30).json()
            documents = {
                key: found["url"] + ref["serverRelativeURL"] for key, ref in index["paths"].items()
            }
            yield Kawa(found["url"], session, documents)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def _seed(kawa: Kawa, group_version: str, kind: str, operation: Any) -> None:
    """Create the object the aimed cases name (again, when an earlier case deleted it)."""
    collection = operation.path.removesuffix("/{name}").replace("{namespace}", "default")
    body = {
        "apiVersion": group_version.split("/", 1)[1],
        "kind": kind,
        "metadata": {"name": SEED_NAME},
        **KINDS[(group_version, kind)],
    }
    answer = kawa.session.post(kawa.url + collection, json=body, timeout=30)
    assert answer.status_code in (201, 409), answer.text


def _operations(kawa: Kawa, group_version: str, kind: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(kawa.documents[group_version], timeout=30)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        gvk = operation.definition.raw.get("x-kubernetes-group-version-kind", {})
        if gvk.get("kind") == kind:
            operations.append(operation)
    assert len(operations) == 6, [o.label for o in operations]
    return operations


def _aim(case: Any, group_version: str, kind: str) -> Any:
    """A valid case's object made to be of the path's kind (the schema leaves ``apiVersion``
    and ``kind`` free), named as kubectl would: so it gets past the path checks to the kind's
    own validation, and, when valid, is stored."""
    body = case.body
    if case.method in ("POST", "PUT") and isinstance(body, dict):
        metadata = body.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        metadata["name"] = SEED_NAME if case.method == "PUT" else f"{SEED_NAME}-{len(str(body))}"
        case.body = {
            **body,
            "apiVersion": group_version.split("/", 1)[1],
            "kind": kind,
            "metadata": metadata,
        }
    return case


def _fuzz(
    kawa: Kawa,
    operation: Any,
    kind: tuple[str, str],
    mode: GenerationMode,
    aimed: bool,
    statuses: list[tuple[str, int]],
) -> None:
    params = {
        name: "default" if name == "namespace" else SEED_NAME for name in ("namespace", "name")
    }
    used = {k: v for k, v in params.items() if "{" + k + "}" in operation.path}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=used if aimed else None)
    if aimed and mode is GenerationMode.POSITIVE:
        strategy = strategy.map(lambda case: _aim(case, *kind))

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=kawa.url, session=kawa.session, timeout=30)
        statuses.append((case.method, response.status_code))
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.parametrize(("group_version", "kind"), list(KINDS), ids=str)
def test_no_operation_answers_5xx(kawa: Kawa, group_version: str, kind: str) -> None:
    statuses: list[tuple[str, int]] = []
    for operation in _operations(kawa, group_version, kind):
        for mode, aimed in WAYS:
            if aimed:
                _seed(kawa, group_version, kind, operation)
            try:
                _fuzz(kawa, operation, (group_version, kind), mode, aimed, statuses)
            except Unsatisfiable:
                if mode is not GenerationMode.NEGATIVE:
                    raise  # else nothing could be made invalid (a GET of the seeded object)
    # the cases reached the kind's handlers: objects were written, and refused
    seen = sorted(set(statuses))
    assert any(method != "GET" and status < 300 for method, status in statuses), seen
    assert any(status in (400, 422) for _, status in statuses), seen
