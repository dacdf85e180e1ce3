"""Amount changes the CRM announces while an opportunity-to-project run is under way.

Ingress signals `deal_changed` to the running workflow. Until provisioning starts, the run has
not used the amount: it reads the deal again and decides approval on the current amount, and an
approval wait for the old amount is withdrawn (an approval given for it is not applied to the
new one). Once provisioning has started, the run keeps the amount it has and says that a change
order moves the budget. Acting on a change is behind `workflow.patched("deal-changes")`.
"""

import asyncio
import contextlib

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.crm import CrmActivities
    from models.crm import Opportunity
    from models.opportunity_to_project import DEAL_CHANGED_SIGNAL, DealChange
    from models.people import Approval
    from models.policy import ApprovalPolicy, DealPolicy
    from models.status import Step, WaitKind
    from workflows.calls import call
    from workflows.deal_rules import corrections_made, needs_approval, require_closed_won
    from workflows.decisions import Decision
    from workflows.interaction import Interactive
    from workflows.patches import patched

DEAL_CHANGES_PATCH = "deal-changes"
EVENT = "amount changed"


class FollowsDealChanges(Interactive):
    """Takes `deal_changed` signals (each event id once) and races approval waits with them."""

    _deal: Opportunity | None

    def init_deal_changes(self) -> None:
        self._change_ids: set[str] = set()
        self._changes = 0  # distinct change events received
        self._read_at = 0  # change events received when the deal was last read
        self._follows: bool | None = None  # workflow.patched, asked once a change needs it
        self.amount_used = False  # provisioning started: a change now takes a change order

    @workflow.signal(name=DEAL_CHANGED_SIGNAL)
    def deal_changed(self, *payload: object) -> None:
        """The deal's amount changed in the CRM; a redelivered event changes nothing, and a
        malformed one (a raw client's) is refused in the status events."""
        change = self._signalled(DEAL_CHANGED_SIGNAL, DealChange, payload)
        if change is None or change.event_id in self._change_ids:
            return
        self._change_ids.add(change.event_id)
        self._changes += 1
        self.note(EVENT, f"{change.summary()}: {self._consequence()}")

    def _consequence(self) -> str:
        deal = self._deal
        if self.amount_used and deal is not None:
            return (
                f"this run sets the project up with the budget {deal.amount} {deal.currency}; "
                "a change order (`psflow start change-order`) moves the budget once the "
                "project is live, and sets the CRM amount"
            )
        if self._waits_for(WaitKind.APPROVAL):
            return (
                "the approval asked for the old amount is withdrawn; the deal is read again "
                "and approval is decided on the current amount"
            )
        return "the deal is read again before approval is decided"

    def reading(self) -> None:
        """Call just before reading the deal: changes from now on call for another read."""
        self._read_at = self._changes

    async def read_again(
        self, original: Opportunity, deal: Opportunity
    ) -> tuple[Opportunity, Opportunity]:
        """The deal as the CRM has it now: as read, and with the corrections made so far."""
        self.reading()
        fresh = await call(CrmActivities.get_opportunity, deal.id)
        require_closed_won(fresh)
        corrected = {name: getattr(deal, name) for name in corrections_made(original, deal)}
        self._deal = current = fresh.model_copy(update=corrected)
        assert isinstance(self.policy, DealPolicy)
        approval = (
            "over the approval threshold: approval is asked for this amount"
            if needs_approval(current, self.policy)
            else "within the approval threshold: no approval needed"
        )
        self.note("deal read again", f"{current.amount} {current.currency}: {approval}")
        return fresh, current

    def changed_since_read(self) -> bool:
        """A change came after the deal was last read (and this run acts on changes)."""
        return self._changes > self._read_at and self._follows_changes()

    def _follows_changes(self) -> bool:
        if self._follows is None:
            self._follows = patched(DEAL_CHANGES_PATCH)
            if not self._follows:
                self.note(
                    EVENT,
                    "this run started before amount changes were followed: it keeps the "
                    "amount it read; a change order moves the budget once the project is live",
                )
        return self._follows

    async def approval_unless_changed(self, step: Step, rule: ApprovalPolicy) -> Decision | None:
        """The approver's decision, or None when the deal changed first: the wait is withdrawn.

        A rejection stands whatever the amount; an approval that came with a change (in the
        same moment) was given for the old amount and is not applied."""
        start = self._changes
        waiting = asyncio.create_task(
            self.wait_for_approval(
                step, rule.role, rule.deadline, rule.escalation_grace, rule.escalate_to
            )
        )
        try:
            await workflow.wait_condition(lambda: waiting.done() or self._changes > start)
            if self._changes == start or not self._follows_changes():
                return await waiting
        finally:
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError, ActivityError):
                    await waiting
        decided = waiting.done() and not waiting.cancelled() and waiting.exception() is None
        decision = waiting.result() if decided else None
        if isinstance(decision, Approval):
            self.note(
                EVENT,
                f"approval by {decision.user} was given for the amount before the change: "
                "not applied; approval is decided again on the current amount",
            )
            return None
        return decision
