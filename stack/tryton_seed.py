"""Seed a new Tryton database with what the ERP sandbox starts with (sandbox/erp/seed.py):
a company per legal entity with its currency, chart of accounts and fiscal year, the payment
terms, the customers, projects and employees that predate psflow, a service product per role,
and psflow's restricted integration user.

Run by stack/tryton.py as `python -m stack.tryton_seed CONFIG DATABASE LOGIN PASSWORD`: proteus
runs trytond in this process, so the test process never imports Tryton's global state.
"""

import sys
from datetime import date
from decimal import Decimal
from typing import Any

from proteus import Model, Wizard
from proteus import config as proteus_config

from connectors.tryton_records import (
    BILLING_METHODS,
    EXPENSE_PRODUCT,
    KEY,
    MILESTONE_PRODUCT,
    person_external_id,
    role_product_code,
    subsidiary_external_id,
)
from sandbox import catalog
from sandbox.erp import seed as erp_seed

FISCAL_YEARS = (2025, 2026, 2027)
COST_SINCE = date(2020, 1, 1)
RATE_CARD = "STD-USD-2026"  # the products' list price; other currencies need price lists


def _model_id(module: str, xml_id: str, context: dict[str, Any]) -> int:
    return int(Model.get("ir.model.data").get_id(module, xml_id, context))


def upsert(model: str, values: dict[str, Any], context: dict[str, Any]) -> int:
    """psflow's own upsert (proteus leaves readonly fields such as the external id out)."""
    proxy = Model.get(model)._proxy  # noqa: SLF001 - proteus calls any RPC method so
    ids: list[int] = proxy.psflow_upsert([values], context)
    return ids[0]


def seed_companies(config: Any) -> dict[str, Any]:
    """A company per legal entity, the first through Tryton's company wizard."""
    from trytond.modules.currency.tests.tools import get_currency

    Party, Company, User = (Model.get(m) for m in ("party.party", "company.company", "res.user"))
    companies: dict[str, Any] = {}
    for entity, (sub_id, name, currency) in catalog.LEGAL_ENTITIES.items():
        key = subsidiary_external_id(sub_id)
        party = Party(upsert("party.party", {KEY: key, "name": name}, config.context))
        if not companies:
            wizard = Wizard("company.company.config")
            wizard.execute("company")
            wizard.form.party = party
            wizard.form.currency = get_currency(currency)
            wizard.execute("add")
            companies[entity] = Company.find([("party", "=", party.id)])[0]
        else:
            company = Company(party=party, currency=get_currency(currency))
            company.save()
            companies[entity] = company
    admin = User(config.user)
    admin.companies.extend([Company(c.id) for c in companies.values() if c not in admin.companies])
    admin.company_filter = "all"  # record rules see every company's records
    admin.save()
    config._context = User.get_preferences(True, {})  # noqa: SLF001 - as Tryton's tools do
    return companies


def seed_accounting(config: Any, company: Any) -> None:
    """Tryton's universal chart of accounts and calendar fiscal years with their periods."""
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear
    from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences

    with config.set_context(company=company.id):
        create_chart(company)
        for year in FISCAL_YEARS:
            span = (date(year, 1, 1), date(year, 12, 31))
            fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company, span))
            fiscalyear.name = str(year)
            fiscalyear.click("create_period")


def seed_payment_terms() -> dict[str, Any]:
    Term = Model.get("account.invoice.payment_term")
    terms: dict[str, Any] = {}
    for name in catalog.BILLING_TERMS:
        term = Term(name=name)
        line = term.lines.new(type="remainder")
        line.relativedeltas.new(days=int(name.split()[-1]))
        term.save()
        terms[name] = term
    return terms


