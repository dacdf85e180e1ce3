"""The engine-overhead baseline: opportunity-to-project's happy path as a plain Temporal
workflow. The same activities, with the same inputs, in the same order, against the same
systems, with psflow's timeouts and retry policy; none of psflow's workflow machinery (steps
and status, undo registration, search attributes, patches, the worker's retry-window and
heartbeat interceptor). A saga's time over this one's is what psflow's engine costs.

bench.bare_worker runs it with psflow's own activities on the bare task queue.
"""

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.change_orders import ChangeOrderActivities, ForecastChange
    from activities.crm import CrmActivities, OpportunityUpdate
    from activities.erp import ErpActivities
    from activities.policy import PolicyActivities
    from activities.psa import ProjectCreation, PsaActivities, StaffingPlan
    from activities.store import StoreActivities
    from models.audit import RecordLink
    from models.opportunity_to_project import erp_customer_for, erp_project_for, psa_project_for
    from workflows.calls import CALL_TIMEOUT, SYSTEM_CALL_RETRY
    from workflows.deal_rules import hours_by_role

NAME = "bench-bare-saga"


async def _call(method: Any, *args: Any) -> Any:
    return await workflow.execute_activity_method(
        method, *args, start_to_close_timeout=CALL_TIMEOUT, retry_policy=SYSTEM_CALL_RETRY
    )


@workflow.defn(name=NAME)
class BareSaga:
    @workflow.run
    async def run(self, opportunity_id: str) -> str:
        key = f"{workflow.info().workflow_id}/{workflow.info().first_execution_run_id}"
        deal = await _call(CrmActivities.get_opportunity, opportunity_id)
        policy = await _call(PolicyActivities.deal_policy)
        await _call(PsaActivities.get_rate_card, deal.rate_card)
        subsidiary = policy.legal_entities[deal.legal_entity]
        upsert = await _call(ErpActivities.upsert_customer, erp_customer_for(deal, subsidiary, key))
        erp_project = await _call(
            ErpActivities.upsert_project, erp_project_for(deal, upsert.customer.id, subsidiary)
        )
        psa_project = await _call(
            PsaActivities.create_project,
            ProjectCreation(
                idempotency_key=f"{key}/psa-project",
                project=psa_project_for(deal, erp_project.id),
            ),
        )
        start_date = deal.start_date or deal.close_date
        requests = await _call(
            PsaActivities.open_staffing_requests,
            StaffingPlan(
                project_id=psa_project.id,
                start_date=start_date,
                hours_by_role=hours_by_role(deal),
                idempotency_prefix=f"{key}/staffing",
            ),
        )
        forecast = ForecastChange(
            project_id=psa_project.id,
            change_order_id="baseline",
            budget=deal.amount,
            hours_by_role=hours_by_role(deal),
        )
        await _call(ChangeOrderActivities.publish_forecast, forecast)
        changes = {"erp_project_id": erp_project.id, "psa_project_id": psa_project.id}
        await _call(
            CrmActivities.update_opportunity,
            OpportunityUpdate(opportunity_id=deal.id, changes=changes),
        )
        links = [
            RecordLink(
                business_key=deal.id,
                system=system,
                record_type=kind,
                record_id=record_id,
                workflow_id=workflow.info().workflow_id,
            )
            for system, kind, record_id in [
                ("erp", "customer", upsert.customer.id),
                ("erp", "job", erp_project.id),
                ("psa", "project", psa_project.id),
                *[("psa", "staffing-request", r.id) for r in requests],
            ]
        ]
        await _call(StoreActivities.record_links, links)
        return str(psa_project.id)
