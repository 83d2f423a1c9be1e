"""kawa's durable event log: the storage under the broker and channel data plane.

The broker codes against :class:`EventLog` (see :mod:`kawa.eventlog.base`); backends are
:class:`kawa.eventlog.memory.MemoryEventLog` (tests, ``--ephemeral``) and
:class:`kawa.eventlog.sqlite.SqliteEventLog` (the default, durable with group commit).
:mod:`kawa.eventlog.codec` turns CloudEvents into record payloads and back.
"""

from kawa.eventlog.base import EventLog, Record
from kawa.eventlog.codec import decode_event, encode_event
from kawa.eventlog.memory import MemoryEventLog
from kawa.eventlog.sqlite import SqliteEventLog

__all__ = [
    "EventLog",
    "MemoryEventLog",
    "Record",
    "SqliteEventLog",
    "decode_event",
    "encode_event",
]
