"""`psflow systems check` against the sandbox: everything there, then each kind of problem
reported with its fix and a non-zero exit."""

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from application import system_checks
from application.system_checks import Check
from cli.main import app
from connectors.errors import NotFound
from tests.support import Sandbox, env_for

runner = CliRunner()


def checked(config: Path, **env: str) -> tuple[int, list[dict[str, object]]]:
    result = runner.invoke(app, ["systems", "check", "--json"], env=env_for(config, **env))
    return result.exit_code, json.loads(result.stdout)


def test_every_check_passes_against_the_sandbox(sandbox: Sandbox) -> None:
    code, checks = checked(sandbox.config)

    assert code == 0, [c for c in checks if not c["ok"]]
    names = {(c["system"], c["check"]) for c in checks}
    assert ("CRM", "Opportunity.ERP_Project_Id__c (written)") in names
    assert ("ERP", "read timeBill") in names and ("ERP", "legal entity US01") in names
    assert ("ERP", "invoice.custbody_psflow_status (written)") in names
    assert {"CRM", "ERP", "PSA", "HCM", "policy"} == {c["system"] for c in checks}

    shown = runner.invoke(app, ["systems", "check"], env=env_for(sandbox.config))
    assert "everything psflow needs is there" in shown.stdout


def test_each_problem_names_its_fix_and_fails_the_check(sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "psflow.toml"
    config.write_text(sandbox.config.read_text() + '\n[policy.legal_entities]\nUS01 = "999"\n')
    code, checks = checked(
        config,
        PSFLOW_CRM_API_VERSION="v61.0",
        PSFLOW_ERP_CERTIFICATE_ID="not-registered",
        PSFLOW_HCM_REFRESH_TOKEN="revoked-long-ago",
    )
    problems = {(c["system"], c["check"]): str(c["detail"]) for c in checks if not c["ok"]}

    assert code == 1
    assert "set [crm] api_version to one of v60.0" in problems[("CRM", "API version v61.0")]
    erp = problems[("ERP", "reach and sign in")]
    assert "invalid_client" in erp and "certificate_id" in erp
    assert not [c for c in checks if c["system"] == "ERP" and c["ok"]]  # nothing more asked
    assert "refresh_token" in problems[("HCM", "reach and sign in")]
    assert ("PSA", "reach and sign in") not in problems

    shown = runner.invoke(
        app, ["systems", "check"], env=env_for(config, PSFLOW_HCM_REFRESH_TOKEN="revoked-long-ago")
    )
    assert shown.exit_code == 1 and "check [hcm] client_id" in " ".join(shown.stdout.split())


def test_a_policy_id_the_erp_lacks_is_named_with_its_setting(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = tmp_path / "psflow.toml"
    config.write_text(sandbox.config.read_text() + '\n[policy.legal_entities]\nUS01 = "999"\n')
    code, checks = checked(config)
    problems = {(c["system"], c["check"]): str(c["detail"]) for c in checks if not c["ok"]}

    assert code == 1
    assert problems == {
        ("ERP", "legal entity US01"): "no subsidiary 999 in the ERP: fix [policy] legal_entities"
    }


async def test_a_missing_or_read_only_erp_custom_field_names_what_to_create() -> None:
    schema = {"properties": {"custbody_psflow_period": {"type": "string", "readOnly": True}}}

    async def read(path: str) -> Any:
        if path.endswith("/timeBill"):
            raise NotFound("erp", "Record type 'timeBill' does not exist.", status=404)
        return schema

    found: list[Check] = []
    await system_checks._erp_fields(found, read)
    problems = {c.check: c.detail for c in found if not c.ok}
    assert problems["invoice.custbody_psflow_period (written)"] == (
        "make invoice.custbody_psflow_period editable (not read-only)"
    )
    assert problems["invoice.custbody_psflow_status (written)"].startswith(
        "create the custom field custbody_psflow_status (List/Record"
    )
    assert "give the integration role REST Web Services" in problems["timeBill: describe"]
