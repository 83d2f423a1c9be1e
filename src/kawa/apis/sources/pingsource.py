"""The PingSource kind (sources.knative.dev/v1): an event on a cron schedule.

``spec.schedule`` (cron, see :mod:`.cron`; defaulted to every minute), ``timezone`` (an IANA
name), ``contentType``, ``data`` or ``dataBase64`` (never both), ``sink`` (required) and
``ceOverrides``. Events: ``type=dev.knative.sources.ping``,
``source=/apis/v1/namespaces/<ns>/pingsources/<name>``. Conditions ``SinkProvided`` and
``Deployed`` behind ``Ready``. Declared in :data:`kawa.apis.sources.KINDS`; read by the ping
adapter.
"""

from __future__ import annotations

import base64
import binascii
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.sources import cron
from kawa.errors import FieldError, ValidationError

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = "sources.knative.dev/v1"
KIND: Final = "PingSource"
EVENT_TYPE: Final = "dev.knative.sources.ping"
DEFAULT_SCHEDULE: Final = "* * * * *"
_SPEC_FIELDS: Final = (
    "schedule",
    "timezone",
    "contentType",
    "data",
    "dataBase64",
    "sink",
    "ceOverrides",
)

DEPLOYED: Final = "Deployed"
PINGSOURCE_CONDITIONS: Final = ConditionSet((kn_common.SINK_PROVIDED, DEPLOYED))


@dataclass(frozen=True, slots=True)
class PingSource:
    namespace: str
    name: str
    uid: str
    generation: int
    schedule: cron.CronSchedule
    schedule_text: str
    timezone: str
    content_type: str
    data: bytes | None
    """The event's data: ``data`` as UTF-8, or ``dataBase64`` decoded; ``None`` when neither."""
    sink: duck.Destination
    ce_overrides: dict[str, str] | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def event_source(self) -> str:
        """The ``source`` attribute of its events."""
        return f"/apis/v1/namespaces/{self.namespace}/pingsources/{self.name}"


def default_pingsource(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with the schedule defaulted (every minute) and ``sink.ref.namespace`` filled."""
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        if not spec.get("schedule"):
            spec["schedule"] = DEFAULT_SCHEDULE
        kn_common.default_sink(spec, meta.namespace_of(out))
    return out


def parse_pingsource(obj: Mapping[str, Any]) -> PingSource:
    obj = default_pingsource(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    text = meta.read_str(spec, "schedule", "spec.schedule", errors, required=True)
    schedule = None
    if text is not None:
        if text.startswith(("TZ=", "CRON_TZ=")):
            errors.append(
                FieldError(
                    "spec.schedule",
                    "a time zone in the schedule is not supported; use spec.timezone",
                )
            )
        else:
            try:
                schedule = cron.parse_schedule(text)
            except ValueError as exc:
                errors.append(FieldError("spec.schedule", f"invalid cron schedule {text!r}: {exc}"))
    timezone = meta.read_str(spec, "timezone", "spec.timezone", errors) or ""
    if timezone:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(
                FieldError(
                    "spec.timezone",
                    f"unknown time zone {timezone!r}; expected an IANA name such as Europe/Paris",
                )
            )
    content_type = meta.read_str(spec, "contentType", "spec.contentType", errors) or ""
    data = _read_data(spec, errors)
    sink = kn_common.read_sink(spec, "spec.sink", errors, namespace=who.namespace)
    overrides = kn_common.read_ce_overrides(spec.get("ceOverrides"), "spec.ceOverrides", errors)
    kn_common.raise_if_errors(errors, KIND, obj)
    if schedule is None or text is None or sink is None:
        raise ValidationError.single("spec", "invalid", subject=meta.subject_of(KIND, obj))
    return PingSource(
        who.namespace,
        who.name,
        who.uid,
        who.generation,
        schedule,
        text,
        timezone,
        content_type,
        data,
        sink,
        overrides,
    )


def _read_data(spec: Mapping[str, Any], errors: list[FieldError]) -> bytes | None:
    text = meta.read_str(spec, "data", "spec.data", errors)
    encoded = meta.read_str(spec, "dataBase64", "spec.dataBase64", errors)
    if text is not None and encoded is not None:
        errors.append(
            FieldError(
                "spec",
                "expected at most one of data or dataBase64, got both "
                "(use data for text, dataBase64 for binary data)",
            )
        )
        return None
    if encoded is not None:
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            errors.append(FieldError("spec.dataBase64", "expected base64-encoded data"))
            return None
    return text.encode() if text is not None else None


def validate_pingsource(obj: Mapping[str, Any]) -> None:
    parse_pingsource(obj)


def validate_pingsource_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Every field of a PingSource may change."""


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "Sends an event on a schedule.",
        {
            "schedule": kn_schema.string(
                "A cron schedule: 5 fields, or 6 with seconds first (default every minute)."
            ),
            "timezone": kn_schema.string("The IANA time zone of the schedule (default UTC)."),
            "contentType": kn_schema.string("The media type of data (datacontenttype)."),
            "data": kn_schema.string("The event's data, as text."),
            "dataBase64": kn_schema.string("The event's data, base64 encoded (binary data)."),
            "sink": kn_schema.destination("Where the events are sent."),
            "ceOverrides": kn_schema.ce_overrides(),
        },
        required=("sink",),
    ),
    kn_schema.source_status("The state of the PingSource."),
)
