"""`psflow systems check`: what an integration engineer runs before go-live, against the
configured systems (sandbox or real). Each check says what it found, and on a problem what
to do about it; a system psflow cannot sign in to is not asked anything more. A Tryton ERP
(`[erp] kind = "tryton"`) has its own checks, in system_checks_tryton.py."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from application.check_rows import Check, Checks
from application.system_checks_tryton import tryton_checks
from config import ConfigError, Settings
from connectors import systems
from connectors.base import Connector
from connectors.errors import ConnectorError, NotFound

RECORD = "/services/rest/record/v1"
# (object, field, written by psflow, what to create when it is missing)
CRM_FIELDS: list[tuple[str, str, bool, str]] = [
    ("Opportunity", "ERP_Project_Id__c", True, "Text(40)"),
    ("Opportunity", "PSA_Project_Id__c", True, "Text(40)"),
    ("Opportunity", "Invoice_Status__c", True, "Picklist: Draft, Approved, Released, Voided"),
    ("Opportunity", "Last_Invoice_Number__c", True, "Text(40)"),
    ("Opportunity", "Last_Invoice_Amount__c", True, "Currency(16, 2)"),
    ("Opportunity", "Last_Invoiced_Period__c", True, "Text(7)"),
    ("Opportunity", "Rate_Card__c", False, "Text(40)"),
    ("Opportunity", "Legal_Entity__c", False, "Text(10)"),
    ("Opportunity", "Billing_Terms__c", False, "Text(40)"),
    ("Opportunity", "Billing_Type__c", False, "Text(40)"),
    ("Opportunity", "Start_Date__c", False, "Date"),
    ("Account", "Legal_Entity__c", False, "Text(10)"),
    ("Account", "Psflow_External_Id__c", True, "Text(80), External ID, Unique"),
]
ERP_RECORD_TYPES = ("customer", "job", "employee", "timeBill", "expenseReport", "invoice")
# record type -> (custom field psflow writes, its NetSuite field type)
ERP_FIELDS: dict[str, list[tuple[str, str]]] = {
    "customer": [("custentity_psflow_origin", "Free-Form Text")],
    "job": [("custentity_psflow_budget", "Currency")],
    "employee": [("custentity_psflow_origin", "Free-Form Text"),
                 ("custentity_psflow_cost_center", "Free-Form Text")],
    "resourceAllocation": [("custrecord_psflow_cost", "Currency")],
    "timeBill": [(f"custcol_psflow_{n}", "Free-Form Text")
                 for n in ("role", "cost_center", "approver", "source")]
                + [("custcol_psflow_amount", "Currency")],
    "expenseReport": [(f"custcol_psflow_{n}", "Free-Form Text")
                      for n in ("category", "cost_center", "approver", "source")],
    "invoice": [("custbody_psflow_period", "Free-Form Text"),
                ("custbody_psflow_source", "Free-Form Text"),
                ("custbody_psflow_status", "List/Record: draft, approved, released, voided")],
}  # fmt: skip


async def _signed_in(
    found: Checks, system: str, connector: Connector, probe: Callable[[], Awaitable[Any]]
) -> bool:
    """Sign in and make one call; the check, and whether to go on with this system."""
    url = connector.base_url
    try:
        await probe()
    except ConnectorError as exc:
        found.append(Check(system, "reach and sign in", False, exc.message))
        return False
    found.append(Check(system, "reach and sign in", True, f"signed in at {url}"))
    return True


async def _crm(settings: Settings) -> Checks:
    found: Checks = []
    crm = systems.crm(settings)
    version = settings.crm.api_version
    data = f"/services/data/{version}"
    served: list[str] = []

    async def versions() -> None:
        listed = (await crm.request("GET", "/services/data")).json()
        served.extend(f"v{v['version']}" for v in listed)

    try:
        if not await _signed_in(found, "CRM", crm, versions):
            return found
        if version not in served:
            fix = f"set [crm] api_version to one of {', '.join(served)}"
            found.append(Check("CRM", f"API version {version}", False, f"not served: {fix}"))
            return found
        found.append(Check("CRM", f"API version {version}", True, "served"))
        described = {}
        for sobject in ("Opportunity", "Account"):
            try:
                described[sobject] = (
                    await crm.request("GET", f"{data}/sobjects/{sobject}/describe")
                ).json()
            except NotFound:
                fix = f"the integration user cannot see {sobject}: grant read access to it"
                found.append(Check("CRM", f"{sobject}: read and edit", False, fix))
                continue
            info = described[sobject]
            lacking = [r for r in ("queryable", "updateable") if not info.get(r, True)]
            fix = f"grant {' and '.join(lacking)} on {sobject} in the user's permission set"
            found.append(
                Check("CRM", f"{sobject}: read and edit", not lacking,
                      "allowed" if not lacking else fix)
            )  # fmt: skip
        for sobject, name, written, kind in CRM_FIELDS:
            if sobject in described:
                found.append(_crm_field(described[sobject], sobject, name, written, kind))
        daily = (await crm.request("GET", f"{data}/limits")).json().get("DailyApiRequests", {})
        found.append(
            Check("CRM", "daily API requests", daily.get("Remaining", 1) > 0,
                  f"{daily.get('Remaining')} of {daily.get('Max')} left today")
        )  # fmt: skip
    except ConnectorError as exc:
        found.append(Check("CRM", "describe and limits", False, exc.message))
    finally:
        await crm.aclose()
    return found


def _crm_field(
    described: dict[str, Any], sobject: str, name: str, written: bool, kind: str
) -> Check:
    fields = {f["name"]: f for f in described.get("fields", [])}
    what = f"{sobject}.{name}" + (" (written)" if written else " (read)")
    field = fields.get(name)
    if field is None:
        return Check("CRM", what, False, f"create the custom field {name} on {sobject}: {kind}")
    if written and not field.get("updateable"):
        return Check(
            "CRM", what, False,
            f"give the integration user edit access to {sobject}.{name} (field-level security)",
        )  # fmt: skip
    if name == "Psflow_External_Id__c" and not field.get("externalId"):
        return Check("CRM", what, False, f"mark {sobject}.{name} as an External ID")
    return Check("CRM", what, True, "present" + (" and writable" if written else ""))


async def _erp(settings: Settings) -> Checks:
    if settings.erp.kind == "tryton":
        return await tryton_checks(settings)
    found: Checks = []
    erp = systems.netsuite_erp(settings)

    async def read(path: str) -> Any:
        return (await erp.request("GET", f"{RECORD}/{path}")).json()

    try:
        if not await _signed_in(found, "ERP", erp, lambda: read("currency?limit=1")):
            return found
        for record_type in ERP_RECORD_TYPES:
            try:
                await read(f"{record_type}?limit=1")
                found.append(Check("ERP", f"read {record_type}", True, "allowed"))
            except ConnectorError as exc:
                found.append(
                    Check("ERP", f"read {record_type}", False,
                          f"{exc.message}: give the integration role view and edit on it")
                )  # fmt: skip
        await _erp_fields(found, read)
        await _erp_mappings(found, settings, read)
    finally:
        await erp.aclose()
    return found


async def _erp_fields(found: Checks, read: Callable[[str], Awaitable[Any]]) -> None:
    """Each custom field psflow writes, from the metadata catalog's schema of its record."""
    for record_type, wanted in ERP_FIELDS.items():
        try:
            described = (await read(f"metadata-catalog/{record_type}")).get("properties", {})
        except ConnectorError as exc:
            fix = f"{exc.message}: give the integration role REST Web Services and view on it"
            found.append(Check("ERP", f"{record_type}: describe", False, fix))
            continue
        for name, kind in wanted:
            field = described.get(name)
            ok = field is not None and not field.get("readOnly")
            detail = "present and writable" if ok else (
                f"create the custom field {name} ({kind}) applied to {record_type}"
                if field is None else f"make {record_type}.{name} editable (not read-only)"
            )  # fmt: skip
            found.append(Check("ERP", f"{record_type}.{name} (written)", ok, detail))


