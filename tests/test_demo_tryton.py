"""The demo's Tryton chapter on a sandbox of its own: a month closed with Tryton as the ERP,
its invoices read back from Tryton."""

import re
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.demo import Demo
from cli.demo_tryton import VOLUME, month_end_in_tryton
from sandbox.volume import volume_projects
from tests.support import client_in, own_sandbox
from tests.tryton_support import DATA_DIR, tryton_template_seconds

__all__ = ["tryton_template_seconds"]  # the fixture this module uses


async def test_the_month_end_chapter_releases_invoices_numbered_by_tryton(
    tmp_path: Path,
    temporal_env: WorkflowEnvironment,
    tryton_template_seconds: float,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with own_sandbox(tmp_path, temporal_env) as box:
        client = await client_in(temporal_env, box.settings.temporal.namespace)
        demo = Demo(client, box.settings)
        try:
            await month_end_in_tryton(demo, 9, DATA_DIR)
        finally:
            demo.close()
    out = capsys.readouterr().out
    assert "9. The same month-end, with Tryton as the ERP" in out
    assert f"$ psflow start month-end {VOLUME.period} --as fatima" in out
    rows = re.findall(r"(PRJ-V\d{5})\s+(\S+)\s+released\s+([\d,]+\.\d\d) (\w{3})", out)
    invoiced = {row[0] for row in rows}
    assert invoiced and invoiced <= {p.psa_id for p in volume_projects(VOLUME)}
    numbers = [(row[1], row[3]) for row in rows]
    assert len(set(numbers)) == len(numbers)  # each company's own sequence, one number each
    assert f"{len(rows)} invoices posted in Tryton, numbered by Tryton" in out
    assert "refused by the ERP" in out  # time lent across companies, which Tryton refuses
