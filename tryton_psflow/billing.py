"""Time-to-bill in Tryton: approved time as timesheet lines, billable expenses, and the
project's invoice drafted, approved, released and voided by psflow's external id.

A posting batch is checked row by row before anything is written, so one refused row (an
inactive employee, an unknown project, time already invoiced) comes back as failed and does
not stop the others; the rest are written in the call's one transaction.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from .external_id import KEY, ExternalIdMixin

ROLE_PRODUCT = "ROLE-{}"
MILESTONE_PRODUCT = "PSFLOW-MILESTONE"
EXPENSE_PRODUCT = "PSFLOW-EXPENSE"
# psflow's invoice status from Tryton's invoice state
STATUS = {
    "draft": "draft",
    "validated": "approved",
    "posted": "released",
    "paid": "released",
    "cancelled": "voided",
}
MOVES = {
    ("draft", "approved"),
    ("approved", "released"),
    ("draft", "voided"),
    ("approved", "voided"),
    ("released", "voided"),  # a credit note
}
CENT = Decimal("0.01")


def role_product_code(role: str) -> str:
    return ROLE_PRODUCT.format(role.upper().replace(" ", "-"))


def _result(key: str, record_id: int | None, outcome: str, message: str = "") -> dict[str, Any]:
    return {"external_id": key, "id": record_id, "outcome": outcome, "message": message}


class PostingMixin:
    """What a timesheet line and an expense share: who posted it and why, and `psflow_post`."""

    __slots__ = ()
    psflow_cost_center = fields.Char("psflow Cost Center", readonly=True)
    psflow_approver = fields.Char("psflow Approver", readonly=True)
    psflow_source = fields.Char("psflow Source", readonly=True, help="The workflow's id.")
    psflow_billable = fields.Boolean("psflow Billable", readonly=True)

    @classmethod
    def __setup__(cls) -> None:
        super().__setup__()  # type: ignore[misc]
        cls.__rpc__.update({"psflow_post": RPC(readonly=False, result=list)})  # type: ignore[attr-defined]

    @classmethod
    def psflow_post(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Upsert each row by its external id: {external_id, id, outcome (created, updated,
        failed), message} each, in order."""
        pool = Pool()
        Work, Employee = pool.get("project.work"), pool.get("company.employee")
        with Transaction().set_context(active_test=False):
            projects = {w.id: w for w in Work.browse(Work.search([
                ("id", "in", list({r.get("project") or 0 for r in rows})),
                ("type", "=", "project"),
            ]))}  # fmt: skip
            people = {e.id: e for e in Employee.browse(
                Employee.search([("id", "in", list({r.get("employee") or 0 for r in rows}))])
            )}  # fmt: skip
            found = {
                r.psflow_external_id: r
                for r in cls.search([(KEY, "in", [r.get(KEY) for r in rows])])  # type: ignore[attr-defined]
            }
        cls._psflow_prepare(list(projects.values()))
        projects = {w.id: w for w in Work.browse(list(projects))}
        results: list[dict[str, Any]] = []
        to_create: dict[str, dict[str, Any]] = {}  # a key twice in a batch: the last wins
        to_write: list[Any] = []
        for row in rows:
            key = row.get(KEY) or ""
            existing = found.get(key)
            problem = cls._psflow_problem(row, projects, people, existing)
            if problem:
                results.append(_result(key, None, "failed", problem))
                continue
            values = cls._psflow_values(row, projects[row["project"]])
            if existing is not None:
                to_write += [[existing], values]
                results.append(_result(key, existing.id, "updated"))
            else:
                to_create[key] = values
                results.append(_result(key, None, "created"))
        with without_check_access():
            created = cls.create(list(to_create.values())) if to_create else []  # type: ignore[attr-defined]
            if to_write:
                cls.write(*to_write)  # type: ignore[attr-defined]
        ids = {r.psflow_external_id: r.id for r in created}
        for result in results:
            if result["outcome"] == "created":
                result["id"] = ids[result["external_id"]]
        return results

    @classmethod
    def _psflow_problem(
        cls, row: dict[str, Any], projects: dict[int, Any], people: dict[int, Any], existing: Any
    ) -> str:
        """Why the row cannot be posted, or ""."""
        project = projects.get(row.get("project") or 0)
        employee = people.get(row.get("employee") or 0)
        date = row.get("date")
        if not row.get(KEY):
            return str(gettext("psflow.msg_external_id_missing"))
        if project is None:
            return f"no project {row.get('project')} in Tryton"
        if employee is None:
            return f"no employee {row.get('employee')} in Tryton"
        if employee.company != project.company:
            return (
                f"employee {employee.rec_name} is in company {employee.company.rec_name}, "
                f"project {project.rec_name} in {project.company.rec_name}"
            )
        if not isinstance(date, dt.date):
            return "the posting has no date"
        if (employee.start_date and date < employee.start_date) or (
            employee.end_date and date > employee.end_date
        ):
            return f"employee {employee.rec_name} is not employed on {date.isoformat()}"
        if existing is not None and existing.invoice_line:
            return f"already on invoice {existing.invoice_line.invoice.rec_name}"
        return ""

    @classmethod
    def _psflow_prepare(cls, projects: list[Any]) -> None:
        """Make ready what the rows are written to."""

    if TYPE_CHECKING:

        @classmethod
        def _psflow_values(cls, row: dict[str, Any], project: Any) -> dict[str, Any]:
            """The record's values for a checked row (each model its own)."""
            ...


