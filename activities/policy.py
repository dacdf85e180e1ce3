"""The worker's configured policy, read through an activity so histories record it."""

from temporalio import activity

from models.policy import BillingPolicy, ChangeOrderPolicy, DealPolicy, StaffingPolicy


class PolicyActivities:
    def __init__(
        self,
        deal_policy: DealPolicy,
        staffing_policy: StaffingPolicy,
        billing_policy: BillingPolicy,
        change_order_policy: ChangeOrderPolicy,
    ) -> None:
        self._deal_policy = deal_policy
        self._staffing_policy = staffing_policy
        self._billing_policy = billing_policy
        self._change_order_policy = change_order_policy

    @activity.defn(name="policy.deal_policy")
    async def deal_policy(self) -> DealPolicy:
        """Approval thresholds, deadlines, mappings and the user directory in force now."""
        return self._deal_policy

    @activity.defn(name="policy.staffing_policy")
    async def staffing_policy(self) -> StaffingPolicy:
        """Mappings hires are validated against, and who approves assignments."""
        return self._staffing_policy

    @activity.defn(name="policy.billing_policy")
    async def billing_policy(self) -> BillingPolicy:
        """Cost centers, page size, month-end concurrency and who releases invoices."""
        return self._billing_policy

    @activity.defn(name="policy.change_order_policy")
    async def change_order_policy(self) -> ChangeOrderPolicy:
        """Approval levels and the amounts that call for each."""
        return self._change_order_policy
