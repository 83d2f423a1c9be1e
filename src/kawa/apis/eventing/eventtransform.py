"""The EventTransform kind (eventing.knative.dev/v1alpha1): a JSONata transformation of events.

Knative's ``pkg/apis/eventing/v1alpha1/eventtransform_*.go``, in kawa's shape:

* ``spec.jsonata.expression`` -- the transformation (the only kind Knative has; required):
  a JSONata expression whose input and output are whole CloudEvents
  (:mod:`kawa.transform`). Admission parses it and refuses one that does not parse, with the
  parser's position and message at ``spec.jsonata.expression`` (Knative only finds out when
  its transformation deployment starts);
* ``spec.sink`` -- optional Destination: the transformed event is sent there and the sink's
  answer is the transform's; without one the transformed event is the answer;
* ``spec.reply`` -- what happens to the sink's reply, only with a sink: another JSONata
  expression (``reply.jsonata``) or ``reply.discard: true``, not both.

Status: ``address`` (kawa's URL of the transform and, with authentication-oidc, its
audience), ``sinkUri`` / ``sinkAudience``, ``policies``, and the conditions
``TransformationReady`` (the expressions are compiled and the sink resolved),
``Addressable`` and ``EventPoliciesReady``, from which ``Ready`` is derived. Declared as
:data:`kawa.apis.eventing.EVENTTRANSFORM`; reconciled by
:mod:`kawa.controllers.eventtransform`; served by :mod:`kawa.eventtransform`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa import transform
from kawa.apis import duck
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.errors import FieldError

API_VERSION: Final = "eventing.knative.dev/v1alpha1"
KIND: Final = "EventTransform"

TRANSFORMATION_READY: Final = "TransformationReady"
EVENTTRANSFORM_CONDITIONS: Final = ConditionSet(
    (TRANSFORMATION_READY, duck.ADDRESSABLE, duck.EVENT_POLICIES_READY, duck.OIDC_IDENTITY_CREATED)
)

_EXPRESSION_DOC: Final = (
    "The JSONata expression (https://jsonata.org/). Its input is the whole CloudEvent in the "
    "JSON format (context attributes as top-level keys, and data); it must yield a whole "
    "CloudEvent of the same shape."
)


class JsonataTransformation(Model):
    """A JSONata transformation."""

    expression: Annotated[str, doc(_EXPRESSION_DOC)] = ""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        try:
            transform.compile_expression(self.expression)
        except transform.ExpressionError as err:
            yield FieldError("expression", f"invalid JSONata expression: {err}")


class ReplySpec(Model):
    """How the sink's replies are handled: transformed (jsonata) or discarded; as they come
    when neither is set."""

    jsonata: Annotated[
        JsonataTransformation | None,
        doc("Transforms the sink's reply (the same transformation type as the request's)."),
    ] = None
    discard: Annotated[
        bool | None,
        doc("Discards the sink's reply: the transform answers with the sink's status only."),
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.jsonata is not None and self.discard:
            yield FieldError(
                "",
                "expected exactly one of jsonata or discard: true, got both (a reply is "
                "either transformed or discarded)",
            )


class EventTransformSpec(Model):
    """The desired state of the EventTransform."""

    sink: Annotated[
        duck.Destination | None,
        doc(
            "Where the transformed events are sent. Without a sink the transformed event is "
            "the answer to the request (a Broker's Trigger publishes it as a reply)."
        ),
    ] = None
    reply: Annotated[
        ReplySpec | None,
        doc("How the sink's replies are handled; only with a sink."),
    ] = None
    jsonata: Annotated[
        JsonataTransformation | None, doc("The JSONata transformation of each event.")
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.jsonata is None:
            yield FieldError(
                "jsonata", "required: the transformation (jsonata is the only type there is)"
            )
        if self.reply is not None and self.sink is None:
            yield FieldError(
                "reply", "reply is set without spec.sink (a reply comes only from a sink)"
            )


class EventTransform(KubeObject):
    """An EventTransform reshapes each event it receives with a JSONata expression and
    answers with the result, or sends it to its sink."""

    spec: Annotated[EventTransformSpec, doc("The desired state of the EventTransform.")]


class EventTransformStatus(duck.SourceStatus):
    """The state of the EventTransform."""

    address: Annotated[
        duck.Addressable | None, doc("Where the EventTransform receives events.")
    ] = None
    addresses: Annotated[
        list[duck.Addressable] | None,
        doc("Every address (http and https, by transport-encryption)."),
    ] = None
    policies: Annotated[
        list[duck.AppliedEventPolicyRef] | None,
        doc("The Ready EventPolicies that apply to the EventTransform (authentication-oidc)."),
    ] = None


def parse_eventtransform(obj: Mapping[str, Any]) -> EventTransform:
    """An EventTransform dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem with its field path."""
    return parse_object(
        EventTransform, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True
    )


# -- status ----------------------------------------------------------------------------------


def mark_sink_resolved(
    status: dict[str, Any],
    url: str | None,
    audience: str | None,
    *,
    clock: Clock,
    ca_certs: str | None = None,
) -> None:
    """The transformation is ready: its expressions compiled and its sink (``url``, ``None``
    without one) resolved into ``status.sinkUri`` / ``sinkAudience`` / ``sinkCACerts``."""
    _set_or_pop(status, "sinkUri", url)
    _set_or_pop(status, "sinkAudience", audience)
    _set_or_pop(status, "sinkCACerts", ca_certs)
    EVENTTRANSFORM_CONDITIONS.mark_true(status, TRANSFORMATION_READY, clock=clock)


def mark_sink_unresolved(
    status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    """The transformation is not ready: its sink cannot be resolved (``reason``, ``message``)."""
    status.pop("sinkUri", None)
    status.pop("sinkAudience", None)
    status.pop("sinkCACerts", None)
    EVENTTRANSFORM_CONDITIONS.mark_false(
        status, TRANSFORMATION_READY, reason, f"the sink cannot be resolved: {message}", clock=clock
    )


def _set_or_pop(status: dict[str, Any], key: str, value: str | None) -> None:
    if value:
        status[key] = value
    else:
        status.pop(key, None)