async def _erp_mappings(
    found: Checks, settings: Settings, read: Callable[[str], Awaitable[Any]]
) -> None:
    """Each id the policy maps to must be a record in the ERP."""
    wanted = [
        (f"legal entity {code}", "subsidiary", erp_id, "[policy] legal_entities")
        for code, erp_id in sorted(settings.policy.legal_entities.items())
    ] + [
        (f"department {code}", "department", erp_id, "[staffing] departments")
        for code, erp_id in sorted(settings.staffing.departments.items())
    ]
    for what, record_type, erp_id, setting in wanted:
        try:
            record = await read(f"{record_type}/{erp_id}")
            name = record.get("name") or record.get("companyName") or erp_id
            found.append(Check("ERP", what, True, f"{record_type} {erp_id} ({name})"))
        except NotFound:
            found.append(
                Check("ERP", what, False,
                      f"no {record_type} {erp_id} in the ERP: fix {setting}")
            )  # fmt: skip
    listed = await read("currency?limit=1000")
    symbols = set()
    for item in listed.get("items", []):
        record = await read(f"currency/{item['id']}")
        symbols.add(record.get("symbol"))
    for currency in sorted(settings.policy.currencies):
        found.append(
            Check("ERP", f"currency {currency}", currency in symbols,
                  "a currency record" if currency in symbols else
                  f"no {currency} currency record: add it in the ERP or remove it from "
                  "[policy] currencies")
        )  # fmt: skip


async def _psa(settings: Settings) -> Checks:
    found: Checks = []
    psa = systems.psa(settings)
    try:
        await _signed_in(found, "PSA", psa, lambda: psa.list_open_staffing_requests())
    finally:
        await psa.aclose()
    return found


async def _hcm(settings: Settings) -> Checks:
    found: Checks = []
    hcm = systems.hcm(settings)
    try:
        if await _signed_in(found, "HCM", hcm, lambda: hcm.list_workers(limit=1, offset=0)):
            found.append(Check("HCM", f"tenant {settings.hcm.tenant}", True, "workers readable"))
    finally:
        await hcm.aclose()
    return found


def _policy(settings: Settings) -> Checks:
    """What the policy maps must agree with itself: each cost center's legal entity is one
    the policy knows."""
    entities = set(settings.policy.legal_entities)
    found: Checks = []
    for center, entity in sorted(settings.billing.cost_centers.items()):
        ok = entity in entities
        detail = f"legal entity {entity}" if ok else (
            f"{entity} is not in [policy] legal_entities: add it or fix [billing] cost_centers"
        )  # fmt: skip
        found.append(Check("policy", f"cost center {center}", ok, detail))
    return found


async def _configured(
    system: str, check: Callable[[Settings], Awaitable[Checks]], settings: Settings
) -> Checks:
    """The system's checks; a setting its connector cannot be built without is the one row."""
    try:
        return await check(settings)
    except ConfigError as exc:
        return [Check(system, "reach and sign in", False, str(exc))]


async def check_systems(settings: Settings) -> Checks:
    """Every check, the systems asked at once."""
    asked = await asyncio.gather(
        *(_configured(system, check, settings)
          for system, check in (("CRM", _crm), ("ERP", _erp), ("PSA", _psa), ("HCM", _hcm)))
    )  # fmt: skip
    return [c for checks in asked for c in checks] + _policy(settings)
