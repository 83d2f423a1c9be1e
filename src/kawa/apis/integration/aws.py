"""The AWS parts shared by IntegrationSource and IntegrationSink (Knative's
``pkg/apis/common/integration/v1alpha1``): accepted with Knative's fields, not run.

kawa runs no AWS connector (Knative runs Apache Camel Kamelet containers for them): a source
or sink of these kinds is stored, validated as Knative validates it (the credentials Secret
``auth.secret.ref.name``, the ``arn`` or ``table`` and the ``region`` are required) and
reports ``Ready=False`` saying so (:func:`not_supported`). The Secret holds the keys
:data:`ACCESS_KEY` and :data:`SECRET_KEY`, as Knative's connectors read them.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from kawa.apis.model.base import Model, doc

ACCESS_KEY: Final = "aws.accessKey"
"""The key of the credentials Secret holding the AWS access key id."""
SECRET_KEY: Final = "aws.secretKey"
"""The key of the credentials Secret holding the AWS secret access key."""


class SecretReference(Model):
    """A Secret of the object's namespace."""

    name: Annotated[str, doc("The Secret's name.")] = ""


class Secret(Model):
    """The credentials Secret."""

    ref: Annotated[SecretReference | None, doc("The Secret holding the credentials.")] = None


class Auth(Model):
    """AWS credentials: a Secret with the keys aws.accessKey and aws.secretKey."""

    secret: Annotated[Secret | None, doc("The Secret holding the credentials.")] = None
    access_key: Annotated[str, doc("The AWS access key id (prefer the Secret).")] = ""
    secret_key: Annotated[str, doc("The AWS secret access key (prefer the Secret).")] = ""

    @property
    def secret_name(self) -> str:
        """The credentials Secret's name ("" when none is named)."""
        if self.secret is None or self.secret.ref is None:
            return ""
        return self.secret.ref.name


class AWSCommon(Model):
    """What every AWS connector takes."""

    region: Annotated[str, doc("The AWS region.")] = ""
    uri_endpoint_override: Annotated[
        str, doc("An endpoint to use instead of AWS's (with overrideEndpoint).")
    ] = ""
    override_endpoint: Annotated[bool, doc("Whether uriEndpointOverride is used.")] = False


class AWSS3(AWSCommon):
    """An S3 bucket."""

    arn: Annotated[str, doc("The bucket's name or ARN.")] = ""
    delete_after_read: Annotated[bool, doc("Delete objects once read.")] = True
    move_after_read: Annotated[bool, doc("Move objects once read.")] = False
    destination_bucket: Annotated[str, doc("Where moved objects go.")] = ""
    destination_bucket_prefix: Annotated[str, doc("Prefix of moved objects.")] = ""
    destination_bucket_suffix: Annotated[str, doc("Suffix of moved objects.")] = ""
    auto_create_bucket: Annotated[bool, doc("Create the bucket if missing.")] = False
    prefix: Annotated[str, doc("Only objects with this prefix.")] = ""
    ignore_body: Annotated[bool, doc("Ignore the objects' bodies.")] = False
    force_path_style: Annotated[bool, doc("Path-style bucket access.")] = False
    delay: Annotated[int, doc("Milliseconds between polls.")] = 500
    max_messages_per_poll: Annotated[int, doc("Objects read per poll at most.")] = 10


class AWSSQS(AWSCommon):
    """An SQS queue."""

    arn: Annotated[str, doc("The queue's name or ARN.")] = ""
    delete_after_read: Annotated[bool, doc("Delete messages once read.")] = True
    auto_create_queue: Annotated[bool, doc("Create the queue if missing.")] = False
    host: Annotated[str, doc("The AWS host.")] = "amazonaws.com"
    protocol: Annotated[str, doc("http or https.")] = "https"
    queue_url: Annotated[str, Field(alias="queueURL", description="The full queue URL.")] = ""
    greedy: Annotated[bool, doc("Poll again at once after messages came.")] = False
    delay: Annotated[int, doc("Milliseconds between polls.")] = 500
    max_messages_per_poll: Annotated[int, doc("Messages read per poll at most (1-10).")] = 1
    wait_time_seconds: Annotated[int, doc("Long-polling wait, in seconds.")] = 0
    visibility_timeout: Annotated[int, doc("Visibility timeout, in seconds.")] = 0


class AWSDDBStreams(AWSCommon):
    """A DynamoDB stream."""

    table: Annotated[str, doc("The DynamoDB table.")] = ""
    stream_iterator_type: Annotated[
        str, doc("Where in the stream to start (FROM_LATEST, FROM_START).")
    ] = "FROM_LATEST"
    delay: Annotated[int, doc("Milliseconds between polls.")] = 500


class AWSSNS(AWSCommon):
    """An SNS topic."""

    arn: Annotated[str, doc("The topic's name or ARN.")] = ""
    auto_create_topic: Annotated[bool, doc("Create the topic if missing.")] = False


class AWSEventbridge(AWSCommon):
    """An EventBridge event bus."""

    arn: Annotated[str, doc("The event bus's name or ARN.")] = ""


def not_supported(kind: str, secret: str, endpoint: str) -> tuple[str, str]:
    """``(reason, message)`` of the ``Ready=False`` an AWS ``kind`` (``aws.s3`` ...) reports:
    what is missing to run it, and that kawa does not run AWS connectors anyway."""
    missing = []
    if not secret:
        missing.append(
            f"a credentials Secret (spec.aws.auth.secret.ref.name, keys {ACCESS_KEY} and "
            f"{SECRET_KEY})"
        )
    if not endpoint:
        missing.append("an endpoint (spec.aws.<kind>.uriEndpointOverride)")
    why = (
        f"kawa does not run AWS connectors yet: spec.{kind} is stored but no events move "
        "(Knative runs an Apache Camel Kamelet container for it)"
    )
    if missing:
        return "AWSCredentialsMissing", f"{why}; it would also need {' and '.join(missing)}"
    return "AWSNotSupported", why
