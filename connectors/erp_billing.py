"""Time-to-bill in the ERP (NetSuite): postings in bulk, the duplicate check, invoices.

A mixin of ErpConnector. Time bills and expense reports go out through upsertList, at most
200 records a request, the requests sent concurrently under the connector's concurrency
limit; each record is upserted by its external id, so a retried or repeated batch posts
nothing twice. A record NetSuite refuses (inactive employee, unknown project, already billed)
comes back as a FAILED PostingResult and does not fail the others; a failed request (429,
5xx, 4xx) raises the connector's typed error after every chunk has been answered, and the
chunks that went through stay written (a retry upserts them again, unchanged).

Reading many records with their fields is SuiteQL's job (`POST /services/rest/query/v1/
suiteql`): the duplicate check, the employees a page names and what a project has posted.

An invoice is drafted with `POST /invoice` (the project, its currency, the period and the
milestone lines; the ERP adds the unbilled billable time and expenses) and moved with `PATCH
custbody_psflow_status`. Its external id makes the draft idempotent: one that exists and is
not voided is returned as it is; a voided one gives its external id up (renamed
`<external id>-void-<internal id>`) so a rerun drafts a new invoice for the freed postings.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.base import Connector
from connectors.erp_port import PostingType
from connectors.errors import (
    ConnectorError,
    NotFound,
    NothingToBill,
    RequestRejected,
    SystemUnavailable,
)
from connectors.netsuite import RECORD_PATH, json_object
from connectors.netsuite_billing import (
    EMPLOYEE_COLUMNS,
    STATUS_FIELD,
    SUITEQL_PATH,
    SUITEQL_TABLES,
    TIME_BILL_COLUMNS,
    employee_from_row,
    expense_report_body,
    invoice_body,
    invoice_from_record,
    posted_columns,
    posted_record,
    posting_result,
    refused,
    sql_list,
    time_bill_body,
    time_posting,
)
from models.billing import (
    ExpensePosting,
    Invoice,
    InvoiceDraftInput,
    InvoiceStatus,
    PostedRecord,
    PostingResult,
    TimePosting,
    period_bounds,
)
from models.erp import ErpEmployee

UPSERT_LIST_MAX = 200
# NetSuite refuses an invoice without lines naming its item sublist.
NO_LINES_FIELD = "item"
# External ids per SuiteQL IN list: one page of answers (1000 rows) each.
QUERY_CHUNK = 1000
SUITEQL_PAGE = 1000
T = TypeVar("T")


async def _all(calls: Sequence[Awaitable[T]]) -> list[T]:
    """Every call's result, all of them answered before the first failure is raised."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise next((f for f in failures if isinstance(f, ConnectorError)), failures[0])
    return [r for r in results if not isinstance(r, BaseException)]


# How long an active employee read for posting is taken as still active.
EMPLOYEE_TTL_SECONDS = 60.0


