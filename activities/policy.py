"""The worker's configured policy, read through an activity so histories record it."""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from temporalio import activity

from models.identity import ProofKeys
from models.policy import (
    BillingPolicy,
    ChangeOrderPolicy,
    DealPolicy,
    PeoplePolicy,
    StaffingPolicy,
)

P = TypeVar("P", bound=PeoplePolicy)


class PolicyActivities:
    def __init__(
        self,
        deal_policy: DealPolicy,
        staffing_policy: StaffingPolicy,
        billing_policy: BillingPolicy,
        change_order_policy: ChangeOrderPolicy,
        proof_keys: Callable[[], ProofKeys],
    ) -> None:
        """`proof_keys` reads the issuer's published keys (security.issuer.public_keys)."""
        self._deal_policy = deal_policy
        self._staffing_policy = staffing_policy
        self._billing_policy = billing_policy
        self._change_order_policy = change_order_policy
        self._proof_keys = proof_keys

    async def _with_keys(self, policy: P) -> P:
        keys = await asyncio.to_thread(self._proof_keys)
        return policy.model_copy(update={"proof_keys": keys})

    @activity.defn(name="policy.proof_keys")
    async def proof_keys(self) -> ProofKeys:
        """The keys decision proofs are checked with, as the issuer publishes them now."""
        return await asyncio.to_thread(self._proof_keys)

    @activity.defn(name="policy.deal_policy")
    async def deal_policy(self) -> DealPolicy:
        """Approval thresholds, deadlines, mappings and the user directory in force now."""
        return await self._with_keys(self._deal_policy)

    @activity.defn(name="policy.staffing_policy")
    async def staffing_policy(self) -> StaffingPolicy:
        """Mappings hires are validated against, and who approves assignments."""
        return await self._with_keys(self._staffing_policy)

    @activity.defn(name="policy.billing_policy")
    async def billing_policy(self) -> BillingPolicy:
        """Cost centers, page size, month-end concurrency and who releases invoices."""
        return await self._with_keys(self._billing_policy)

    @activity.defn(name="policy.change_order_policy")
    async def change_order_policy(self) -> ChangeOrderPolicy:
        """Approval levels and the amounts that call for each."""
        return await self._with_keys(self._change_order_policy)
