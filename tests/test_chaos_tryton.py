"""The chaos harness against Tryton (`python -m chaos --erp tryton`): a small run whose worker's
ERP is a trytond of the run's own, SIGKILLed for the outage, counted by a census that reads
Tryton as its admin; and what a Tryton plan changes in the schedule and the census."""

from dataclasses import replace

import pytest

from chaos.census_tryton import lent, with_erp_ids
from chaos.faults import WRITES, writes_on
from chaos.plan import SMALL, TRYTON, Plan, schedule
from chaos.run import run_chaos
from chaos.sagas import CANCELLABLE_STEPS
from sandbox import catalog
from sandbox.volume import (
    Volume,
    volume_entries,
    volume_expenses,
    volume_projects,
    volume_workers,
)
from tests.test_chaos import assert_every_record_kept

SMALL_ON_TRYTON = replace(SMALL, erp=TRYTON)


async def test_sagas_and_month_end_on_tryton_under_kills_and_a_stopped_erp_keep_records() -> None:
    figures = await run_chaos(SMALL_ON_TRYTON)

    assert (figures.kills.worker, figures.kills.server) == (1, 1)
    assert figures.outage.stopped and figures.outage.refused > 0, "trytond's outage met calls"
    assert {s.system for s in figures.storms} <= {"crm", "psa"}
    assert_every_record_kept(figures)
    assert any("trytond SIGKILLed" in note for note in figures.notes)


# ---- the plan ----------------------------------------------------------------------------


def test_a_tryton_plan_storms_and_loses_answers_only_where_a_sandbox_injects_faults() -> None:
    plan = Plan(storms=12, lost_answers=8, erp=TRYTON, seed=3)
    writes = writes_on(plan.fault_systems)
    drawn = schedule(plan, CANCELLABLE_STEPS, len(writes))

    assert plan.fault_systems == ("crm", "psa")
    assert {s.system for s in drawn.storms} == {"crm", "psa"}
    assert writes and {system for system, _, _ in writes} == {"crm", "psa"}
    assert writes_on(Plan().fault_systems) == WRITES, "NetSuite's plan is unchanged"
    with pytest.raises(ValueError, match="the ERP is one of"):
        Plan(erp="sap")


# ---- the census --------------------------------------------------------------------------


def test_the_tryton_census_leaves_lent_workers_entries_to_the_exception_list() -> None:
    volume = Volume(projects=4, entries=300, period="2026-10", seed=393)
    projects = {p.number: p for p in volume_projects(volume)}
    company = {w.worker_id: w.legal_entity for w in volume_workers(volume)}

    def own_company(entry_worker: str, project_number: int) -> bool:
        account = catalog.ACCOUNTS[projects[project_number].account_index]
        return company[entry_worker] == account[2]

    refused = lent(volume)
    entries = list(volume_entries(volume))
    expenses = list(volume_expenses(volume))
    assert {e.id for e in entries} & refused == {
        e.id for e in entries if not own_company(e.worker_id, e.project_number)
    }
    assert {x.id for x in expenses} & refused == {
        x.id for x in expenses if not own_company(x.worker_id, x.project_number)
    }
    assert 0 < len(refused) < len(entries) + len(expenses)
    ids = {n: str(40 + n) for n in projects}
    assert [p.erp_job_id for p in with_erp_ids(volume, ids)] == ["41", "42", "43", "44"]
