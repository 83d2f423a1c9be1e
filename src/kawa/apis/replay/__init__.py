"""The kawa.dev API group: kawa's own kinds, beside Knative's (none of Knative's schemas
changes for them).

:mod:`.replay` declares the Replay: archived events of a Broker delivered again to one
Trigger (docs/replay.md).
"""

from typing import Final

from kawa.apis import kn_common
from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.apis.replay import replay

GROUP: Final = "kawa.dev"

REPLAY: Final = ResourceKind(
    group=GROUP,
    versions=("v1alpha1",),
    kind=replay.KIND,
    plural="replays",
    singular="replay",
    namespaced=True,
    model=replay.Replay,
    status=replay.ReplayStatus,
    categories=("kawa",),
    printer_columns=(
        PrinterColumn("Broker", "string", ".spec.broker"),
        PrinterColumn("Trigger", "string", ".spec.trigger"),
        PrinterColumn(
            "Progress",
            "string",
            value=replay.progress_cell,
            description="Events finished of those in the window",
        ),
        PrinterColumn("Succeeded", "string", '.status.conditions[?(@.type=="Succeeded")].status'),
        kn_common.READY,
        PrinterColumn(
            "Reason",
            "string",
            value=replay.reason_cell,
            description="Why it is not Ready, else how it stands",
        ),
        kn_common.AGE,
    ),
)
"""Replay (v1alpha1): a Broker's archived events delivered again to one Trigger."""

KINDS: Final = (REPLAY,)
"""The kinds of this group."""

__all__ = ["GROUP", "KINDS", "REPLAY", "replay"]
