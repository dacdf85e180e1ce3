"""The ERP connector for Tryton 8.0 over JSON-RPC: the same methods and models as the NetSuite
ErpConnector (connectors/erp.py) for customers, projects and employees.

Records are found by psflow's external id (the `psflow` Tryton module, tryton_psflow/) and
written with its `psflow_upsert`, so a retried activity writes the same record again. A
NetSuite subsidiary is a Tryton company (its party's external id is `subsidiary-<id>`);
amounts on projects and employees are in the company's currency, so another currency is
refused before sending. Time, expenses and invoices are in connectors.tryton_billing, the
reads over many records in connectors.tryton_reads.
"""

import logging
from decimal import Decimal
from typing import Any, Literal

import httpx

from connectors.errors import NotFound, RecordInUse, RequestRejected
from connectors.tryton_billing import TrytonBillingMixin, internal_id
from connectors.tryton_employees import TrytonEmployeesMixin
from connectors.tryton_forecasts import TrytonForecastsMixin
from connectors.tryton_reads import TrytonReadsMixin
from connectors.tryton_records import (
    CUSTOMER_FIELDS,
    KEY,
    PROJECT_FIELDS,
    customer_from_record,
    customer_values,
    project_from_record,
    project_values,
)
from connectors.tryton_rpc import TrytonRpc
from models.erp import ErpCustomer, ErpCustomerInput, ErpProject, ErpProjectInput

logger = logging.getLogger(__name__)
ProjectRemoval = Literal["deleted", "closed", "gone"]


