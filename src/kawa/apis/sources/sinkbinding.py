"""The SinkBinding kind (sources.knative.dev/v1): injects a sink into other workloads.

``spec.subject`` names the workloads (``apiVersion``, ``kind``, ``namespace`` defaulted to the
binding's and no other, and exactly one of ``name`` or ``selector``), plus the ``sink`` and
``ceOverrides`` of every source (:class:`~kawa.apis.duck.SourceSpec`); the subjects'
containers get ``K_SINK`` (the resolved sink) and ``K_CE_OVERRIDES``. Condition
``SinkProvided`` behind ``Ready``. Declared in :data:`kawa.apis.sources.KINDS`; read by the
SinkBinding reconciler (:mod:`kawa.sources.sinkbinding`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, kn_common
from kawa.apis.conditions import ConditionSet
from kawa.apis.label_selector import LabelSelector
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.model.types import Text
from kawa.errors import FieldError

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = "sources.knative.dev/v1"
KIND: Final = "SinkBinding"

SINKBINDING_CONDITIONS: Final = ConditionSet((kn_common.SINK_PROVIDED,))
OIDC_TOKEN_SECRET_CREATED: Final = "OIDCTokenSecretCreated"
OIDC_TOKEN_VOLUME: Final = "oidc-token"
OIDC_TOKEN_PATH: Final = "/oidc"
"""Where a bound container finds the token (``/oidc/token``), as Knative's SinkBinding."""


class Subject(Model):
    """The workloads to bind: one by name, or all matching a selector."""

    api_version: Annotated[Text, doc("API version of the workloads.")]
    kind: Annotated[Text, doc("Kind of the workloads (Deployment, Job ...).")]
    namespace: Annotated[str, doc("Their namespace (the binding's).")] = ""
    name: Annotated[str | None, doc("The one workload bound.")] = None
    selector: Annotated[LabelSelector | None, doc("The labels of the workloads bound.")] = None

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        if not data.get("namespace"):
            data["namespace"] = ctx.namespace

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.namespace != ctx.namespace:
            yield FieldError(
                "namespace",
                f"must be the SinkBinding's namespace {ctx.namespace!r}, got {self.namespace!r}",
            )
        named = bool(self.name)  # an empty name names nothing
        if named == (self.selector is not None):
            yield FieldError(
                "",
                "expected exactly one of name or selector, got " + ("both" if named else "neither"),
            )


class SinkBindingSpec(duck.SourceSpec):
    """Gives workloads the address of a sink in K_SINK."""

    subject: Annotated[
        Subject, doc("The workloads to bind: one by name, or all matching a selector.")
    ]


class SinkBindingStatus(duck.SourceStatus):
    """The observed state of the SinkBinding."""

    oidc_token_secret_name: Annotated[
        str | None,
        doc("The Secret holding the OIDC token its workloads find at /oidc/token."),
    ] = None


class SinkBinding(KubeObject):
    """A SinkBinding gives the containers of workloads the address of a sink (K_SINK)."""

    spec: Annotated[SinkBindingSpec, doc("Gives workloads the address of a sink in K_SINK.")]


def parse_sinkbinding(obj: Mapping[str, Any]) -> SinkBinding:
    """``obj`` defaulted, validated and typed; raises :class:`~kawa.errors.ValidationError`
    (subject ``"SinkBinding <namespace>/<name>"``) listing every problem."""
    return parse_object(SinkBinding, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)
