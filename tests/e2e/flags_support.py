"""The setup of the feature-flag end-to-end tests (authentication-oidc, transport-encryption):
a kawa of the module's own (the flags are cluster-wide), kubectl for it, a flag patch, and
two Brokers chained by a Trigger whose subscriber is the second Broker, whose Trigger shows
the events on an event-display."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..kubectl.kubectl_support import Kubectl
from .e2e_support import KawaProcess, kawa_up

CHAINED_BROKERS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: default}}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: target}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: forward}}
spec:
  broker: default
  subscriber:
    ref: {{apiVersion: eventing.knative.dev/v1, kind: Broker, name: target}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: display}}
spec:
  broker: target
  subscriber: {{uri: "{display_url}"}}
"""
"""``default`` -> Trigger ``forward`` -> Broker ``target`` -> Trigger ``display`` ->
``display_url`` (``.format(display_url=...)``)."""


@pytest.fixture(scope="module")
def kawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    with kawa_up(tmp_path_factory.mktemp("kawa-flags"), "--log-level", "warning") as running:
        yield running


@pytest.fixture(scope="module")
def kubectl(kawa: KawaProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("kube-cache"))


def set_flag(kubectl: Kubectl, flag: str, value: str) -> None:
    """``kubectl patch`` of ``knative-eventing/config-features``."""
    patch = f'{{"data": {{"{flag}": "{value}"}}}}'
    kubectl.ok("patch", "configmap", "config-features", "-n", "knative-eventing", "-p", patch)


def apply_chained_brokers(kubectl: Kubectl, display_url: str) -> None:
    """Apply :data:`CHAINED_BROKERS` and wait until all four are Ready."""
    kubectl.ok("apply", "-f", "-", stdin=CHAINED_BROKERS.format(display_url=display_url))
    for ref in ("broker/default", "broker/target", "trigger/forward", "trigger/display"):
        kubectl.ok("wait", ref, "--for=condition=Ready", "--timeout=30s")