class TrytonErpConnector(
    TrytonEmployeesMixin, TrytonForecastsMixin, TrytonBillingMixin, TrytonReadsMixin
):
    """What psflow asks of an ERP (connectors.erp_port.Erp), in Tryton."""

    def __init__(self, rpc: TrytonRpc) -> None:
        self.rpc = rpc
        self.system = rpc.system
        # subsidiary id -> (company id, currency code), read once
        self._companies: dict[str, tuple[int, str]] = {}

    @classmethod
    def build(
        cls,
        url: str,
        login: str,
        password: str,
        *,
        timeout_seconds: float = 30.0,
        concurrency: int = 5,
    ) -> "TrytonErpConnector":
        """A connector with its own client for the database URL `http://host:port/<database>/rpc/`,
        sending at most `concurrency` calls at once (1 for a trytond on SQLite, which reads
        outside its write transaction: concurrent creates draw the same sequence number)."""
        client = httpx.AsyncClient(base_url=url, timeout=timeout_seconds)
        return cls(TrytonRpc(client, login, password, concurrency))

    async def aclose(self) -> None:
        await self.rpc.aclose()

    # ------------------------------------------------------------ customers

    async def get_customer(self, external_id: str) -> ErpCustomer | None:
        """The customer (party) with this external id, or None when there is none."""
        record = await self._find("party.party", external_id, CUSTOMER_FIELDS)
        return customer_from_record(record) if record is not None else None

    async def upsert_customer(self, data: ErpCustomerInput) -> ErpCustomer:
        """Create or update the party with `data.external_id`; its payment term is set for
        the subsidiary's company. The origin is written only on create, as in NetSuite."""
        company_id, _ = await self._company(data.subsidiary_id)
        await self._check_currency_exists(data.currency)
        term_id = await self._term_id(data.terms)
        values = customer_values(data, term_id)
        await self.rpc.model("party.party", "psflow_upsert", [values], company=company_id)
        return customer_from_record(await self._read_back("party.party", data.external_id))

    async def delete_customer(self, external_id: str) -> bool:
        """Delete the party; False when it was already gone.

        A party that projects still name is RecordInUse, as in NetSuite: Tryton itself would
        delete it and leave its projects without a party (project.work.party is SET NULL).
        """
        record = await self._find("party.party", external_id, ["id"])
        if record is None:
            return False
        users = await self.rpc.model(
            "project.work", "search_count", [("party", "=", record["id"])], active_test=False
        )
        if users:
            raise RecordInUse(
                self.system, f"customer {external_id} has {users} project(s)", status=400
            )
        await self.rpc.model("party.party", "delete", [record["id"]])
        return True

    # ------------------------------------------------------------ projects

    async def get_project(self, external_id: str) -> ErpProject | None:
        """The project (project.work of type project) with this external id, or None."""
        record = await self._find("project.work", external_id, PROJECT_FIELDS)
        return await self._project(record) if record is not None else None

    async def upsert_project(self, data: ErpProjectInput) -> ErpProject:
        """Create or update the project with `data.external_id` for the customer (party id)
        `customer_id`, in the subsidiary's company and its currency."""
        company_id = await self._company_in(data.subsidiary_id, data.currency, "the budget")
        if not (data.customer_id.isascii() and data.customer_id.isdigit()):
            raise RequestRejected(
                self.system, f"no customer {data.customer_id!r}", fields=["customer_id"]
            )
        values = project_values(data, int(data.customer_id), company_id)
        await self.rpc.model("project.work", "psflow_upsert", [values], company=company_id)
        return await self._project(await self._read_back("project.work", data.external_id))

    async def delete_project(self, external_id: str) -> bool:
        """Delete the project; False when it was already gone. A project with time on it
        cannot be deleted in Tryton: it is closed (status Done) instead, and logged so."""
        outcome = await self.close_or_delete_project(external_id)
        if outcome == "closed":
            logger.warning("Tryton project %s has time on it: closed, not deleted", external_id)
        return outcome != "gone"

    async def close_or_delete_project(self, external_id: str) -> ProjectRemoval:
        """Delete the project, or close it (status Done) when timesheet lines point at it."""
        record = await self._find("project.work", external_id, PROJECT_FIELDS)
        if record is None:
            return "gone"
        works = record.get("timesheet_works") or []
        lines = await self.rpc.model("timesheet.line", "search_count", [("work", "in", works)])
        if not lines:
            await self.rpc.model("project.work", "delete", [record["id"]])
            return "deleted"
        done = await self.rpc.model(
            "project.work.status", "search", [("progress", "=", 1)], 0, 1, None
        )
        # Tryton lets a work be Done only at 100 % progress
        closed = {"status": done[0], "progress": 1.0}
        await self.rpc.model("project.work", "write", [record["id"]], closed)
        return "closed"

    async def set_project_budget(self, external_id: str, budget: Decimal) -> ErpProject:
        """Set the project's budget (in its company's currency) and answer the project; one
        already at that budget is answered unchanged. No such project is NotFound; a negative
        budget is RequestRejected naming `budget`."""
        record = await self._find("project.work", external_id, PROJECT_FIELDS)
        if record is None:
            raise NotFound(self.system, f"no project {external_id}", fields=["external_id"])
        if budget < 0:
            raise RequestRejected(self.system, f"budget {budget} is negative", fields=["budget"])
        if Decimal(str(record.get("psflow_budget") or 0)) == budget:
            return await self._project(record)
        await self.rpc.model("project.work", "write", [record["id"]], {"psflow_budget": budget})
        return await self._project(await self._read_back("project.work", external_id))

    async def project_actuals(self, job_id: str) -> Decimal:
        """The billable amount posted to the project (its id) so far: the sum of its
        billable timesheet lines' amounts over all periods. No such project is NotFound."""
        project = internal_id(job_id)
        rows = await self.rpc.model(
            "project.work", "search_read", [("id", "=", project or 0), ("type", "=", "project")],
            0, 1, None, ["timesheet_works"], active_test=False,
        )  # fmt: skip
        if not rows:
            raise NotFound(self.system, f"no project {job_id}", fields=["job"])
        lines = await self.rpc.model(
            "timesheet.line", "search_read",
            [("work", "in", rows[0]["timesheet_works"]), ("psflow_billable", "=", True)],
            0, None, None, ["psflow_amount"],
        )  # fmt: skip
        return sum((Decimal(str(r["psflow_amount"] or 0)) for r in lines), Decimal(0))

    async def _project(self, record: dict[str, Any]) -> ErpProject:
        currency = await self._company_currency(int(record["company"]))
        return project_from_record(record, currency)

    # ------------------------------------------------------------ records

    async def _find(self, model: str, external_id: str, fields: list[str]) -> dict[str, Any] | None:
        """The record with this external id, inactive ones included; None when none."""
        if not external_id:
            return None
        found = await self.rpc.model(
            model, "search_read", [(KEY, "=", external_id)], 0, 1, None, fields,
            active_test=False,
        )  # fmt: skip
        return found[0] if found else None

    async def _read_back(self, model: str, external_id: str) -> dict[str, Any]:
        fields = {"party.party": CUSTOMER_FIELDS, "project.work": PROJECT_FIELDS}[model]
        record = await self._find(model, external_id, fields)
        if record is None:
            raise NotFound(self.system, f"{model} {external_id} vanished right after its upsert")
        return record

    async def _load_companies(self) -> None:
        rows = await self.rpc.model(
            "company.company", "search_read", [], 0, None, None,
            ["id", "party.psflow_external_id", "currency.code"],
        )  # fmt: skip
        for row in rows:
            key = (row.get("party.") or {}).get(KEY) or ""
            currency = (row.get("currency.") or {}).get("code") or ""
            self._companies[key.removeprefix("subsidiary-")] = (int(row["id"]), currency)

    async def _company(self, subsidiary_id: str) -> tuple[int, str]:
        """The company (id, currency code) standing for a NetSuite subsidiary."""
        if subsidiary_id not in self._companies:
            await self._load_companies()
        found = self._companies.get(subsidiary_id)
        if found is None:
            raise RequestRejected(
                self.system, f"no company for subsidiary {subsidiary_id}", fields=["subsidiary"]
            )
        return found

    async def _company_in(self, subsidiary_id: str, currency: str, what: str) -> int:
        """The subsidiary's company; RequestRejected naming `currency` when `what` is in
        another currency than the company's, which Tryton keeps amounts in."""
        company_id, kept = await self._company(subsidiary_id)
        if currency != kept:
            raise RequestRejected(
                self.system,
                f"{what} is in {currency}, but Tryton keeps it in the currency of subsidiary "
                f"{subsidiary_id}'s company, {kept}",
                fields=["currency"],
            )
        return company_id

    async def _company_currency(self, company_id: int) -> str:
        if not any(c == company_id for c, _ in self._companies.values()):
            await self._load_companies()
        return next((cur for c, cur in self._companies.values() if c == company_id), "")

    async def _check_currency_exists(self, code: str) -> None:
        if not await self.rpc.model("currency.currency", "search_count", [("code", "=", code)]):
            raise RequestRejected(
                self.system, f"no currency '{code}' in the ERP", fields=["currency"]
            )

    async def _term_id(self, name: str) -> int:
        found = await self.rpc.model(
            "account.invoice.payment_term", "search", [("name", "=", name)], 0, 1, None
        )
        if not found:
            raise RequestRejected(
                self.system, f"no payment term '{name}' in the ERP", fields=["terms"]
            )
        return int(found[0])
