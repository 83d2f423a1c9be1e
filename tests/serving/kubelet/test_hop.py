"""The pure part of a Pod's log/exec/port-forward across nodes: where a request is served,
and the signed hop header (tampered, expired, wrong key, malformed)."""

from __future__ import annotations

import base64

import pytest

from kawa.serving.kubelet import hop

KEY = b"k" * 32
EXEC = "/api/v1/namespaces/default/pods/web/exec?command=sh&stdout=true"
NOW = 1_700_000_000.0


def test_a_signed_hop_verifies_within_the_window_either_way() -> None:
    value = hop.sign(KEY, "GET", EXEC, now=NOW)
    for at in (NOW, NOW + hop.WINDOW, NOW - hop.WINDOW + 1):  # clocks differ both ways
        hop.verify(KEY, value, "GET", EXEC, now=at)
    hop.verify(KEY, value, "get", EXEC, now=NOW)  # the method in any case


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", EXEC),  # another method
        ("GET", EXEC.replace("command=sh", "command=rm")),  # another command
        ("GET", EXEC.replace("/web/", "/db/")),  # another Pod
        ("GET", EXEC.replace("/exec", "/portforward")),  # another subresource
    ],
)
def test_a_hop_covers_method_path_and_query(method: str, target: str) -> None:
    value = hop.sign(KEY, "GET", EXEC, now=NOW)
    with pytest.raises(hop.HopRefused, match="signature does not match"):
        hop.verify(KEY, value, method, target, now=NOW)


def test_a_tampered_hop_is_refused() -> None:
    stamp, _, mac = hop.sign(KEY, "GET", EXEC, now=NOW).partition(".")
    flipped = ("0" if mac[0] != "0" else "1") + mac[1:]
    with pytest.raises(hop.HopRefused, match="signature does not match"):
        hop.verify(KEY, f"{stamp}.{flipped}", "GET", EXEC, now=NOW)
    # a later timestamp on the old signature (to stretch the window) does not verify either
    with pytest.raises(hop.HopRefused, match="signature does not match"):
        hop.verify(KEY, f"{int(stamp) + 20}.{mac}", "GET", EXEC, now=NOW + 40)


def test_an_expired_hop_is_refused() -> None:
    value = hop.sign(KEY, "GET", EXEC, now=NOW)
    with pytest.raises(hop.HopRefused, match="expired: signed 31s ago"):
        hop.verify(KEY, value, "GET", EXEC, now=NOW + hop.WINDOW + 1)
    with pytest.raises(hop.HopRefused, match="expired"):
        hop.verify(KEY, value, "GET", EXEC, now=NOW - hop.WINDOW - 1)  # from the future


def test_a_hop_signed_with_another_key_is_refused() -> None:
    value = hop.sign(b"o" * 32, "GET", EXEC, now=NOW)
    with pytest.raises(hop.HopRefused, match="signature does not match"):
        hop.verify(KEY, value, "GET", EXEC, now=NOW)


@pytest.mark.parametrize("value", ["", "abc", "123", "123.", ".abc", "-5.ab", "1e9.ab"])
def test_a_malformed_hop_is_refused(value: str) -> None:
    with pytest.raises(hop.HopRefused, match="malformed"):
        hop.verify(KEY, value, "GET", EXEC, now=NOW)


def test_the_key_lives_in_a_secret() -> None:
    secret = hop.new_secret(KEY)
    assert secret["metadata"] == {"name": "kawa-kubelet-hop", "namespace": "kube-system"}
    assert hop.key_of(secret) == KEY
    with pytest.raises(ValueError, match=r"kawa-kubelet-hop: data.key: missing"):
        hop.key_of({"data": {}})
    with pytest.raises(ValueError, match="not base64"):
        hop.key_of({"data": {"key": "!!"}})
    short = base64.b64encode(b"x" * 8).decode()
    with pytest.raises(ValueError, match="8 bytes, at least 16 required"):
        hop.key_of({"data": {"key": short}})


def test_only_a_pods_streaming_subresources_take_a_hop() -> None:
    assert hop.is_stream_path("/api/v1/namespaces/ns/pods/web/log")
    assert hop.is_stream_path("/api/v1/namespaces/ns/pods/web/exec")
    assert hop.is_stream_path("/api/v1/namespaces/ns/pods/web/portforward")
    assert not hop.is_stream_path("/api/v1/namespaces/ns/pods/web")
    assert not hop.is_stream_path("/api/v1/namespaces/ns/secrets/web/log")
    assert not hop.is_stream_path("/api/v1/namespaces/ns/pods/web/log/x")
    assert not hop.is_stream_path("/api/v1/namespaces/ns/pods/a/b/exec")


def decide(
    pod_node: str | None,
    *,
    kubelet_here: bool = True,
    hopped: bool = False,
    node_url: str | None = "http://10.0.0.2:7080",
    worker_zero_url: str | None = "http://127.0.0.1:4000",
) -> hop.Local | hop.Forward:
    return hop.decide(
        pod_node,
        me="a",
        kubelet_here=kubelet_here,
        hopped=hopped,
        node_url=node_url,
        worker_zero_url=worker_zero_url,
    )


def test_where_a_request_is_served() -> None:
    remote = hop.Forward("http://10.0.0.2:7080", "node b")
    worker_zero = hop.Forward("http://127.0.0.1:4000", "worker 0 of node a")
    assert decide(None) == hop.Local()  # not bound yet: the local handler says so
    assert decide("a") == hop.Local()  # our kubelet runs it
    assert decide("a", kubelet_here=False) == worker_zero
    assert decide("a", kubelet_here=False, hopped=True) == worker_zero  # b sent it to a's port
    assert decide("a", kubelet_here=False, worker_zero_url=None) == hop.Local()
    assert decide("b") == remote
    assert decide("b", kubelet_here=False) == remote  # any worker goes to the node directly
    assert decide("b", hopped=True) == hop.Local()  # never a second node hop
    assert decide("b", node_url=None) == hop.Local()  # a node without a kubelet endpoint
