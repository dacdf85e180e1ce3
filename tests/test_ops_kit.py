"""The operations kit (deploy/prometheus, deploy/grafana): well formed, and every metric its
alerts and panels use is one a real psflow worker and ingress export."""

import asyncio
import json
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from config import Settings
from ingress.app import create_app
from models.opportunity_to_project import OpportunityToProjectInput, workflow_id
from models.reconcile import FindingKind, ReconcileInput
from telemetry import kpis
from telemetry.metrics import on_metrics_runtime
from tests.saga_support import fresh_deals
from tests.support import Sandbox, free_port, running_worker

DEPLOY = Path(__file__).parent.parent / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "psflow.json"
DATASOURCE = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER = DEPLOY / "grafana" / "provisioning" / "dashboards" / "psflow.yml"
METRIC = re.compile(r"\b(?:psflow|temporal)_[A-Za-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")
ERP_CUSTOMERS = "/services/rest/record/v1/customer/*"
PSA_PROJECTS = "/api/v1/projects"
# What a person does about it, in the words an annotation must use.
TO_DO = re.compile(r"\b(check|run|look|add|scale|start|fix|retry|read|open|find)\b", re.I)


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def used_metrics() -> set[str]:
    """Every metric an alert or a panel names, as its family (Prometheus's suffixes off)."""
    exprs = [rule["expr"] for rule in rules()] + dashboard_exprs()
    return {_family(name) for expr in exprs for name in METRIC.findall(expr)}


