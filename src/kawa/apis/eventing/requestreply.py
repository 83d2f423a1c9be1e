"""The RequestReply kind (eventing.knative.dev/v1alpha1): a synchronous face on a Broker.

Knative's ``pkg/apis/eventing/v1alpha1/requestreply_*.go``, in kawa's shape:

* ``spec.brokerRef`` -- the Broker (apiVersion, kind ``Broker``, name; no namespace: the
  RequestReply's own) the requests are published to;
* ``spec.correlationAttribute`` (default ``correlationid``) -- the extension a request gets
  its signed correlation id in; ``spec.replyAttribute`` (default ``replyid``) -- the
  extension that makes an event the reply to the request whose id it carries. Neither may be
  a required CloudEvents attribute (``id``, ``type``, ``source``, ``specversion``), and, as
  any extension name, both are ``a-z0-9`` (kawa says so at admission; Knative finds out when
  an event is built);
* ``spec.timeout`` (ISO 8601, greater than zero; default :data:`DEFAULT_TIMEOUT`) -- how long
  a request is held waiting for its reply;
* ``spec.delivery`` -- kept, as Knative keeps it (its Triggers do not use it either);
* ``spec.secrets`` -- accepted for compatibility with Knative's first design (names of
  Secrets holding signing keys); Knative's controller, and kawa's, keep the keys themselves
  (:data:`KEYS_SECRET`).

Status: ``address``, ``policies`` and the conditions ``TriggersReady`` (the Trigger that
routes replies back to kawa is Ready), ``BrokerReady``, ``Addressable`` and
``EventPoliciesReady``, from which ``Ready`` is derived. Declared as
:data:`kawa.apis.eventing.REQUESTREPLY`; reconciled by :mod:`kawa.controllers.requestreply`;
served by :mod:`kawa.requestreply`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import PositiveDuration, Text
from kawa.errors import FieldError

API_VERSION: Final = "eventing.knative.dev/v1alpha1"
KIND: Final = "RequestReply"

TRIGGERS_READY: Final = "TriggersReady"
BROKER_READY: Final = "BrokerReady"
REQUESTREPLY_CONDITIONS: Final = ConditionSet(
    (TRIGGERS_READY, duck.ADDRESSABLE, duck.EVENT_POLICIES_READY, BROKER_READY)
)

DEFAULT_CORRELATION_ATTRIBUTE: Final = "correlationid"
DEFAULT_REPLY_ATTRIBUTE: Final = "replyid"
DEFAULT_TIMEOUT: Final = "PT30S"
"""kawa's default ``spec.timeout`` (Knative's comes from its feature configuration)."""

CORE_ATTRIBUTES: Final = ("id", "type", "source", "specversion")
"""What a correlation or reply attribute may not be: the required CloudEvents attributes."""

KEYS_NAMESPACE: Final = "knative-eventing"
KEYS_SECRET: Final = "request-reply-keys"
"""The Secret (in :data:`KEYS_NAMESPACE`) holding every RequestReply's AES keys, one entry
per key named :func:`key_name` (Knative's ``request-reply-keys`` in its system namespace)."""

TRIGGER_NAME_LABEL: Final = "eventing.knative.dev/RequestReply.name"
TRIGGER_NAMESPACE_LABEL: Final = "eventing.knative.dev/RequestReply.namespace"
"""Labels of the Trigger a RequestReply makes (Knative's)."""


def key_name(namespace: str, name: str, index: int = 0) -> str:
    """The entry of :data:`KEYS_SECRET` holding key ``index`` of RequestReply
    ``namespace/name`` (Knative's ``<namespace>.<name>.key-<index>``)."""
    return f"{namespace}.{name}.key-{index}"


def keys_of(namespace: str, name: str, data: Mapping[str, bytes]) -> list[bytes]:
    """The keys of RequestReply ``namespace/name`` among the decoded entries ``data`` of
    :data:`KEYS_SECRET`, the newest (highest index) first."""
    prefix = f"{namespace}.{name}.key-"
    found: list[tuple[int, bytes]] = []
    for entry, value in data.items():
        if entry.startswith(prefix) and entry[len(prefix) :].isdigit():
            found.append((int(entry[len(prefix) :]), value))
    return [value for _, value in sorted(found, key=lambda pair: pair[0], reverse=True)]


def trigger_name(name: str) -> str:
    """The Trigger routing the replies of RequestReply ``name`` to kawa (Knative's
    ``ChildName(name, "<index>-<replicas>")`` for its one data plane replica: ``<name>0-1``)."""
    return meta.child_name(name, "0-1")


class BrokerReference(Model):
    """A reference to the Broker of the RequestReply's namespace."""

    api_version: Annotated[str, doc("API version of the Broker (eventing.knative.dev/v1).")] = ""
    kind: Annotated[Text, doc("Broker.")]
    name: Annotated[Text, doc("Name of the Broker, in the RequestReply's namespace.")]
    namespace: Annotated[
        str, doc("Not allowed: the Broker is in the RequestReply's namespace.")
    ] = ""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.kind.lower() != "broker":
            yield FieldError("kind", f"invalid value {self.kind!r}: brokerRef kind must be Broker")
        if self.namespace:
            yield FieldError(
                "namespace",
                "must not be set: the Broker is in the RequestReply's namespace "
                "(cross-namespace references are not allowed)",
            )


def _attribute_errors(name: str, field: str) -> Iterable[FieldError]:
    if name in CORE_ATTRIBUTES:
        yield FieldError(
            field,
            f"invalid value {name!r}: must not be a required CloudEvents attribute "
            "(id, type, source, specversion)",
        )


class RequestReplySpec(Model):
    """The desired state of the RequestReply."""

    broker_ref: Annotated[
        BrokerReference, doc("The Broker the requests are published to (same namespace).")
    ]
    correlation_attribute: Annotated[
        duck.ExtensionName,
        doc(
            "The CloudEvents extension each request gets its signed correlation id in "
            f"(default {DEFAULT_CORRELATION_ATTRIBUTE})."
        ),
    ] = DEFAULT_CORRELATION_ATTRIBUTE
    reply_attribute: Annotated[
        duck.ExtensionName,
        doc(
            "The CloudEvents extension that makes an event the reply to the request whose "
            f"correlation id it holds (default {DEFAULT_REPLY_ATTRIBUTE})."
        ),
    ] = DEFAULT_REPLY_ATTRIBUTE
    timeout: Annotated[
        PositiveDuration | None,
        doc(
            "How long a request waits for its reply (ISO 8601 duration; default "
            f"{DEFAULT_TIMEOUT}); then it is answered 504."
        ),
    ] = None
    delivery: Annotated[
        duck.DeliverySpec | None, doc("Delivery options (kept; not used, as in Knative).")
    ] = None
    secrets: Annotated[
        list[str] | None,
        doc(
            "Names of Secrets with signing keys (Knative's first design; accepted and not "
            "used: the keys are kept by the controller in knative-eventing/request-reply-keys)."
        ),
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from _attribute_errors(self.correlation_attribute, "correlationAttribute")
        yield from _attribute_errors(self.reply_attribute, "replyAttribute")
        if self.correlation_attribute == self.reply_attribute:
            yield FieldError(
                "replyAttribute",
                f"invalid value {self.reply_attribute!r}: must differ from correlationAttribute "
                "(a request would be taken for its own reply)",
            )
        for i, secret in enumerate(self.secrets or ()):
            for problem in meta.dns1123_subdomain_errors(secret):
                yield FieldError(f"secrets[{i}]", f"invalid value {secret!r}: {problem}")

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        if not data.get("correlationAttribute"):
            data["correlationAttribute"] = DEFAULT_CORRELATION_ATTRIBUTE
        if not data.get("replyAttribute"):
            data["replyAttribute"] = DEFAULT_REPLY_ATTRIBUTE
        if not data.get("timeout"):
            data["timeout"] = DEFAULT_TIMEOUT
        delivery = data.get("delivery")
        if delivery is not None:
            duck.default_delivery(delivery, ctx.namespace)


class RequestReply(KubeObject):
    """A RequestReply publishes each event posted to it to a Broker and answers the post with
    the event that comes back to the Broker as its reply (or 504 after the timeout)."""

    spec: Annotated[RequestReplySpec, doc("The desired state of the RequestReply.")]


class RequestReplyStatus(duck.Status):
    """The state of the RequestReply."""

    address: Annotated[
        duck.Addressable | None, doc("Where the RequestReply receives requests.")
    ] = None
    addresses: Annotated[
        list[duck.Addressable] | None,
        doc("Every address (http and https, by transport-encryption)."),
    ] = None
    policies: Annotated[
        list[duck.AppliedEventPolicyRef] | None,
        doc("The Ready EventPolicies that apply to the RequestReply (authentication-oidc)."),
    ] = None


def parse_requestreply(obj: Mapping[str, Any]) -> RequestReply:
    """A RequestReply dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem with its field path."""
    return parse_object(RequestReply, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)
