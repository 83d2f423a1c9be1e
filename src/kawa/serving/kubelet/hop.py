"""Where a Pod's ``log``, ``exec`` and ``portforward`` requests are served, and the signed hop
that carries them there.

A Pod's containers, log files and ports are on the node that runs it (its ``spec.nodeName``),
and on that node in the process that runs the kubelet (worker 0 of ``kawa up --workers N``).
Any kawa process may receive ``kubectl logs``/``exec``/``port-forward`` for any Pod:
:func:`decide` says whether to serve it here (:class:`Local`) or send it on
(:class:`Forward`): to the Pod's node's kawa (its kubelet endpoint, ADR 0049) or to worker 0
of this node. A forwarded request carries :data:`HEADER`, an HMAC-SHA256 over the method,
the request target (path and query, as sent) and a timestamp, under a key shared by every
node in the Secret ``kube-system/kawa-kubelet-hop`` (:func:`new_secret`, :func:`key_of`);
the receiver accepts it, in place of the API token, within :data:`WINDOW` seconds
(:func:`verify`). A hop is never sent on to another node, so a request crosses at most one
node and one worker boundary.

Pure (no I/O, no clock of its own): :mod:`.proxy` forwards and verifies with it. See
docs/decisions/0062-exec-logs-across-nodes.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

HEADER: Final = "Kawa-Kubelet-Hop"
"""The request header of a forwarded request: ``<unix seconds>.<hex HMAC-SHA256>``."""
WINDOW: Final = 30.0
"""Seconds a hop's timestamp may differ from the receiver's clock (either way)."""
SECRET_NAMESPACE: Final = "kube-system"
SECRET_NAME: Final = "kawa-kubelet-hop"
SECRET_KEY: Final = "key"
"""The Secret's data entry holding the key (base64 of :data:`KEY_BYTES` random bytes)."""
KEY_BYTES: Final = 32
MIN_KEY_BYTES: Final = 16

STREAM_PATH: Final = re.compile(r"/api/v1/namespaces/[^/]+/pods/[^/]+/(log|exec|portforward)")
"""The paths a hop may reach (a Pod's ``log``, ``exec`` and ``portforward``)."""


class HopRefused(Exception):
    """A hop header that is malformed, expired, or not signed with the cluster's key."""


@dataclass(frozen=True, slots=True)
class Local:
    """Serve the request in this process (its kubelet runs the Pod, or none does)."""


@dataclass(frozen=True, slots=True)
class Forward:
    """Send the request to ``url`` (a kawa's ``http://host:port``), which is ``to``."""

    url: str
    to: str


def new_secret(key: bytes) -> dict[str, Any]:
    """The Secret holding ``key`` (created at start-up by the first node that lacks it)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": SECRET_NAMESPACE},
        "type": "Opaque",
        "data": {SECRET_KEY: base64.b64encode(key).decode("ascii")},
    }


def key_of(secret: Mapping[str, Any]) -> bytes:
    """The key in the Secret (:class:`ValueError` naming the field when it is unusable)."""
    data = secret.get("data")
    value = data.get(SECRET_KEY) if isinstance(data, Mapping) else None
    where = f"Secret {SECRET_NAMESPACE}/{SECRET_NAME}: data.{SECRET_KEY}"
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: missing")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: not base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{where}: {len(key)} bytes, at least {MIN_KEY_BYTES} required")
    return key


def _mac(key: bytes, method: str, target: str, stamp: int) -> str:
    message = f"{method.upper()}\n{target}\n{stamp}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(key: bytes, method: str, target: str, *, now: float) -> str:
    """The :data:`HEADER` value for ``method`` on ``target`` (path and query) at ``now``."""
    stamp = int(now)
    return f"{stamp}.{_mac(key, method, target, stamp)}"


def verify(key: bytes, value: str, method: str, target: str, *, now: float) -> None:
    """Accept ``value`` for ``method`` on ``target`` at ``now``, else :class:`HopRefused`."""
    stamp_text, dot, mac = value.strip().partition(".")
    if not dot or not stamp_text.isdigit() or not mac:
        raise HopRefused(f"malformed {HEADER} header")
    stamp = int(stamp_text)
    if abs(now - stamp) > WINDOW:
        age = now - stamp
        raise HopRefused(f"{HEADER} expired: signed {age:.0f}s ago (window {WINDOW:.0f}s)")
    if not hmac.compare_digest(mac.encode(), _mac(key, method, target, stamp).encode()):
        raise HopRefused(f"{HEADER} signature does not match this request")


def is_stream_path(path: str) -> bool:
    """Whether ``path`` is a Pod's ``log``, ``exec`` or ``portforward``."""
    return STREAM_PATH.fullmatch(path) is not None


def decide(
    pod_node: str | None,
    *,
    me: str,
    kubelet_here: bool,
    hopped: bool,
    node_url: str | None,
    worker_zero_url: str | None,
) -> Local | Forward:
    """Where a request for a Pod bound to ``pod_node`` is served, as seen by this process of
    node ``me`` (``kubelet_here``: it runs the node's kubelet; ``hopped``: the request came
    signed from another kawa; ``node_url``: ``pod_node``'s kawa, if known;
    ``worker_zero_url``: this node's worker 0, if it said where it listens).

    Local when nobody else could do better, so the local handler gives Kubernetes' answer
    (no node yet, not running, unknown node): a Pod not yet bound, one of this node's Pods
    when this process runs the kubelet or worker 0 has no address, a hop that would go to a
    second node, a node without a kubelet endpoint."""
    if not pod_node:
        return Local()
    if pod_node == me:
        if kubelet_here or worker_zero_url is None:
            return Local()
        return Forward(worker_zero_url, f"worker 0 of node {me}")
    if hopped or node_url is None:
        return Local()
    return Forward(node_url, f"node {pod_node}")
