"""The worker's configured policy, read through an activity so histories record it."""

from temporalio import activity

from models.policy import DealPolicy


class PolicyActivities:
    def __init__(self, deal_policy: DealPolicy) -> None:
        self._deal_policy = deal_policy

    @activity.defn(name="policy.deal_policy")
    async def deal_policy(self) -> DealPolicy:
        """Approval thresholds, deadlines, mappings and the user directory in force now."""
        return self._deal_policy
