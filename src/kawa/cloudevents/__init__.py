"""CloudEvents 1.0 (and 0.3): the event value type, attribute rules and codecs.

Pure functions on plain data; no I/O. See :mod:`kawa.cloudevents.event` for the value type.
"""

from kawa.cloudevents.event import AttributeValue, CloudEvent

__all__ = ["AttributeValue", "CloudEvent"]
