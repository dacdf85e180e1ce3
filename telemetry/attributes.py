"""Business attributes on the workflow and activity spans: which process, which deal, which step.

Ids, never names (spans leave psflow for a tracing backend unencrypted). A workflow's step,
customer id and project reach its activities as OpenTelemetry baggage, set by
`telemetry.workflow.step_span` and carried in the Temporal headers with the trace context.
"""

from typing import Any

from opentelemetry import baggage, trace
from temporalio import activity, workflow
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

WORKFLOW_TYPE = "psflow.workflow.type"
WORKFLOW_ID = "psflow.workflow.id"
BUSINESS_KEY = "psflow.business_key"
CUSTOMER = "psflow.customer_id"
PROJECT = "psflow.project"
STEP = "psflow.step"
ACTIVITY = "psflow.activity"
# Baggage that travels from a workflow's step to its activities.
CARRIED = (STEP, CUSTOMER, PROJECT)


def business_key(workflow_id: str) -> str:
    """`opportunity-to-project/006...` -> `006...`: the id minus the process name."""
    return workflow_id.partition("/")[2] or workflow_id


def workflow_attributes(workflow_type: str, workflow_id: str) -> dict[str, str]:
    return {
        WORKFLOW_TYPE: workflow_type,
        WORKFLOW_ID: workflow_id,
        BUSINESS_KEY: business_key(workflow_id),
    }


class _ActivityAttributes(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        span = trace.get_current_span()
        if span.is_recording():
            info = activity.info()
            carried = {key: baggage.get_baggage(key) for key in CARRIED}
            span.set_attributes(
                workflow_attributes(info.workflow_type or "", info.workflow_id or "")
                | {ACTIVITY: info.activity_type}
                | {key: str(value) for key, value in carried.items() if value}
            )
        return await self.next.execute_activity(input)


class _WorkflowAttributes(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        info = workflow.info()
        # Setting attributes issues no command: the same on every replay.
        trace.get_current_span().set_attributes(
            workflow_attributes(info.workflow_type, info.workflow_id)
        )
        return await self.next.execute_workflow(input)


class BusinessAttributes(Interceptor):
    """Adds psflow's business attributes to the spans Temporal's tracing opened around it.

    Must come after the tracing interceptor, so its spans are current here.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityAttributes(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowAttributes
