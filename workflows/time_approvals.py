"""Time entries the PSA approves while a time-to-bill run is under way (signal `time_approved`).

Ingress signals each approval of the run's project and period. An entry approved before the
run reads the period's time is billed with the rest. One approved after the run read it is not
on this run's invoice: the status counts it, the next run of the period bills it, and
reconciliation's unposted-time finding lists it until then. Pages are read by an opaque token,
so an approval while time is being read may fall either way, and the status says so.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.status import StepState
    from models.time_to_bill import TIME_APPROVED_SIGNAL, BillingProgress, Phase, TimeApproved
    from workflows.interaction import Interactive

# Status events for approvals per run; later ones are still counted, not listed.
MAX_NOTED = 50


def time_detail(progress: BillingProgress) -> str:
    """The time posting step's detail: its totals, and the entries approved too late for it."""
    detail = progress.time.summary("hours")
    late = len(progress.late_time_entries)
    if late:
        detail += f"; {late} approved after posting, not billed by this run (see events)"
    return detail


class FollowsTimeApprovals(Interactive):
    """Takes `time_approved` signals: each entry once, whatever the number of deliveries."""

    def init_time_approvals(
        self, period: str, progress: BillingProgress | None, time_step: str
    ) -> None:
        self._period = period
        self.progress = progress
        self._time_step = time_step
        self._approvals: set[str] = set()
        self._noted = 0

    @workflow.signal(name=TIME_APPROVED_SIGNAL)
    def time_approved(self, approved: TimeApproved) -> None:
        """A time entry of this project and period was approved in the PSA."""
        entry, progress = approved.time_entry_id, self.progress
        if entry in self._approvals or (progress and entry in progress.late_time_entries):
            return
        self._approvals.add(entry)
        period = self._period
        if progress is not None and progress.phase is not Phase.TIME:
            progress.late_time_entries.append(entry)
            self._step(self._time_step).detail = time_detail(progress)
            detail = (
                f"approved after this run read {period}'s time: this run does not bill it; "
                f"the next time-to-bill run of {period} does, and reconciliation lists it as "
                "unposted time until then"
            )
        elif self._step(self._time_step).state is StepState.PENDING and (
            progress is None or progress.page_token is None
        ):
            detail = f"approved before this run read {period}'s time: billed with the rest"
        else:
            detail = (
                f"approved while this run reads {period}'s time: billed by this run if its page "
                f"was still to be read, otherwise by the next run of {period} (reconciliation "
                "lists it as unposted time until then)"
            )
        if self._noted < MAX_NOTED:
            self._noted += 1
            self.note("time approved", f"time entry {entry} {detail}", approved.approver)
