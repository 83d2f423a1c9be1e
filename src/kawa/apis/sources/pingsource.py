"""The PingSource kind (sources.knative.dev/v1, also served as v1beta2, whose fields are the
same, as Knative serves it and its documentation still writes it): an event on a cron schedule.

``spec.schedule`` (cron, see :mod:`.cron`; defaulted to every minute; a ``TZ=`` prefix is
refused in favour of ``timezone``), ``timezone`` (an IANA name), ``contentType``, ``data`` or
``dataBase64`` (never both), plus the ``sink`` (required) and ``ceOverrides`` of every source
(:class:`~kawa.apis.duck.SourceSpec`). Events: ``type=dev.knative.sources.ping``,
``source=/apis/v1/namespaces/<ns>/pingsources/<name>``. Conditions ``SinkProvided`` and
``Deployed`` behind ``Ready``. Declared in :data:`kawa.apis.sources.KINDS`; read by the ping
reconciler and scheduler (:mod:`kawa.sources.ping`).
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from pydantic import AfterValidator

from kawa.apis import cron, duck, kn_common, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.model.base import STORED, Context, doc
from kawa.apis.model.objects import KubeObject, default_object, parse_object
from kawa.apis.model.types import Base64Bytes
from kawa.errors import FieldError

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = "sources.knative.dev/v1"
API_VERSIONS: Final = (API_VERSION, "sources.knative.dev/v1beta2")
KIND: Final = "PingSource"
EVENT_TYPE: Final = "dev.knative.sources.ping"
DEFAULT_SCHEDULE: Final = "* * * * *"

DEPLOYED: Final = "Deployed"
PINGSOURCE_CONDITIONS: Final = ConditionSet(
    (kn_common.SINK_PROVIDED, DEPLOYED, duck.OIDC_IDENTITY_CREATED)
)


def _schedule(text: str) -> str:
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise ValueError("a time zone in the schedule is not supported; use spec.timezone")
    try:
        cron.parse_schedule(text)
    except ValueError as exc:
        raise ValueError(f"invalid cron schedule {text!r}: {exc}") from None
    return text


def _timezone(name: str) -> str:
    if name:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
            raise ValueError(
                f"unknown time zone {name!r}; expected an IANA name such as Europe/Paris"
            ) from None
    return name


class PingSourceSpec(duck.SourceSpec):
    """Sends an event on a schedule."""

    schedule: Annotated[
        str,
        AfterValidator(_schedule),
        doc("A cron schedule: 5 fields, or 6 with seconds first (default every minute)."),
        STORED,
    ] = DEFAULT_SCHEDULE
    timezone: Annotated[
        str, AfterValidator(_timezone), doc("The IANA time zone of the schedule (default UTC).")
    ] = ""
    content_type: Annotated[str, doc("The media type of data (datacontenttype).")] = ""
    data: Annotated[str | None, doc("The event's data, as text.")] = None
    data_base64: Annotated[
        Base64Bytes | None, doc("The event's data, base64 encoded (binary data).")
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.data is not None and self.data_base64 is not None:
            yield FieldError(
                "",
                "expected at most one of data or dataBase64, got both "
                "(use data for text, dataBase64 for binary data)",
            )

    @functools.cached_property
    def cron_schedule(self) -> cron.CronSchedule:
        """The parsed schedule."""
        return cron.parse_schedule(self.schedule)

    @property
    def event_data(self) -> bytes | None:
        """The events' data: ``data`` as UTF-8, or ``dataBase64`` decoded; ``None`` when
        neither is set."""
        if self.data_base64 is not None:
            return self.data_base64
        return self.data.encode() if self.data is not None else None


class PingSource(KubeObject):
    """A PingSource sends an event to its sink on a cron schedule."""

    spec: Annotated[PingSourceSpec, doc("Sends an event on a schedule.")]

    @property
    def event_source(self) -> str:
        """The ``source`` attribute of its events."""
        return f"/apis/v1/namespaces/{self.namespace}/pingsources/{self.name}"


def default_pingsource(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with the schedule defaulted (every minute) and ``sink.ref.namespace`` filled."""
    return default_object(PingSource, obj, namespaced=True)


def parse_pingsource(obj: Mapping[str, Any]) -> PingSource:
    """``obj`` defaulted, validated and typed; raises :class:`~kawa.errors.ValidationError`
    (subject ``"PingSource <namespace>/<name>"``) listing every problem."""
    if obj.get("apiVersion") in API_VERSIONS:
        obj = dict(obj, apiVersion=API_VERSION)  # v1beta2 has v1's fields
    return parse_object(PingSource, obj, kind=KIND, api_versions=API_VERSIONS, namespaced=True)