def seed_customers(config: Any, companies: dict[str, Any], terms: dict[str, Any]) -> None:
    """The customers and their projects, as the sandbox has them."""
    Party, Work = Model.get("party.party"), Model.get("project.work")
    customers: list[tuple[str | None, str, str, str]] = [
        (catalog.customer_external_id(catalog.account_id(index)), name, entity, "Net 30")
        for index in catalog.PREEXISTING_CUSTOMERS
        for name, _, entity in [catalog.ACCOUNTS[index]]
    ]
    customers += erp_seed.OTHER_CUSTOMERS
    parties: dict[str, tuple[Any, str]] = {}
    for key, name, entity, term in customers:
        with config.set_context(company=companies[entity].id):
            party = Party(name=name, customer_payment_term=terms[term])
            party.save()
            if key:
                Party.write([party.id], {KEY: key}, config.context)
        parties[name] = (party, entity)
    for key, name, customer, billing, budget in erp_seed.EXISTING_JOBS:
        party, entity = parties[customer]
        billing_type = "Time and Materials" if billing == "TM" else "Fixed Fee"
        with config.set_context(company=companies[entity].id):
            work = Work(
                name=name,
                type="project",
                company=companies[entity],
                party=party,
                psflow_budget=Decimal(budget),
                project_invoice_method=BILLING_METHODS[billing_type],
            )
            work.save()
            if key:
                Work.write([work.id], {KEY: key}, config.context)


def seed_employees(config: Any, companies: dict[str, Any]) -> None:
    """The employees with their labour cost (cost price) and cost center."""
    Party, Employee = Model.get("party.party"), Model.get("company.employee")
    for row in erp_seed.EXISTING_EMPLOYEES:
        key, first, last, _, entity, _, cost_center, cost, inactive = row
        with config.set_context(company=companies[entity].id):
            person = Party(name=f"{first} {last}")
            person.save()
            employee = Employee(
                party=person,
                company=companies[entity],
                psflow_cost_center=cost_center,
                start_date=COST_SINCE,
                end_date=date(2025, 12, 31) if inactive else None,
            )
            employee.cost_prices.new(date=COST_SINCE, cost_price=Decimal(cost))
            employee.save()
            if key:
                Party.write([person.id], {KEY: person_external_id(key)}, config.context)
                Employee.write([employee.id], {KEY: key}, config.context)


def seed_revenue_category(config: Any, companies: dict[str, Any]) -> Any:
    """The accounting category psflow's products invoice through: each company's revenue."""
    from trytond.modules.account.tests.tools import get_accounts

    Category = Model.get("product.category")
    category = Category(name="Professional services", accounting=True)
    category.save()
    for company in companies.values():
        with config.set_context(company=company.id):
            category = Category(category.id)
            category.account_revenue = get_accounts(company)["revenue"]
            category.save()
    return category


def seed_products(config: Any, company: Any, category: Any) -> None:
    """A service product per role, priced at the rate card's hourly rate, and the products
    fixed-fee milestones and rebilled expenses are invoiced with."""
    Template = Model.get("product.template")
    hour = Model.get("product.uom")(_model_id("product", "uom_hour", config.context))
    unit = Model.get("product.uom")(_model_id("product", "uom_unit", config.context))
    _, _, rates = catalog.RATE_CARDS[RATE_CARD]
    products = [(role, role_product_code(role), hour, rate) for role, rate in rates.items()]
    products += [
        ("Fixed-fee milestone", MILESTONE_PRODUCT, unit, Decimal(0)),
        ("Rebilled expenses", EXPENSE_PRODUCT, unit, Decimal(0)),
    ]
    with config.set_context(company=company.id):
        for name, code, uom, price in products:
            template = Template(name=name, type="service", default_uom=uom, list_price=price)
            template.account_category = category
            template.code = code
            template.save()


def seed_integration_user(config: Any, companies: dict[str, Any], login: str, pw: str) -> None:
    """psflow's restricted user: its module's group only, every company."""
    User, Group = Model.get("res.user"), Model.get("res.group")
    group = Group(_model_id("psflow", "group_psflow_integration", config.context))
    user = User(name="psflow integration", login=login, password=pw)
    user.groups.append(group)
    user.companies.extend(Model.get("company.company")(c.id) for c in companies.values())
    user.company = Model.get("company.company")(companies["US01"].id)
    user.company_filter = "all"
    user.save()


def main(config_file: str, database: str, login: str, password: str) -> None:
    """Seed `database` (created with psflow's module) as Tryton's admin."""
    config = proteus_config.set_trytond(database, config_file=config_file)
    companies = seed_companies(config)
    for company in companies.values():
        seed_accounting(config, company)
    terms = seed_payment_terms()
    seed_customers(config, companies, terms)
    seed_employees(config, companies)
    seed_products(config, companies["US01"], seed_revenue_category(config, companies))
    seed_integration_user(config, companies, login, password)


if __name__ == "__main__":
    main(*sys.argv[1:5])
