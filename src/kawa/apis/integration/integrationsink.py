"""The IntegrationSink kind (sinks.knative.dev/v1alpha1): a log, or an AWS connector.

Knative's ``pkg/apis/sinks/v1alpha1/integration_sink_*.go``, in kawa's shape. Exactly one of

* ``spec.log`` -- the log sink (Knative runs Apache Camel's log-sink Kamelet): every event it
  receives is logged at ``level`` under ``loggerName``, with its headers when ``showHeaders``,
  its body unless ``showBody: false``, ... (:class:`Log`); run by kawa itself
  (:mod:`kawa.integrationsink`);
* ``spec.aws.s3`` / ``sqs`` / ``sns`` / ``eventbridge`` (:mod:`.aws`): accepted as Knative
  validates them, never run (``Ready=False`` saying so).

Status: ``address`` (kawa's URL of the sink and, with authentication-oidc, its audience),
``policies``, and the conditions ``Addressable``, ``DeploymentReady`` (kawa's data plane runs
it), ``EventPoliciesReady`` and ``CertificateReady`` behind ``Ready``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck
from kawa.apis.conditions import ConditionSet
from kawa.apis.integration import aws
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.errors import FieldError

API_VERSION: Final = "sinks.knative.dev/v1alpha1"
KIND: Final = "IntegrationSink"

DEPLOYMENT_READY: Final = "DeploymentReady"
CERTIFICATE_READY: Final = "CertificateReady"
INTEGRATIONSINK_CONDITIONS: Final = ConditionSet(
    (duck.ADDRESSABLE, DEPLOYMENT_READY, duck.EVENT_POLICIES_READY, CERTIFICATE_READY)
)

LEVELS: Final = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF")
"""The log levels of Knative's log sink (``WARNING`` is taken for ``WARN``)."""


class Log(Model):
    """Logs every event received."""

    logger_name: Annotated[str, doc("The logging category (default log-sink).")] = "log-sink"
    level: Annotated[
        str, doc("TRACE, DEBUG, INFO (the default), WARN, ERROR or OFF (nothing logged).")
    ] = "INFO"
    log_mask: Annotated[
        bool, doc("Mask values of headers and JSON fields that look like secrets.")
    ] = False
    marker: Annotated[str, doc("A marker written at the start of each logged line.")] = ""
    multiline: Annotated[bool, doc("Each part on a line of its own.")] = False
    show_all_properties: Annotated[bool, doc("Show every exchange property (Camel).")] = False
    show_body: Annotated[bool, doc("Show the event's data (default true).")] = True
    show_body_type: Annotated[bool, doc("Show the body's type (default true).")] = True
    show_exchange_pattern: Annotated[
        bool, doc("Show the exchange pattern, InOnly (default true).")
    ] = True
    show_headers: Annotated[bool, doc("Show the HTTP headers received.")] = False
    show_properties: Annotated[bool, doc("Show the custom exchange properties (Camel).")] = False
    show_streams: Annotated[bool, doc("Show stream bodies (Camel).")] = False
    show_cached_streams: Annotated[bool, doc("Show cached stream bodies (Camel).")] = True

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if normal_level(self.level) not in LEVELS:
            yield FieldError(
                "level", f"invalid value {self.level!r}: expected one of {', '.join(LEVELS)}"
            )


def normal_level(level: str) -> str:
    """``level`` upper-cased, ``WARNING`` as ``WARN``."""
    upper = level.strip().upper()
    return "WARN" if upper == "WARNING" else upper


class SinkAws(Model):
    """An AWS connector (accepted, not run by kawa)."""

    s3: Annotated[aws.AWSS3 | None, doc("Objects written to an S3 bucket.")] = None
    sqs: Annotated[aws.AWSSQS | None, doc("Messages sent to an SQS queue.")] = None
    sns: Annotated[aws.AWSSNS | None, doc("Messages published to an SNS topic.")] = None
    eventbridge: Annotated[aws.AWSEventbridge | None, doc("Events put on an EventBridge bus.")] = (
        None
    )
    auth: Annotated[aws.Auth | None, doc("The AWS credentials.")] = None

    def parts(self) -> list[tuple[str, aws.AWSCommon]]:
        """The connectors set, by name."""
        named: list[tuple[str, aws.AWSCommon | None]] = [
            ("s3", self.s3),
            ("sqs", self.sqs),
            ("sns", self.sns),
            ("eventbridge", self.eventbridge),
        ]
        return [(name, part) for name, part in named if part is not None]


class IntegrationSinkSpec(Model):
    """What the sink does with the events it receives (one of log and aws)."""

    log: Annotated[Log | None, doc("Logs every event received.")] = None
    aws: Annotated[SinkAws | None, doc("An AWS connector (kawa does not run them).")] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        parts = self.aws.parts() if self.aws is not None else []
        kinds = (["log"] if self.log is not None else []) + [f"aws.{n}" for n, _ in parts]
        if len(kinds) > 1:
            yield FieldError(
                "", f"only one sink type can be set, got {len(kinds)}: {', '.join(kinds)}"
            )
            return
        if not kinds:
            yield FieldError(
                "",
                "at least one sink type must be specified: log, aws.s3, aws.sqs, aws.sns "
                "or aws.eventbridge",
            )
            return
        if self.aws is None or not parts:
            return
        if self.aws.auth is None or not self.aws.auth.secret_name:
            yield FieldError("aws.auth.secret.ref.name", "required field is missing")
        for name, part in parts:
            if not getattr(part, "arn", ""):
                yield FieldError(f"aws.{name}.arn", "required field is missing")
            if not part.region:
                yield FieldError(f"aws.{name}.region", "required field is missing")


class IntegrationSink(KubeObject):
    """An IntegrationSink is an addressable that logs the events it receives (or, in
    Knative, hands them to an AWS connector)."""

    spec: Annotated[IntegrationSinkSpec, doc("What the sink does with the events.")]


class IntegrationSinkStatus(duck.Status):
    """The state of the IntegrationSink."""

    address: Annotated[
        duck.Addressable | None, doc("Where the IntegrationSink receives events.")
    ] = None
    addresses: Annotated[
        list[duck.Addressable] | None,
        doc("Every address (http and https, by transport-encryption)."),
    ] = None
    policies: Annotated[
        list[duck.AppliedEventPolicyRef] | None,
        doc("The Ready EventPolicies that apply to the sink (authentication-oidc)."),
    ] = None


def parse_integrationsink(obj: Mapping[str, Any]) -> IntegrationSink:
    """``obj`` defaulted, validated and typed; raises :class:`~kawa.errors.ValidationError`
    listing every problem with its field path."""
    return parse_object(
        IntegrationSink, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True
    )