def _family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def balanced(expr: str) -> bool:
    """Brackets and quotes of a PromQL expression pair up (a stand-in for promtool's parse)."""
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quoted = False
    for char in expr:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([{":
            stack.append(char)
        elif char in closing and (not stack or stack.pop() != closing[char]):
            return False
    return not stack and not quoted


# ---- the files' shape ------------------------------------------------------------------------


def test_alert_rules_have_what_prometheus_and_the_on_call_person_need() -> None:
    loaded = yaml.safe_load(ALERTS.read_text())
    assert loaded["groups"] and all({"name", "rules"} <= set(g) for g in loaded["groups"])
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)) >= 6
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
        assert balanced(rule["expr"]), rule["alert"]


def test_each_alert_says_what_to_do() -> None:
    for rule in rules():
        description = rule["annotations"]["description"]
        assert TO_DO.search(description), f"{rule['alert']}: say what to do about it"
        # ...with a command to run or a setting to change, quoted as the README quotes them.
        assert re.search(r"`(psflow |docker |\[)[^`]+`", description), rule["alert"]


def test_prometheus_scrapes_the_workers_and_ingress_and_loads_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert {"worker-1:9464", "worker-2:9464", "ingress:9464"} <= targets


def test_grafana_is_provisioned_with_prometheus_and_the_psflow_dashboard() -> None:
    (source,) = yaml.safe_load(DATASOURCE.read_text())["datasources"]
    assert (source["type"], source["url"], source["uid"]) == (
        "prometheus",
        "http://prometheus:9090",
        "prometheus",
    )
    (provider,) = yaml.safe_load(PROVIDER.read_text())["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"] and {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        for target in panel["targets"]:
            assert balanced(target["expr"]), panel["title"]


def test_the_kit_uses_each_of_psflows_metrics() -> None:
    used = used_metrics()
    assert set(kpis.ALL) <= used
    assert {"temporal_workflow_task_schedule_to_start_latency", "temporal_request_failure"} <= used


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules_and_the_config() -> None:
    for args in (["check", "rules", str(ALERTS)], ["check", "config", str(PROMETHEUS)]):
        checked = subprocess.run(["promtool", *args], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


# ---- the metrics are real ----------------------------------------------------------------------


def exported(page: str) -> dict[str, list[str]]:
    """The sample lines of a /metrics page, by metric family."""
    samples: dict[str, list[str]] = {}
    for line in page.splitlines():
        if line and not line.startswith("#"):
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            for key in {name, _family(name)}:  # `x_bucket` lines are x's too
                samples.setdefault(key, []).append(line)
    return samples


async def _fails_for_good(client: Client, queue: str, sandbox: Sandbox, deal: str) -> None:
    """A permanent PSA refusal: the run compensates and opens a dead letter."""
    sandbox.fault("psa", path=PSA_PROJECTS, method="POST", status=400, count=100)
    try:
        with pytest.raises(WorkflowFailureError):
            await _provision(client, queue, deal)
    finally:
        sandbox.clear_faults()


async def _provision(client: Client, queue: str, deal: str) -> None:
    handle = await client.start_workflow(
        "opportunity-to-project",
        OpportunityToProjectInput(opportunity_id=deal, requested_by="test"),
        id=workflow_id(deal),
        task_queue=queue,
    )
    await handle.result()


async def _reconcile(client: Client, queue: str) -> None:
    period = datetime.now(UTC).strftime("%Y-%m")
    await client.execute_workflow(
        "reconcile",
        ReconcileInput(requested_by="test", periods=[period]),
        id=f"reconcile-ops-kit-{uuid.uuid4()}",
        task_queue=queue,
    )


async def _refused_request(client: Client, settings: Settings) -> None:
    """A call Temporal refuses (no such run), on the metrics runtime: a request failure."""
    metered = await on_metrics_runtime(client, settings.telemetry)
    with pytest.raises(RPCError):
        await metered.get_workflow_handle(f"ops-kit-no-such-run-{uuid.uuid4()}").describe()


async def _ingress_answer(settings: Settings, client: Client) -> int:
    """One unsigned event to ingress (with the worker's metrics address): refused, 401."""
    app = create_app(settings, client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as http:
        return (await http.post("/events/crm", json={})).status_code


async def test_every_metric_the_alerts_and_dashboard_use_is_exported(
    client: Client, settings: Settings, sandbox: Sandbox
) -> None:
    address = f"127.0.0.1:{free_port()}"
    metered = settings.model_copy(deep=True)
    metered.telemetry.metrics_address = address
    metered.reconcile.repair = []  # report only: start nothing in the shared sandbox
    metered.reconcile.closed_won_since = datetime.now(UTC).date()
    metered.ingress.secret = SecretStr("ops-kit-secret")
    failing, stalling = fresh_deals(sandbox, 2)
    async with running_worker(client, metered, f"psflow-test-{uuid.uuid4()}") as used:
        queue = used.temporal.task_queue
        await _fails_for_good(client, queue, sandbox, failing)
        # Three 503s: attempt 3 tells the run it stalled on the ERP, attempt 4 goes through.
        sandbox.fault("erp", path=ERP_CUSTOMERS, method="GET", status=503, count=3)
        answered, *_ = await asyncio.gather(
            _ingress_answer(used, client),
            _provision(client, queue, stalling),
            _reconcile(client, queue),
            _refused_request(client, used),
        )
        async with httpx.AsyncClient(timeout=10) as http:
            page = (await http.get(f"http://{address}/metrics")).text

    samples = exported(page)
    missing = sorted(name for name in used_metrics() if name not in samples)
    assert not missing, f"the ops kit uses metrics psflow does not export: {missing}"
    assert answered == 401
    mine = f'task_queue="{queue}"'

    def value(name: str, *labels: str) -> float:
        lines = [line for line in samples[name] if all(label in line for label in labels)]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    o2p = 'workflow_type="opportunity-to-project"'
    assert value(kpis.DEAD_LETTERS_OPENED, mine, o2p) == 1
    assert value(kpis.DEAD_LETTERS_OPENED, mine, 'workflow_type="hire-to-staff"') == 0
    assert value(kpis.STEPS_STALLED, mine, 'system="erp"') == 1
    assert value(kpis.STEPS_RECOVERED, mine, 'system="erp"') == 1
    kinds = {kind.value for kind in FindingKind}
    found = [line for line in samples[kpis.RECONCILE_FINDINGS] if mine in line]
    assert {re.search(r'kind="(\w+)"', line)[1] for line in found} == kinds  # type: ignore[index]
    assert value(kpis.RECONCILE_LAST_RUN, mine) > datetime.now(UTC).timestamp() - 120
    assert value(kpis.INGRESS_REQUESTS, 'system="crm"', 'status="401"') == 1
