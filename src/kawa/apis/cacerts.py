"""``CACerts`` values: PEM certificates a sender verifies an ``https`` destination against.

Knative's Destination (``spec.subscriber.CACerts``, ``spec.delivery.deadLetterSink.CACerts``,
a source's ``spec.sink.CACerts``) and every Addressable's address (``status.address.CACerts``)
may carry one: one or more ``-----BEGIN CERTIFICATE-----`` blocks, each an X.509 certificate
in base64 DER. :func:`problem` says what is wrong with a value (admission refuses a Destination
with it; the resolver refuses an address with it); pure, no I/O. A trust bundle
(:data:`TRUST_BUNDLE_LABEL`) holds values of the same form. Called by :mod:`kawa.apis.duck`,
:mod:`kawa.reconciler.resolver`, :mod:`kawa.reconciler.trust_bundles` and
:mod:`kawa.delivery.trust`.
"""

from __future__ import annotations

from typing import Final

from cryptography import x509

TRUST_BUNDLE_LABEL: Final = "networking.knative.dev/trust-bundle"
"""A ConfigMap of :data:`TRUST_BUNDLE_NAMESPACE` with this label set to ``"true"`` is a trust
bundle: every value of its ``data`` and ``binaryData`` is PEM certificates that every sender
trusts."""
TRUST_BUNDLE_NAMESPACE: Final = "knative-eventing"

BEGIN: Final = "-----BEGIN CERTIFICATE-----"
NOT_PEM: Final = "not a PEM certificate"


def problem(value: str) -> str | None:
    """Why ``value`` is not a usable ``CACerts`` (``None``: it is one or more PEM
    certificates)."""
    if BEGIN not in value:
        return f"{NOT_PEM}: expected one or more '{BEGIN}' blocks"
    try:
        x509.load_pem_x509_certificates(value.encode("utf-8", "replace"))
    except ValueError:
        return f"{NOT_PEM}: a CERTIFICATE block is not a base64 X.509 certificate"
    return None
