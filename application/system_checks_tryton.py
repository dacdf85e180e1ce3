"""`psflow systems check` for a Tryton ERP (`[erp] kind = "tryton"`): what the NetSuite checks
ask, as Tryton has it. Sign-in as the integration user, psflow's module activated, the user's
rights on each model psflow reads and writes, the cost prices Tryton hides, then every record
the policy names: a company per subsidiary, each currency, payment term and role product."""

from typing import Any

from application.check_rows import Check, Checks
from config import Settings
from connectors import systems
from connectors.errors import AuthenticationFailed, ConnectorError
from connectors.tryton_records import role_product_code, subsidiary_external_id
from connectors.tryton_rpc import TrytonRpc

ERP = "ERP"
MODULE = "psflow"
ACTIVATE = "trytond-admin -c CONF -d DATABASE -u psflow --activate-dependencies"
RIGHTS = ("read", "write", "create", "delete")
# model -> the rights psflow's integration user needs on it
MODEL_RIGHTS: dict[str, tuple[str, ...]] = {
    "party.party": RIGHTS,
    "project.work": RIGHTS,
    "company.employee": RIGHTS[:3],
    "company.employee_cost_price": RIGHTS[:3],
    "psflow.labour_forecast": RIGHTS,
    "timesheet.line": RIGHTS[:3],
    "psflow.expense": RIGHTS[:3],
    "account.invoice": RIGHTS[:3],
    "company.company": RIGHTS[:1],
    "currency.currency": RIGHTS[:1],
    "account.invoice.payment_term": RIGHTS[:1],
    "product.product": RIGHTS[:1],
}
# timesheet_cost shows labour cost to its own administrators alone
HIDDEN_FIELDS = (("company.employee", "cost_price"), ("timesheet.line", "cost_price"))


async def tryton_checks(settings: Settings) -> Checks:
    """The ERP's rows; nothing more is asked of a Tryton psflow cannot sign in to, nor of one
    without psflow's module."""
    found: Checks = []
    erp = systems.tryton_erp(settings)
    try:
        if await _module_ready(found, erp.rpc, settings):
            await _rights(found, erp.rpc)
            await _hidden_fields(found, erp.rpc)
            await _mappings(found, erp.rpc, settings)
    except ConnectorError as exc:
        found.append(Check(ERP, "read the records psflow needs", False, exc.message))
    finally:
        await erp.aclose()
    return found


async def _module_ready(found: Checks, rpc: TrytonRpc, settings: Settings) -> bool:
    """Sign in (the first call does) and find psflow's module activated."""
    try:
        modules = await rpc.model(
            "ir.module", "search_read", [("name", "=", MODULE)], 0, 1, None, ["state"]
        )
    except AuthenticationFailed as exc:
        fix = f"{exc.message}: check [erp] login ({settings.erp.login}) and password"
        found.append(Check(ERP, "reach and sign in", False, fix))
        return False
    except ConnectorError as exc:
        found.append(Check(ERP, "reach and sign in", False, exc.message))
        return False
    found.append(
        Check(ERP, "reach and sign in", True,
              f"signed in at {rpc.base_url} as {settings.erp.login}")
    )  # fmt: skip
    state = modules[0]["state"] if modules else "not installed"
    ok = state == "activated"
    detail = "activated" if ok else f"{state}: activate it in this database ({ACTIVATE})"
    found.append(Check(ERP, f"module {MODULE}", ok, detail))
    return ok


async def _rights(found: Checks, rpc: TrytonRpc) -> None:
    """The user's rights on each model (ir.model.access, as Tryton works them out for it)."""
    for model, needed in MODEL_RIGHTS.items():
        what = f"access {model}"
        try:
            access = (await rpc.model("ir.model.access", "get_access", [model]))[model]
        except ConnectorError:
            fix = f"no model {model} in this database: update psflow's module ({ACTIVATE})"
            found.append(Check(ERP, what, False, fix))
            continue
        lacking = [right for right in needed if not access.get(right)]
        detail = ", ".join(needed) if not lacking else (
            f"give the integration user's group (psflow Integration) {', '.join(lacking)} "
            f"on {model} (ir.model.access)"
        )  # fmt: skip
        found.append(Check(ERP, what, not lacking, detail))


async def _hidden_fields(found: Checks, rpc: TrytonRpc) -> None:
    """Fields psflow reads that Tryton leaves out of a model for a user who may not read them."""
    for model, field in HIDDEN_FIELDS:
        described = await rpc.model(model, "fields_get", [field])
        ok = field in described
        detail = "readable" if ok else (
            f"give the psflow Integration group read on {model}.{field} (ir.model.field.access)"
        )  # fmt: skip
        found.append(Check(ERP, f"{model}.{field} (read)", ok, detail))


async def _mappings(found: Checks, rpc: TrytonRpc, settings: Settings) -> None:
    """Each record the policy names: a company per subsidiary, then each currency, payment
    term and role product."""
    companies = await _companies(rpc)
    for code, subsidiary in sorted(settings.policy.legal_entities.items()):
        company = companies.get(subsidiary_external_id(subsidiary))
        detail = f"company {company}" if company else (
            f"no company whose party has the external id {subsidiary_external_id(subsidiary)} "
            "in the ERP: fix [policy] legal_entities"
        )  # fmt: skip
        found.append(Check(ERP, f"legal entity {code}", company is not None, detail))
    wanted = [
        (f"currency {c}", "currency.currency", "code", c, "a currency record",
         f"no {c} currency record: add it in the ERP or remove it from [policy] currencies")
        for c in sorted(settings.policy.currencies)
    ] + [
        (f"payment term {t}", "account.invoice.payment_term", "name", t, "a payment term",
         f"no payment term '{t}' in the ERP: add it or remove it from [policy] billing_terms")
        for t in settings.policy.billing_terms
    ] + [
        (f"role {r}", "product.product", "code", role_product_code(r),
         f"product {role_product_code(r)}",
         f"no product with code {role_product_code(r)} in the ERP: add a service product for "
         "the role or fix [staffing] roles")
        for r in settings.staffing.roles
    ]  # fmt: skip
    for what, model, field, value, there, fix in wanted:
        count = await rpc.model(model, "search_count", [(field, "=", value)])
        found.append(Check(ERP, what, bool(count), there if count else fix))


async def _companies(rpc: TrytonRpc) -> dict[str, str]:
    """Company party external id -> how the row names the company."""
    rows: list[dict[str, Any]] = await rpc.model(
        "company.company", "search_read", [], 0, None, None,
        ["id", "party.psflow_external_id", "party.name", "currency.code"],
    )  # fmt: skip
    named = {}
    for row in rows:
        party, currency = row.get("party.") or {}, row.get("currency.") or {}
        key = party.get("psflow_external_id")
        if key:
            named[key] = f"{row['id']} ({party.get('name')}, {currency.get('code')})"
    return named
