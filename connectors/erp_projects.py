"""Projects in the ERP (NetSuite's `job` record): create, read, delete, budget and actuals.

A mixin of ErpConnector. A project is addressed by its external id (`eid:...`), so a retried
activity upserts the same job. Its budget is the job's `custentity_psflow_budget` (a currency
field, a JSON number), in the job's currency; a change order moves it with a PATCH of that one
field, and a compensation puts the previous value back the same way.

What a project has consumed so far is read with SuiteQL: the billable amount
(`custcol_psflow_amount`, hours x rate) of every billable timeBill posted to the job, over all
periods. Expense reports are not counted: they are passed through to the customer at cost.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connectors.base import Connector
from connectors.errors import NotFound
from connectors.netsuite import (
    RECORD_PATH,
    json_decimal,
    money,
    project_body,
    project_from_record,
    reference_id,
)
from models.erp import ErpProject, ErpProjectInput

BUDGET_FIELD = "custentity_psflow_budget"
AMOUNT_COLUMN = "custcol_psflow_amount"


class ErpProjectsMixin(Connector):
    """Projects (jobs) by external id, their budget and actuals; ErpConnector supplies the
    record helpers and ErpBillingMixin the SuiteQL and currency reads."""

    if TYPE_CHECKING:

        @staticmethod
        def _eid_url(record_type: str, external_id: str) -> str: ...

        async def _get_by_external_id(
            self, record_type: str, external_id: str
        ) -> dict[str, Any] | None: ...

        async def _read_back(self, record_type: str, external_id: str) -> dict[str, Any]: ...

        async def _delete(self, record_type: str, external_id: str) -> bool: ...

        async def _currency_id(self, code: str) -> str: ...

        async def currency_code(self, currency_id: str) -> str: ...

        async def suiteql(self, query: str) -> list[dict[str, Any]]: ...

    async def get_project(self, external_id: str) -> ErpProject | None:
        """The project (NetSuite job) with this external id, or None when there is none."""
        record = await self._get_by_external_id("job", external_id)
        return await self._project(record) if record is not None else None

    async def upsert_project(self, data: ErpProjectInput) -> ErpProject:
        """Create or update the project with `data.external_id` under customer `customer_id`."""
        body = project_body(data, await self._currency_id(data.currency))
        await self.request("PUT", self._eid_url("job", data.external_id), json=body)
        return await self._project(await self._read_back("job", data.external_id))

    async def delete_project(self, external_id: str) -> bool:
        """Delete the project; False when it was already gone."""
        return await self._delete("job", external_id)

    async def set_project_budget(self, external_id: str, budget: Decimal) -> ErpProject:
        """Set the project's budget (in its currency) and answer the project.

        A project already at that budget is answered unchanged, so a retry or a compensation
        that restores the previous value is harmless. No such project is NotFound (permanent);
        a negative budget is refused by NetSuite (RequestRejected naming the budget field).
        """
        record = await self._get_by_external_id("job", external_id)
        if record is None:
            raise NotFound(
                self.system, f"no project eid:{external_id}", status=404, fields=["externalId"]
            )
        current = record.get(BUDGET_FIELD)
        if current is not None and json_decimal(current) == budget:
            return await self._project(record)
        url = self._eid_url("job", external_id)
        await self.request("PATCH", url, json={BUDGET_FIELD: money(budget)})
        return await self._project(await self._read_back("job", external_id))

    async def project_actuals(self, job_id: str) -> Decimal:
        """The billable amount posted to the job (internal id) so far: the sum of its billable
        timeBills' amounts over all periods. No such job is NotFound (permanent)."""
        try:
            await self.request("GET", f"{RECORD_PATH}/job/{quote(job_id, safe='')}")
        except NotFound:
            raise NotFound(
                self.system, f"no project (job) {job_id}", status=404, fields=["job"]
            ) from None
        # an internal id is a number
        digits = job_id if job_id.isascii() and job_id.isdigit() else "0"
        rows = await self.suiteql(
            f"SELECT id, {AMOUNT_COLUMN} FROM timebill "
            f"WHERE customer = {digits} AND isbillable = 'T' ORDER BY id"
        )
        return sum((json_decimal(row.get(AMOUNT_COLUMN)) for row in rows), Decimal(0))

    async def _project(self, record: dict[str, Any]) -> ErpProject:
        """A job record as an ErpProject with its budget and currency code."""
        budget = record.get(BUDGET_FIELD)
        currency_id = reference_id(record, "currency")
        currency = await self.currency_code(currency_id) if currency_id else None
        return project_from_record(record).model_copy(
            update={
                "budget": json_decimal(budget) if budget is not None else None,
                "currency": currency,
            }
        )
