"""The sinks.knative.dev API group (version ``v1alpha1``): JobSink.

:mod:`.jobsink` declares the JobSink, with the same shape as Knative's
``pkg/apis/sinks/v1alpha1``: typed view, defaults, validation, status. :data:`KINDS` is what
the scheme registers.
"""

from __future__ import annotations

from typing import Final

from kawa.apis import kn_common
from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.apis.sinks import jobsink

GROUP: Final = jobsink.GROUP

JOBSINK: Final = ResourceKind(
    group=GROUP,
    versions=("v1alpha1",),
    kind=jobsink.KIND,
    plural="jobsinks",
    singular="jobsink",
    namespaced=True,
    model=jobsink.JobSink,
    status=jobsink.JobSinkStatus,
    categories=("all", "knative", "eventing", "sink"),
    printer_columns=(
        PrinterColumn("URL", "string", ".status.address.url"),
        kn_common.AGE,
        kn_common.READY,
        kn_common.REASON,
    ),
)
"""JobSink (v1alpha1): a Job per event, addressable (Knative's printer columns)."""

KINDS: Final = (JOBSINK,)
"""The kinds of this group."""

__all__ = ["GROUP", "JOBSINK", "KINDS", "jobsink"]