class TimesheetLine(PostingMixin, ExternalIdMixin, metaclass=PoolMeta):  # type: ignore[metaclass]
    """A time entry: the hours on the project's timesheet work, its role and bill rate."""

    __name__ = "timesheet.line"
    psflow_role = fields.Char("psflow Role", readonly=True)
    psflow_rate = fields.Numeric("psflow Rate", digits=(16, 2), readonly=True)
    psflow_amount = fields.Numeric(
        "psflow Amount", digits=(16, 2), readonly=True, help="Hours x rate, to the cent."
    )

    @classmethod
    def _psflow_prepare(cls, projects: list[Any]) -> None:
        """A project takes time on its timesheet work, made here if it has none."""
        bare = [p for p in projects if not p.timesheet_works]
        if bare:
            with without_check_access():
                Pool().get("project.work").write(bare, {"timesheet_available": True})

    @classmethod
    def _psflow_values(cls, row: dict[str, Any], project: Any) -> dict[str, Any]:
        hours = Decimal(str(row["hours"]))
        return {
            KEY: row[KEY],
            "company": project.company.id,
            "work": project.timesheet_works[0].id,
            "employee": row["employee"],
            "date": row["date"],
            "duration": dt.timedelta(seconds=float(hours * 3600)),
            "description": row.get("description") or "",
            "psflow_role": row.get("role") or "",
            "psflow_rate": row.get("rate"),
            "psflow_amount": row.get("amount") or Decimal(0),
            "psflow_billable": bool(row.get("billable")),
            "psflow_cost_center": row.get("cost_center") or "",
            "psflow_approver": row.get("approver") or "",
            "psflow_source": row.get("source") or "",
        }


class Expense(PostingMixin, ExternalIdMixin, ModelSQL, ModelView):  # type: ignore[misc]
    """An approved expense to bill on to the customer (Tryton has no expense record; the
    employee's reimbursement is payroll's, not psflow's)."""

    __name__ = "psflow.expense"
    company = fields.Many2One("company.company", "Company", required=True, readonly=True)
    work = fields.Many2One(
        "project.work", "Project", required=True, readonly=True, ondelete="RESTRICT"
    )
    employee = fields.Many2One(
        "company.employee", "Employee", required=True, readonly=True, ondelete="RESTRICT"
    )
    date = fields.Date("Date", required=True, readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), required=True, readonly=True)
    currency = fields.Many2One("currency.currency", "Currency", required=True, readonly=True)
    category = fields.Char("Category", readonly=True)
    description = fields.Char("Description", readonly=True)
    invoice_line = fields.Many2One(
        "account.invoice.line", "Invoice Line", readonly=True, ondelete="SET NULL"
    )

    @classmethod
    def _psflow_problem(
        cls, row: dict[str, Any], projects: dict[int, Any], people: dict[int, Any], existing: Any
    ) -> str:
        problem = super()._psflow_problem(row, projects, people, existing)
        if problem:
            return problem
        kept = projects[row["project"]].company.currency
        if row.get("currency") != kept.code:
            return (
                f"the expense is in {row.get('currency')}; Tryton bills project "
                f"{projects[row['project']].rec_name} in its company's currency, {kept.code}"
            )
        return ""

    @classmethod
    def _psflow_values(cls, row: dict[str, Any], project: Any) -> dict[str, Any]:
        return {
            KEY: row[KEY],
            "company": project.company.id,
            "work": project.id,
            "employee": row["employee"],
            "date": row["date"],
            "amount": Decimal(str(row["amount"])),
            "currency": project.company.currency.id,
            "category": row.get("category") or "",
            "description": row.get("description") or "",
            "psflow_billable": bool(row.get("billable")),
            "psflow_cost_center": row.get("cost_center") or "",
            "psflow_approver": row.get("approver") or "",
            "psflow_source": row.get("source") or "",
        }


