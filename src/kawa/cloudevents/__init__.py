"""CloudEvents 1.0 (and 0.3): the event value type, attribute rules and codecs.

Pure functions on plain data; no I/O. Modules:

* :mod:`~kawa.cloudevents.event`: the :class:`CloudEvent` value type;
* :mod:`~kawa.cloudevents.validation`: attribute rules, :func:`validate`, :class:`CloudEventError`;
* :mod:`~kawa.cloudevents.timestamp`: strict RFC 3339 timestamps;
* :mod:`~kawa.cloudevents.jsonformat`: the JSON event format (single events and batches);
* :mod:`~kawa.cloudevents.http`: the HTTP protocol binding (binary, structured, batched);
* :mod:`~kawa.cloudevents.display`: Knative's event-display text.
"""

from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.cloudevents.validation import CloudEventError, validate

__all__ = ["AttributeValue", "CloudEvent", "CloudEventError", "validate"]
