"""Knative's channel control-plane conformance (``test/rekt/features/channel/control_plane.go``
and the Subscription's behaviour), driven with the real kubectl against one ``kawa up``.

Test names follow the feature's steps: the CustomResourceDefinition per channel (namespaced,
labels, category), the annotation requirements, spec and status requirements for
subscribers, status requirements (observedGeneration, Ready), and the channel status once
Ready (address, dead-letter sink); then the generic Channel (backed by an InMemoryChannel,
its status copied), the ``default-ch-webhook`` defaults, and Subscriptions (in the channel's
spec and status, clear conditions for a wrong channel, removed from the spec on deletion).
Only the control plane: no event is sent here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .kubectl_support import Kubectl, condition

pytestmark = pytest.mark.slow

NS = "channels-cp"
DEFAULTED_NS = "channels-cp-defaulted"
V1 = "messaging.knative.dev/v1"
SINK = "http://127.0.0.1:9/"
CHANNEL_CRDS = ("inmemorychannels.messaging.knative.dev", "channels.messaging.knative.dev")
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def namespace(kawa: KawaProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    kubectl = Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("cache"))
    kubectl.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEFAULTED_NS}},
        ]
    )
    return NS


def _obj(kind: str, name: str, namespace: str = NS, **spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": V1,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
    }
    if spec:
        out["spec"] = spec
    return out


def _subscription(name: str, channel: str, kind: str = "InMemoryChannel", **spec: Any) -> Any:
    return _obj(
        "Subscription",
        name,
        channel={"apiVersion": V1, "kind": kind, "name": channel},
        subscriber={"uri": SINK},
        **spec,
    )


def _until(
    kubectl: Kubectl,
    resource: str,
    name: str,
    check: Callable[[dict[str, Any]], bool],
    ns: str = NS,
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def seen() -> dict[str, Any] | None:
        nonlocal last
        run = kubectl.run("get", resource, name, "-n", ns, "-o", "json")
        if run.code != 0:
            return None
        last = yaml.safe_load(run.stdout)
        return last if check(last) else None

    try:
        found: dict[str, Any] = wait_until(seen, TIMEOUT, f"{resource} {name}")
    except AssertionError as err:
        raise AssertionError(f"{err}\nlast seen: {last}") from None
    return found


def _is(type_: str, status: str) -> Callable[[dict[str, Any]], bool]:
    def check(obj: dict[str, Any]) -> bool:
        found = condition(obj, type_)
        return found is not None and found["status"] == status

    return check


# -- the channel control-plane conformance feature ------------------------------------------


@pytest.mark.parametrize("crd", CHANNEL_CRDS)
def test_custom_resource_definition_per_channel(kubectl: Kubectl, crd: str) -> None:
    """Each channel is namespaced, labelled subscribable and addressable, category channel."""
    found = kubectl.json("get", "crd", crd)
    assert found["spec"]["scope"] == "Namespaced"
    labels = found["metadata"]["labels"]
    assert labels["messaging.knative.dev/subscribable"] == "true", labels
    assert labels["duck.knative.dev/addressable"] == "true", labels
    assert "channel" in found["spec"]["names"]["categories"]
    listed = kubectl.ok("api-resources", "--categories", "channel", "-o", "name").split()
    assert sorted(listed) == sorted(CHANNEL_CRDS), listed


def test_annotation_requirements(kubectl: Kubectl, namespace: str) -> None:
    """Each channel instance has the annotation messaging.knative.dev/subscribable: v1."""
    kubectl.apply([_obj("InMemoryChannel", "annotated"), _obj("Channel", "annotated-ch")])
    for resource, name in (("imc", "annotated"), ("ch", "annotated-ch")):
        annotations = kubectl.json("get", resource, name, "-n", namespace)["metadata"][
            "annotations"
        ]
        assert annotations["messaging.knative.dev/subscribable"] == "v1", annotations


def test_spec_and_status_requirements_for_subscribers(kubectl: Kubectl, namespace: str) -> None:
    """spec.subscribers round-trips; status.subscribers marks the uid ready at its
    generation."""
    kubectl.apply(_obj("InMemoryChannel", "subscribable"))
    want = {"uid": "abc123", "generation": 1, "subscriberUri": "http://example.com"}
    patch = yaml.safe_dump({"spec": {"subscribers": [want]}})
    kubectl.ok("patch", "imc", "subscribable", "-n", namespace, "--type", "merge", "-p", patch)
    found = _until(
        kubectl,
        "imc",
        "subscribable",
        lambda o: (
            o["status"].get("observedGeneration") == o["metadata"]["generation"]
            and bool(o["status"].get("subscribers"))
        ),
    )
    assert found["spec"]["subscribers"] == [want]
    assert found["status"]["subscribers"] == [
        {"uid": "abc123", "observedGeneration": 1, "ready": "True"}
    ]
    assert "subscribers.kawa.dev/abc123" in found["status"]["annotations"]


def test_status_requirements(kubectl: Kubectl, namespace: str) -> None:
    """observedGeneration is populated; Ready is in the conditions."""
    kubectl.apply(_obj("InMemoryChannel", "observed"))
    found = _until(kubectl, "imc", "observed", _is("Ready", "True"))
    assert found["status"]["observedGeneration"] == found["metadata"]["generation"]
    types = {c["type"] for c in found["status"]["conditions"]}
    assert {"Ready", "Addressable", "DispatcherReady", "DeadLetterSinkResolved"} <= types


def test_channel_status_ready_channel_is_addressable_with_dead_letter_sink(
    kubectl: Kubectl, namespace: str, kawa: KawaProcess
) -> None:
    """Once Ready: status.address.url and, with spec.delivery.deadLetterSink,
    status.deadLetterSinkUri."""
    kubectl.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "dls", "namespace": namespace},
                "spec": {"ports": [{"port": 80}]},
            },
            _obj(
                "InMemoryChannel",
                "with-dls",
                delivery={
                    "deadLetterSink": {
                        "ref": {"apiVersion": "v1", "kind": "Service", "name": "dls"}
                    }
                },
            ),
        ]
    )
    found = _until(kubectl, "imc", "with-dls", _is("Ready", "True"))
    assert found["status"]["address"]["url"] == f"{kawa.url}/channels/{namespace}/with-dls"
    assert found["status"]["deadLetterSinkUri"].endswith(f"/{namespace}/dls")
    table = kubectl.ok("get", "imc", "with-dls", "-n", namespace)
    assert f"{kawa.url}/channels/{namespace}/with-dls" in table, table


# -- kubectl get channel ------------------------------------------------------------------


def test_kubectl_get_channel_lists_every_channel_kind(kubectl: Kubectl, namespace: str) -> None:
    """As with Knative, ``channel`` is a category: kubectl expands it before the resource
    name, so ``kubectl get channel`` lists Channels and InMemoryChannels, and
    ``kubectl get channel <name>`` is refused (two resources); ``channels`` and ``ch`` name
    the Channel kind alone."""
    kubectl.apply([_obj("Channel", "listed-ch"), _obj("InMemoryChannel", "listed-imc")])
    names = kubectl.ok("get", "channel", "-n", namespace, "-o", "name").split()
    assert "channel.messaging.knative.dev/listed-ch" in names, names
    assert "inmemorychannel.messaging.knative.dev/listed-imc" in names, names
    assert "inmemorychannel.messaging.knative.dev/listed-ch" in names, names  # its backing
    for plural in ("channels", "ch"):
        only = kubectl.ok("get", plural, "-n", namespace, "-o", "name").split()
        assert "channel.messaging.knative.dev/listed-ch" in only
        assert not [n for n in only if n.startswith("inmemorychannel")], only
    refused = kubectl.fails("get", "channel", "listed-ch", "-n", namespace)
    assert "you must specify only one resource" in refused.stderr, refused.explain()
    kubectl.ok("get", "channels", "listed-ch", "-n", namespace)


# -- Channel ------------------------------------------------------------------------------


def test_channel_is_backed_by_an_in_memory_channel_and_copies_its_status(
    kubectl: Kubectl, namespace: str, kawa: KawaProcess
) -> None:
    kubectl.apply(_obj("Channel", "generic", delivery={"retry": 2}))
    channel = _until(kubectl, "channels", "generic", _is("Ready", "True"))
    assert channel["spec"]["channelTemplate"] == {"apiVersion": V1, "kind": "InMemoryChannel"}
    assert channel["status"]["channel"] == {
        "apiVersion": V1,
        "kind": "InMemoryChannel",
        "name": "generic",
        "namespace": namespace,
    }
    backing = kubectl.json("get", "imc", "generic", "-n", namespace)
    assert backing["spec"]["delivery"] == {"retry": 2}
    (owner,) = backing["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Channel", "generic", True)
    assert channel["status"]["address"] == backing["status"]["address"]
    assert channel["status"]["address"]["url"] == f"{kawa.url}/channels/{namespace}/generic"

    kubectl.apply(_subscription("to-generic", "generic", kind="Channel"))
    _until(kubectl, "sub", "to-generic", _is("Ready", "True"))
    uid = kubectl.json("get", "sub", "to-generic", "-n", namespace)["metadata"]["uid"]
    backing = kubectl.json("get", "imc", "generic", "-n", namespace)
    assert [s["uid"] for s in backing["spec"]["subscribers"]] == [uid]
    channel = _until(kubectl, "channels", "generic", lambda o: bool(o["status"].get("subscribers")))
    assert channel["status"]["subscribers"] == [
        {"uid": uid, "observedGeneration": 1, "ready": "True"}
    ]

    # deleting the Channel deletes its backing channel (garbage collection)
    kubectl.ok("delete", "channels", "generic", "-n", namespace)
    wait_until(
        lambda: kubectl.run("get", "imc", "generic", "-n", namespace).code != 0,
        TIMEOUT,
        "the backing InMemoryChannel outlived its Channel",
    )


def test_default_ch_webhook_namespace_default(kubectl: Kubectl, namespace: str) -> None:
    """A Channel without a template gets its namespace's default from ConfigMap
    knative-eventing/default-ch-webhook; other namespaces get the cluster default."""
    config = kubectl.json("get", "configmap", "default-ch-webhook", "-n", "knative-eventing")
    parsed = yaml.safe_load(config["data"]["default-ch-config"])
    assert parsed["clusterDefault"] == {"apiVersion": V1, "kind": "InMemoryChannel"}
    parsed["namespaceDefaults"] = {
        DEFAULTED_NS: {
            "apiVersion": V1,
            "kind": "InMemoryChannel",
            "spec": {"delivery": {"retry": 4, "backoffPolicy": "linear"}},
        }
    }
    patch = yaml.safe_dump({"data": {"default-ch-config": yaml.safe_dump(parsed)}})
    kubectl.ok("patch", "configmap", "default-ch-webhook", "-n", "knative-eventing", "-p", patch)
    kubectl.apply(_obj("Channel", "defaulted", namespace=DEFAULTED_NS))
    channel = kubectl.json("get", "channels", "defaulted", "-n", DEFAULTED_NS)
    assert channel["spec"]["channelTemplate"] == parsed["namespaceDefaults"][DEFAULTED_NS]
    _until(kubectl, "channels", "defaulted", _is("Ready", "True"), ns=DEFAULTED_NS)
    backing = kubectl.json("get", "imc", "defaulted", "-n", DEFAULTED_NS)
    assert backing["spec"]["delivery"] == {"retry": 4, "backoffPolicy": "linear"}

    kubectl.apply(_obj("Channel", "cluster-default"))
    other = kubectl.json("get", "channels", "cluster-default", "-n", namespace)
    assert other["spec"]["channelTemplate"] == {"apiVersion": V1, "kind": "InMemoryChannel"}


# -- Subscription -------------------------------------------------------------------------


def test_subscribers_appear_in_spec_and_status_and_leave_on_deletion(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(
        [
            _obj("InMemoryChannel", "fanout"),
            _subscription("one", "fanout"),
            _subscription("two", "fanout", reply={"uri": SINK + "reply"}, delivery={"retry": 1}),
        ]
    )
    uids = {}
    for name in ("one", "two"):
        sub = _until(kubectl, "sub", name, _is("Ready", "True"))
        assert sub["metadata"]["finalizers"] == ["subscriptions.messaging.knative.dev"]
        for type_ in ("ReferencesResolved", "AddedToChannel", "ChannelReady"):
            assert (condition(sub, type_) or {}).get("status") == "True", sub["status"]
        uids[name] = sub["metadata"]["uid"]
    channel = _until(
        kubectl, "imc", "fanout", lambda o: len(o["status"].get("subscribers", [])) == 2
    )
    assert channel["spec"]["subscribers"] == [
        {"uid": uids["one"], "generation": 1, "subscriberUri": SINK},
        {
            "uid": uids["two"],
            "generation": 1,
            "subscriberUri": SINK,
            "replyUri": SINK + "reply",
            "delivery": {"retry": 1},
        },
    ]
    assert channel["status"]["subscribers"] == [
        {"uid": uids["one"], "observedGeneration": 1, "ready": "True"},
        {"uid": uids["two"], "observedGeneration": 1, "ready": "True"},
    ]
    table = kubectl.ok("get", "sub", "-n", namespace)
    assert any(line.split()[0] == "one" and "True" in line.split() for line in table.splitlines())

    # kubectl delete waits until the finalizer took it out of the channel's spec
    kubectl.ok("delete", "sub", "one", "-n", namespace)
    channel = kubectl.json("get", "imc", "fanout", "-n", namespace)
    assert [s["uid"] for s in channel["spec"]["subscribers"]] == [uids["two"]]
    _until(
        kubectl,
        "imc",
        "fanout",
        lambda o: [s["uid"] for s in o["status"].get("subscribers", [])] == [uids["two"]],
    )


def test_subscription_to_a_missing_kind_or_channel_has_clear_conditions(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(_obj("InMemoryChannel", "untouched"))
    missing_kind = _subscription("to-kafka", "untouched", kind="KafkaChannel")
    kubectl.apply([missing_kind, _subscription("to-nothing", "nowhere")])
    sub = _until(kubectl, "sub", "to-kafka", _is("Ready", "False"))
    ready = condition(sub) or {}
    assert ready["reason"] == "ChannelReferenceFailed", ready
    assert "KafkaChannel (messaging.knative.dev/v1) is not a kind kawa serves" in ready["message"]
    sub = _until(kubectl, "sub", "to-nothing", _is("Ready", "False"))
    assert (condition(sub, "ChannelReady") or {})["message"] == (
        "Failed to get Spec.Channel or backing channel: inmemorychannels.messaging.knative.dev"
        ' "nowhere" not found'
    )
    table = kubectl.ok("get", "sub", "to-nothing", "-n", namespace)
    assert table.splitlines()[1].split()[-2:] == ["False", "ChannelReferenceFailed"], table
    # nothing else affected: the other channel has no subscribers
    untouched = _until(kubectl, "imc", "untouched", _is("Ready", "True"))
    assert not untouched.get("spec", {}).get("subscribers"), untouched
    # both delete cleanly (no channel to leave)
    kubectl.ok("delete", "sub", "to-kafka", "to-nothing", "-n", namespace)