class InvoiceLine(metaclass=PoolMeta):  # type: ignore[metaclass]
    """An invoice line psflow drafted: what it bills (time, a milestone or expenses)."""

    __name__ = "account.invoice.line"
    psflow_kind = fields.Char("psflow Kind", readonly=True)
    psflow_role = fields.Char("psflow Role", readonly=True)
    psflow_milestone = fields.Char("psflow Milestone", readonly=True)


class Invoice(ExternalIdMixin, metaclass=PoolMeta):  # type: ignore[metaclass]
    """A customer invoice psflow drafted for a project's period."""

    __name__ = "account.invoice"
    psflow_project = fields.Many2One("project.work", "psflow Project", readonly=True)
    psflow_period = fields.Char("psflow Period", readonly=True)
    psflow_source = fields.Char("psflow Source", readonly=True)
    psflow_status = fields.Function(fields.Char("psflow Status"), "get_psflow_status")
    psflow_time_count = fields.Function(fields.Integer("Time Entries"), "get_psflow_counts")
    psflow_expense_count = fields.Function(fields.Integer("Expenses"), "get_psflow_counts")
    psflow_approvers = fields.Function(fields.Char("Approvers"), "get_psflow_counts")

    @classmethod
    def __setup__(cls) -> None:
        super().__setup__()
        cls.__rpc__.update({
            "psflow_draft": RPC(readonly=False),
            "psflow_move": RPC(readonly=False),
        })  # fmt: skip

    def get_psflow_status(self, name: str) -> str:
        return STATUS[self.state]  # type: ignore[attr-defined]

    @classmethod
    def get_psflow_counts(cls, invoices: list[Any], names: list[str]) -> dict[str, dict[int, Any]]:
        pool = Pool()
        TimesheetLine, Expense = pool.get("timesheet.line"), pool.get("psflow.expense")
        line_of = {line.id: i.id for i in invoices for line in i.lines}
        time: dict[int, int] = defaultdict(int)
        expenses: dict[int, int] = defaultdict(int)
        approvers: dict[int, set[str]] = defaultdict(set)
        with without_check_access():
            for model, counts in ((TimesheetLine, time), (Expense, expenses)):
                for record in model.search([("invoice_line", "in", list(line_of))]):
                    invoice_id = line_of[record.invoice_line.id]
                    counts[invoice_id] += 1
                    if record.psflow_approver:
                        approvers[invoice_id].add(record.psflow_approver)
        values: dict[str, dict[int, Any]] = {
            "psflow_time_count": {i.id: time[i.id] for i in invoices},
            "psflow_expense_count": {i.id: expenses[i.id] for i in invoices},
            "psflow_approvers": {i.id: ",".join(sorted(approvers[i.id])) for i in invoices},
        }
        return {name: values[name] for name in names}

    @classmethod
    def psflow_draft(cls, values: dict[str, Any]) -> int | None:
        """Draft the invoice `values[KEY]` for the project's unbilled billable time and
        expenses dated in the period and the milestones given; its id. The live invoice with
        that external id is answered as it is; a voided one gives the id up. None when there
        is nothing to bill."""
        key, period = values.get(KEY), values.get("period") or ""
        if not key:
            raise UserError(gettext("psflow.msg_external_id_missing"))
        with Transaction().set_context(active_test=False):
            existing = cls.search([(KEY, "=", key)])
        if existing and existing[0].state != "cancelled":
            return int(existing[0].id)
        with without_check_access():
            if existing:
                cls.write(existing, {KEY: f"{key}-void-{existing[0].id}"})
            return cls._psflow_create(key, period, values)

    @classmethod
    def _psflow_create(cls, key: str, period: str, values: dict[str, Any]) -> int | None:
        pool = Pool()
        Work = pool.get("project.work")
        TimesheetLine, Expense = pool.get("timesheet.line"), pool.get("psflow.expense")
        projects = Work.search([("id", "=", values.get("project") or 0), ("type", "=", "project")])
        if not projects:
            raise UserError(gettext("psflow.msg_no_project", project=values.get("project")))
        project = projects[0]
        first, last = _period_bounds(period)
        in_period = [("date", ">=", first), ("date", "<=", last), ("invoice_line", "=", None)]
        time = TimesheetLine.search([
            ("work", "in", [w.id for w in project.timesheet_works]),
            ("psflow_billable", "=", True), ("psflow_rate", "!=", None), *in_period,
        ])  # fmt: skip
        expenses = Expense.search([("work", "=", project.id), ("psflow_billable", "=", True),
                                   *in_period])  # fmt: skip
        milestones = cls._psflow_unbilled_milestones(project, values.get("milestones") or [])
        if not (time or expenses or milestones):
            return None
        with Transaction().set_context(company=project.company.id):
            invoice = cls._psflow_invoice(project, key, period, values.get("source") or "")
            invoice.save()
            groups: dict[tuple[str, Decimal], list[Any]] = defaultdict(list)
            for line in time:
                groups[line.psflow_role, line.psflow_rate].append(line)
            for (role, rate), lines in sorted(groups.items()):
                hours = sum((Decimal(str(t.hours)) for t in lines), Decimal(0))
                text = f"{role} at {rate:.2f} an hour"
                code = role_product_code(role)
                made = cls._psflow_line(invoice, code, float(hours), rate, text, "time", role=role)
                TimesheetLine.write(lines, {"invoice_line": made.id})
            for milestone in milestones:
                amount = Decimal(str(milestone["amount"]))
                cls._psflow_line(invoice, MILESTONE_PRODUCT, 1.0, amount,
                                 milestone.get("name") or milestone["id"], "milestone",
                                 milestone=milestone["id"])  # fmt: skip
            categories: dict[str, list[Any]] = defaultdict(list)
            for expense in expenses:
                categories[expense.category or "Expenses"].append(expense)
            for category, group in sorted(categories.items()):
                total = sum((e.amount for e in group), Decimal(0))
                made = cls._psflow_line(invoice, EXPENSE_PRODUCT, 1.0, total,
                                        f"{category} ({len(group)})", "expense")  # fmt: skip
                Expense.write(group, {"invoice_line": made.id})
            cls.update_taxes([invoice])
        return int(invoice.id)

    @classmethod
    def _psflow_invoice(cls, project: Any, key: str, period: str, source: str) -> Any:
        """The invoice, dated by Tryton when it is posted (the period is on it as psflow's)."""
        pool = Pool()
        Journal = pool.get("account.journal")
        party = project.party
        if party is None:
            raise UserError(
                gettext("psflow.msg_project_without_customer", project=project.rec_name)
            )
        journals = Journal.search([("type", "=", "revenue")], limit=1)
        address = party.address_get(type="invoice")
        if address is None:  # as Tryton's client gives every new party an address
            (address,) = pool.get("party.address").create([{"party": party.id}])
        return pool.get("account.invoice")(
            company=project.company,
            type="out",
            journal=journals[0] if journals else None,
            party=party,
            invoice_address=address,
            currency=project.company.currency,
            account=party.account_receivable_used,
            payment_term=party.customer_payment_term,
            description=f"{project.name} {period}",
            psflow_external_id=key,
            psflow_project=project,
            psflow_period=period,
            psflow_source=source,
        )

    @classmethod
    def _psflow_line(
        cls, invoice: Any, code: str, quantity: float, price: Decimal, text: str, kind: str,
        *, role: str = "", milestone: str = "",
    ) -> Any:  # fmt: skip
        pool = Pool()
        Product, InvoiceLine = pool.get("product.product"), pool.get("account.invoice.line")
        products = Product.search([("code", "=", code)], limit=1)
        if not products:
            raise UserError(gettext("psflow.msg_no_product", code=code))
        line = InvoiceLine(invoice=invoice, type="line")
        line.on_change_invoice()
        line.product = products[0]
        line.on_change_product()
        line.quantity = quantity
        line.unit_price = Decimal(price).quantize(CENT)
        line.description = text
        line.psflow_kind, line.psflow_role, line.psflow_milestone = kind, role, milestone
        line.save()
        return line

    @classmethod
    def _psflow_unbilled_milestones(cls, project: Any, milestones: list[Any]) -> list[Any]:
        """The milestones given less those on a live invoice of the project."""
        InvoiceLine = Pool().get("account.invoice.line")
        ids = [m["id"] for m in milestones if isinstance(m, dict) and m.get("id")]
        billed = {
            line.psflow_milestone
            for line in InvoiceLine.search([
                ("psflow_milestone", "in", ids),
                ("invoice.psflow_project", "=", project.id),
                ("invoice.state", "!=", "cancelled"),
            ])
        }  # fmt: skip
        fresh = []
        for milestone in milestones:
            if milestone.get("id") in ids and milestone["id"] not in billed:
                billed.add(milestone["id"])
                fresh.append(milestone)
        return fresh

    @classmethod
    def psflow_move(cls, key: str, status: str) -> str | None:
        """Move the invoice to psflow's `status` (approved: validated, released: posted,
        voided: cancelled, by a credit note once posted) and answer its number ("" until it
        is posted: Tryton numbers an invoice when it posts it); None when there is no such
        invoice. The same status again changes nothing."""
        with Transaction().set_context(active_test=False):
            found = cls.search([(KEY, "=", key)])
        if not found:
            return None
        invoice = found[0]
        current = STATUS[invoice.state]
        if current == status:
            return str(invoice.number or "")
        if (current, status) not in MOVES:
            raise UserError(gettext(
                "psflow.msg_invoice_move", invoice=invoice.rec_name, status=current, wanted=status
            ))  # fmt: skip
        if status == "released" or current == "released":
            cls._psflow_lock_for_posting()
        with without_check_access():
            if status == "approved":
                cls.validate_invoice([invoice])
            elif status == "released":
                cls.post([invoice])
            elif current == "released":
                cls.credit([invoice], refund=True)
            else:
                cls.cancel([invoice])
                cls._psflow_free([invoice])
        return str(Pool().get("account.invoice")(invoice.id).number or "")

    @classmethod
    def _psflow_lock_for_posting(cls) -> None:
        """Take the locks posting takes, before anything is written: Tryton restarts the
        transaction to take a lock it asks for late, and on SQLite writes made before such a
        restart were seen to stay (a second accounting move for one invoice)."""
        pool = Pool()
        transaction = Transaction()
        for name in ("ir.sequence", "ir.sequence.strict", "account.journal.period"):
            transaction.lock_table(pool.get(name)._table)  # noqa: SLF001 - how Tryton locks

    @classmethod
    def _psflow_free(cls, invoices: list[Any]) -> None:
        """A voided draft's time and expenses go back to unbilled, for the next invoice."""
        pool = Pool()
        lines = [line.id for invoice in invoices for line in invoice.lines]
        for name in ("timesheet.line", "psflow.expense"):
            Model = pool.get(name)
            billed = Model.search([("invoice_line", "in", lines)])
            if billed:
                Model.write(billed, {"invoice_line": None})


def _period_bounds(period: str) -> tuple[dt.date, dt.date]:
    try:
        year, month = (int(part) for part in period.split("-"))
        first = dt.date(year, month, 1)
    except ValueError:
        raise UserError(gettext("psflow.msg_bad_period", period=period)) from None
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)
