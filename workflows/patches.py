"""`workflow.patched` with the patches of one release recorded as a single marker.

Each patch a run takes records a marker and upserts `TemporalChangeVersion`: an event and a
visibility write each, at every call site, in every new run. A run that starts on this code
records `BASELINE` once, at its first patch site, and takes every patch in `IN_BASELINE`
without a marker of its own. A run that started before has no `BASELINE` marker, so its
replay answers each patch from its own marker, as before; patches added later are asked
one by one.
"""

from temporalio import workflow

BASELINE = "patches-2026-12"
IN_BASELINE = frozenset(
    {
        "audit-postings",
        "audit-rows-local",
        "baseline-forecast",
        "cancel-ends-billing",
        "cancel-is-an-outcome",
        "dead-letters",
        "deal-changes",
        "lean-billing",
        "lock-reask",
        "page-cancel-waits",
        "proven-decisions",
        "resource-origin",
        "steps-shown-when-stopped",
    }
)


def patched(patch_id: str) -> bool:
    """Whether this run takes the change `patch_id` guards (see `workflow.patched`)."""
    if patch_id in IN_BASELINE and workflow.patched(BASELINE):
        return True
    return workflow.patched(patch_id)
