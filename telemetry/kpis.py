"""psflow's own metrics (`psflow_*`), recorded on Temporal's metric meters.

They come out of the same /metrics endpoint as the Temporal SDK's (`[telemetry]
metrics_address`): workflows record through `workflow.metric_meter()` (dropped while
replaying, and no command, so no patch), ingress and the worker's start on the runtime's
meter. Labels stay few and bounded: workflow type, system, kind, status; never a business key.
A workflow's meter adds namespace, task_queue and workflow_type itself.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime

from temporalio.common import MetricMeter

DEAD_LETTERS_OPENED = "psflow_dead_letters_opened"
STEPS_STALLED = "psflow_steps_stalled"
STEPS_RECOVERED = "psflow_steps_recovered"
RECONCILE_FINDINGS = "psflow_reconcile_findings"
RECONCILE_LAST_RUN = "psflow_reconcile_last_run_timestamp_seconds"
INGRESS_REQUESTS = "psflow_ingress_requests"
ALL = (
    DEAD_LETTERS_OPENED,
    STEPS_STALLED,
    STEPS_RECOVERED,
    RECONCILE_FINDINGS,
    RECONCILE_LAST_RUN,
    INGRESS_REQUESTS,
)
# The systems a step can stall on (retry_window.UNNAMED is "store").
SYSTEMS = ("crm", "erp", "psa", "hcm", "store")


def dead_letter_opened(meter: MetricMeter) -> None:
    """A failed run left a dead letter (labels: the workflow meter's workflow_type)."""
    meter.create_counter(DEAD_LETTERS_OPENED, "Dead letters opened by failed runs").add(1)


def step_stalled(meter: MetricMeter, system: str) -> None:
    """A run's step kept failing on `system` and now shows itself stalled."""
    counter = meter.create_counter(STEPS_STALLED, "Steps that stalled on a system")
    counter.add(1, {"system": system.lower()})


def step_recovered(meter: MetricMeter, system: str) -> None:
    """A stalled step went through after all."""
    counter = meter.create_counter(STEPS_RECOVERED, "Stalled steps that went through later")
    counter.add(1, {"system": system.lower()})


def reconcile_findings(meter: MetricMeter, found: Mapping[str, int], at: datetime) -> None:
    """The drift one reconcile run found, per kind, and when that run checked."""
    gauge = meter.create_gauge(RECONCILE_FINDINGS, "Findings of the last reconcile run, by kind")
    for kind, count in found.items():
        gauge.set(count, {"kind": kind})
    last = meter.create_gauge(RECONCILE_LAST_RUN, "When the last reconcile run checked", "s")
    last.set(int(at.timestamp()))


def ingress_answered(meter: MetricMeter, system: str, status: int) -> None:
    """Ingress answered a sender's request with `status`."""
    counter = meter.create_counter(INGRESS_REQUESTS, "Ingress requests by sender and status")
    counter.add(1, {"system": system, "status": str(status)})


def zeros_at_start(
    meter: MetricMeter, namespace: str, task_queue: str, workflow_types: Iterable[str]
) -> None:
    """Counters at 0 with the labels a workflow records them under, so their first
    increase is seen by Prometheus's `increase()` (a series born at 1 is not)."""
    opened = meter.create_counter(DEAD_LETTERS_OPENED, "Dead letters opened by failed runs")
    for workflow_type in workflow_types:
        labels = {"namespace": namespace, "task_queue": task_queue, "workflow_type": workflow_type}
        opened.add(0, labels)