class ErpBillingMixin(Connector):
    """Postings, the duplicate check and invoices; ErpConnector supplies the record helpers."""

    if TYPE_CHECKING:
        _references: dict[str, dict[str, str]]
        _active_employees: dict[str, tuple[float, ErpEmployee]]

        @staticmethod
        def _eid_url(record_type: str, external_id: str) -> str: ...

        async def _get_by_external_id(
            self, record_type: str, external_id: str, *, expand: bool = False
        ) -> dict[str, Any] | None: ...

        async def _currency_id(self, code: str) -> str: ...

        async def _read_reference_list(
            self, record_type: str, key_field: str
        ) -> dict[str, str]: ...

        async def _list_ids(self, record_type: str, query: str | None = None) -> list[str]: ...

    # ------------------------------------------------------------ postings

    async def posted_records(
        self, record_type: PostingType, external_ids: list[str]
    ) -> dict[str, PostedRecord]:
        """Which of these external ids the ERP already holds, with their source, invoice and
        billable amount."""
        wanted = list(dict.fromkeys(e for e in external_ids if e))
        table = SUITEQL_TABLES[record_type]
        queries = [
            f"SELECT {posted_columns(record_type)} FROM {table} "
            f"WHERE externalid IN ({sql_list(wanted[at : at + QUERY_CHUNK])})"
            for at in range(0, len(wanted), QUERY_CHUNK)
        ]
        pages = await _all([self.suiteql(q) for q in queries])
        records = [posted_record(row, record_type) for rows in pages for row in rows]
        return {r.external_id: r for r in records}

    async def employees_by_external_id(self, external_ids: list[str]) -> dict[str, ErpEmployee]:
        """The employees with these external ids (hcm-<worker id>); missing ones are left out.
        One SuiteQL query per thousand ids, not one GET per employee.

        An active employee read in the last EMPLOYEE_TTL_SECONDS is not read again (a month-end's
        projects share their people): one deactivated meanwhile is refused by the ERP itself
        when its time is posted. Missing and inactive ones are always read again."""
        now = time.monotonic()
        fresh: dict[str, ErpEmployee] = {}
        wanted: list[str] = []
        for eid in dict.fromkeys(e for e in external_ids if e):
            cached = self._active_employees.get(eid)
            if cached and now - cached[0] < EMPLOYEE_TTL_SECONDS:
                fresh[eid] = cached[1]
            else:
                wanted.append(eid)
        if not wanted:
            return fresh
        queries = [
            f"SELECT {EMPLOYEE_COLUMNS} FROM employee "
            f"WHERE externalid IN ({sql_list(wanted[at : at + QUERY_CHUNK])})"
            for at in range(0, len(wanted), QUERY_CHUNK)
        ]
        pages = await _all([self.suiteql(q) for q in queries])
        employees = [employee_from_row(row) for rows in pages for row in rows]
        for employee in employees:
            if not employee.inactive:
                self._active_employees[employee.external_id] = (now, employee)
        return fresh | {e.external_id: e for e in employees}

    async def upsert_time_bills(self, postings: list[TimePosting]) -> list[PostingResult]:
        """Upsert each posting as a timeBill by its external id; one result each, in order."""
        return await self._upsert_list("timeBill", postings, lambda p: time_bill_body(p))

    async def upsert_expense_reports(self, postings: list[ExpensePosting]) -> list[PostingResult]:
        """Upsert each posting as an expenseReport by its external id; one result each."""
        currencies = sorted({p.currency for p in postings})
        found = await _all([self._currency_id(c) for c in currencies])
        ids = dict(zip(currencies, found, strict=True))
        return await self._upsert_list(
            "expenseReport", postings, lambda p: expense_report_body(p, ids[p.currency])
        )

    async def time_bills_for_project(self, project_id: str, period: str) -> list[TimePosting]:
        """Every time bill of the ERP project dated in the period, by internal id."""
        first, last = period_bounds(period)
        rows = await self.suiteql(
            f"SELECT {TIME_BILL_COLUMNS} FROM timebill WHERE customer = {sql_list([project_id])}"
            f" AND trandate BETWEEN '{first.isoformat()}' AND '{last.isoformat()}' ORDER BY id"
        )
        return [time_posting(row) for row in rows]

    async def _upsert_list(
        self, record_type: PostingType, postings: Sequence[Any], body: Callable[[Any], Any]
    ) -> list[PostingResult]:
        results: list[PostingResult | None] = [None] * len(postings)
        sendable: list[tuple[int, dict[str, Any]]] = []
        for at, posting in enumerate(postings):
            try:
                sendable.append((at, body(posting)))
            except ValueError as exc:  # hours or money NetSuite cannot carry exactly
                results[at] = refused(posting.external_id, str(exc))
        chunks = [
            sendable[at : at + UPSERT_LIST_MAX] for at in range(0, len(sendable), UPSERT_LIST_MAX)
        ]
        url = f"{RECORD_PATH}/{record_type}/upsertList"
        answers = await _all(
            [self.request("POST", url, json={"records": [b for _, b in c]}) for c in chunks]
        )
        for chunk, answer in zip(chunks, answers, strict=True):
            responses = json_object(answer).get("writeResponseList") or []
            if len(responses) != len(chunk):
                raise SystemUnavailable(
                    self.system, f"upsertList answered {len(responses)} of {len(chunk)} records"
                )
            for (at, _), response in zip(chunk, responses, strict=True):
                results[at] = posting_result(response)
        return [r for r in results if r is not None]

    async def suiteql(self, query: str) -> list[dict[str, Any]]:
        """Every row of a SuiteQL query, page by page."""
        rows: list[dict[str, Any]] = []
        while True:
            params = {"limit": SUITEQL_PAGE, "offset": len(rows)}
            page = json_object(
                await self.request(
                    "POST", SUITEQL_PATH, json={"q": query}, params=params,
                    headers={"Prefer": "transient"},
                )
            )  # fmt: skip
            rows += [r for r in page.get("items", []) if isinstance(r, dict)]
            if not page.get("hasMore"):
                return rows

    # ------------------------------------------------------------ invoices

    async def draft_invoice(self, data: InvoiceDraftInput) -> Invoice:
        """Draft the invoice with `data.external_id`, or answer the live one that has it: two
        calls (create, read back); a retry whose first attempt drafted it, two as well.

        Nothing to bill is NothingToBill (NetSuite refuses it naming `item`: a line at least).
        """
        body = invoice_body(data, await self._currency_id(data.currency))
        try:
            await self.request("POST", f"{RECORD_PATH}/invoice", json=body)
        except RequestRejected as exc:
            if exc.status == 400 and exc.fields == [NO_LINES_FIELD]:
                detail = exc.message.removeprefix(f"{self.system}: ")
                raise NothingToBill(self.system, detail, status=400, fields=exc.fields) from None
            if exc.status != 409:  # 409: the external id is taken, by a live or void invoice
                raise
            existing = await self._get_by_external_id("invoice", data.external_id, expand=True)
            if existing is None:
                raise SystemUnavailable(
                    self.system, f"invoice eid:{data.external_id} is taken but cannot be read"
                ) from None
            if existing.get(STATUS_FIELD) != InvoiceStatus.VOIDED:
                return await self._invoice(existing)
            freed = f"{data.external_id}-void-{existing['id']}"
            url = f"{RECORD_PATH}/invoice/{existing['id']}"
            await self.request("PATCH", url, json={"externalId": freed})
            return await self.draft_invoice(data)  # the id is free now
        created = await self.get_invoice(data.external_id)
        if created is None:
            raise SystemUnavailable(self.system, f"invoice eid:{data.external_id} vanished")
        return created

    async def get_invoice(self, external_id: str) -> Invoice | None:
        """The invoice with this external id, or None."""
        record = await self._get_by_external_id("invoice", external_id, expand=True)
        return await self._invoice(record) if record is not None else None

    async def move_invoice(self, external_id: str, status: InvoiceStatus) -> None:
        """Move the invoice to `status` with one PATCH; the ERP keeps the rules: the same
        status again changes nothing, an impossible move (a released invoice voided, a draft
        released) is RequestRejected, an unknown invoice NotFound. The number is the draft's:
        None."""
        url = self._eid_url("invoice", external_id)
        await self.request("PATCH", url, json={STATUS_FIELD: status.value})

    async def set_invoice_status(self, external_id: str, status: InvoiceStatus) -> Invoice:
        """Move the invoice to `status` and read it back (runs drafted before the one-PATCH
        release still call this)."""
        current = await self.get_invoice(external_id)
        if current is None:
            raise NotFound(
                self.system, f"no invoice eid:{external_id}", status=404, fields=["externalId"]
            )
        if current.status == status:
            return current
        await self.move_invoice(external_id, status)
        moved = await self.get_invoice(external_id)
        if moved is None:
            raise SystemUnavailable(self.system, f"invoice eid:{external_id} vanished")
        return moved

    async def invoices_for_project(self, project_id: str) -> list[Invoice]:
        """Every invoice of the ERP project (voided ones too), oldest first."""
        return await self.invoices_where(f"job ANY_OF {project_id}")

    async def invoices_where(self, query: str) -> list[Invoice]:
        """Every invoice NetSuite's `q` filter matches (voided ones too), as the ERP lists
        them (by internal id): the collection page by page, then one read per invoice."""
        ids = await self._list_ids("invoice", query=query)
        expand = {"expandSubResources": "true"}
        responses = await _all(
            [self.request("GET", f"{RECORD_PATH}/invoice/{id}", params=expand) for id in ids]
        )
        return [await self._invoice(json_object(r)) for r in responses]

    async def _invoice(self, record: dict[str, Any]) -> Invoice:
        currency_id = str((record.get("currency") or {}).get("id", ""))
        return invoice_from_record(record, await self.currency_code(currency_id))

    async def currency_code(self, currency_id: str) -> str:
        """A currency's ISO code by its internal id (an unknown id as it is), the list read
        once."""
        if "currency" not in self._references:
            self._references["currency"] = await self._read_reference_list("currency", "symbol")
        codes = {id: code for code, id in self._references["currency"].items()}
        return codes.get(currency_id, currency_id)
