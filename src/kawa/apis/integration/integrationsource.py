"""The IntegrationSource kind (sources.knative.dev/v1alpha1): a timer, or an AWS connector.

Knative's ``pkg/apis/sources/v1alpha1/integration_*.go``, in kawa's shape. Exactly one of

* ``spec.timer`` -- ``period`` (milliseconds between events, default 1000), ``message`` (the
  events' data), ``contentType`` (default ``text/plain``) and ``repeatCount`` (stop after that
  many events; 0: never): run by kawa itself (:mod:`kawa.sources.integration`), events of type
  :data:`TIMER_EVENT_TYPE` from :data:`TIMER_EVENT_SOURCE`, subject :data:`TIMER_SUBJECT`, as
  Knative's timer connector sends them;
* ``spec.aws.s3`` / ``sqs`` / ``ddbStreams`` (:mod:`.aws`): accepted as Knative validates
  them, never run (``Ready=False`` saying so);

plus the ``sink`` (required) and ``ceOverrides`` of every source. Status: ``sinkUri``,
``sinkAudience``, ``sinkCACerts``, ``auth``, ``ceAttributes``; conditions ``SinkProvided``,
``ContainerSourceReady`` (Knative's name: the connector runs) and ``OIDCIdentityCreated``
behind ``Ready``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, kn_common
from kawa.apis.conditions import ConditionSet
from kawa.apis.integration import aws
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.errors import FieldError

API_VERSION: Final = "sources.knative.dev/v1alpha1"
KIND: Final = "IntegrationSource"

TIMER_EVENT_TYPE: Final = "dev.knative.eventing.timer"
TIMER_EVENT_SOURCE: Final = "dev.knative.eventing.timer-source"
TIMER_SUBJECT: Final = "timer-source"
DEFAULT_PERIOD_MS: Final = 1000
DEFAULT_CONTENT_TYPE: Final = "text/plain"

CONTAINER_SOURCE_READY: Final = "ContainerSourceReady"
INTEGRATIONSOURCE_CONDITIONS: Final = ConditionSet(
    (kn_common.SINK_PROVIDED, CONTAINER_SOURCE_READY, duck.OIDC_IDENTITY_CREATED)
)


class Timer(Model):
    """Sends the message every period."""

    period: Annotated[int, doc("Milliseconds between two events (default 1000).")] = (
        DEFAULT_PERIOD_MS
    )
    message: Annotated[str, doc("The events' data.")] = ""
    content_type: Annotated[str, doc("The media type of the message (default text/plain).")] = (
        DEFAULT_CONTENT_TYPE
    )
    repeat_count: Annotated[int, doc("How many events are sent at most (0: no limit).")] = 0

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.period <= 0:
            yield FieldError(
                "period", f"invalid value {self.period}: expected milliseconds greater than 0"
            )
        if self.repeat_count < 0:
            yield FieldError(
                "repeatCount",
                f"invalid value {self.repeat_count}: expected 0 (no limit) or more",
            )


class SourceAws(Model):
    """An AWS connector (accepted, not run by kawa)."""

    s3: Annotated[aws.AWSS3 | None, doc("Objects of an S3 bucket.")] = None
    sqs: Annotated[aws.AWSSQS | None, doc("Messages of an SQS queue.")] = None
    ddb_streams: Annotated[aws.AWSDDBStreams | None, doc("A DynamoDB stream.")] = None
    auth: Annotated[aws.Auth | None, doc("The AWS credentials.")] = None

    def kinds(self) -> list[str]:
        """The connectors set (``s3``, ``sqs``, ``ddbStreams``)."""
        set_ = [("s3", self.s3), ("sqs", self.sqs), ("ddbStreams", self.ddb_streams)]
        return [name for name, value in set_ if value is not None]

    def endpoint(self) -> str:
        """The endpoint override of the connector set ("" without one)."""
        for part in (self.s3, self.sqs, self.ddb_streams):
            if part is not None:
                return part.uri_endpoint_override
        return ""


class IntegrationSourceSpec(duck.SourceSpec):
    """What the source produces (one of timer and aws) and where its events go."""

    timer: Annotated[Timer | None, doc("A timer: the message every period.")] = None
    aws: Annotated[SourceAws | None, doc("An AWS connector (kawa does not run them).")] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        kinds = (["timer"] if self.timer is not None else []) + (
            [f"aws.{k}" for k in self.aws.kinds()] if self.aws is not None else []
        )
        if len(kinds) > 1:
            yield FieldError(
                "", f"only one source type can be set, got {len(kinds)}: {', '.join(kinds)}"
            )
        elif not kinds:
            yield FieldError(
                "",
                "at least one source type must be specified: timer, aws.s3, aws.sqs or "
                "aws.ddbStreams",
            )
        elif self.aws is not None and self.timer is None:
            yield from _aws_required(self.aws)


def _aws_required(spec: SourceAws) -> Iterable[FieldError]:
    """Knative's required fields of the AWS connector set."""
    if spec.auth is None or not spec.auth.secret_name:
        yield FieldError("aws.auth.secret.ref.name", "required field is missing")
    if spec.s3 is not None:
        yield from _missing("aws.s3", arn=spec.s3.arn, region=spec.s3.region)
    if spec.sqs is not None:
        yield from _missing("aws.sqs", arn=spec.sqs.arn, region=spec.sqs.region)
    if spec.ddb_streams is not None:
        part = spec.ddb_streams
        yield from _missing("aws.ddbStreams", table=part.table, region=part.region)


def _missing(path: str, **values: str) -> Iterable[FieldError]:
    for name, value in values.items():
        if not value:
            yield FieldError(f"{path}.{name}", "required field is missing")


class IntegrationSource(KubeObject):
    """An IntegrationSource sends the events of a timer (or, in Knative, an AWS connector)
    to its sink."""

    spec: Annotated[IntegrationSourceSpec, doc("What the source produces and where it goes.")]


def parse_integrationsource(obj: Mapping[str, Any]) -> IntegrationSource:
    """``obj`` defaulted, validated and typed; raises :class:`~kawa.errors.ValidationError`
    listing every problem with its field path."""
    return parse_object(
        IntegrationSource, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True
    )
