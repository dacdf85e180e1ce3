"""Salesforce REST client: opportunities, their line items and milestones, upserts, and the
latest invoice's status on the opportunity.

The same code talks to the CRM sandbox and to a real Salesforce org; only the base URL and
the connected app's client credentials differ.
"""

import asyncio
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from connectors.base import Connector
from connectors.errors import RequestRejected
from connectors.salesforce_records import (
    INVOICE_FIELDS,
    invoice_status_fields,
    invoice_status_record,
    required,
    save_outcomes,
    to_account,
    to_invoice_status,
    to_line,
    to_milestone,
    to_opportunity,
    to_text,
)
from models.billing import InvoiceStatusUpdate
from models.crm import Opportunity

API_VERSION = "v60.0"

# canonical name -> Salesforce field on Opportunity
OPPORTUNITY_FIELDS: dict[str, str] = {
    "rate_card": "Rate_Card__c",
    "legal_entity": "Legal_Entity__c",
    "currency": "CurrencyIsoCode",
    "billing_terms": "Billing_Terms__c",
    "billing_type": "Billing_Type__c",
    "erp_project_id": "ERP_Project_Id__c",
    "psa_project_id": "PSA_Project_Id__c",
}

COLLECTION_LIMIT = 200  # records per sObject Collections request
LINE_ITEMS = "OpportunityLineItems"
MILESTONES = "Project_Milestones__r"


def salesforce_fields(names: list[str]) -> list[str]:
    """The Salesforce fields behind canonical opportunity field names."""
    unknown = [n for n in names if n not in OPPORTUNITY_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown opportunity field(s) {', '.join(unknown)}: "
            f"use {', '.join(OPPORTUNITY_FIELDS)}"
        )
    return [OPPORTUNITY_FIELDS[n] for n in names]


def _json_value(value: object) -> object:
    """A value Salesforce's JSON accepts: numbers as numbers, dates as ISO strings."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class CrmConnector(Connector):
    """Salesforce REST API (sobjects and related lists) under one API version."""

    system: ClassVar[str] = "crm"
    token_path: ClassVar[str] = "/services/oauth2/token"
    api_version: str = API_VERSION
    """Set from [crm] api_version (connectors/systems.py)."""

    def error_message(self, response: httpx.Response) -> tuple[str, list[str]]:
        """Salesforce's `[{"errorCode", "message", "fields"}]` body, or an OAuth error body."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if isinstance(body, list) and body and all(isinstance(e, dict) for e in body):
            message = "; ".join(f"{e.get('errorCode', 'ERROR')}: {e.get('message')}" for e in body)
            fields = [str(f) for e in body for f in e.get("fields") or []]
            return message, list(dict.fromkeys(fields))
        if isinstance(body, dict) and "error" in body:
            return f"{body['error']}: {body.get('error_description', '')}", []
        return super().error_message(response)

    def _url(self, sobject: str, *parts: str) -> str:
        path = "/".join(quote(p, safe="") for p in (sobject, *parts))
        return f"/services/data/{self.api_version}/sobjects/{path}"

    async def _get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        response = await self.request("GET", url, params=params)
        return json.loads(response.content, parse_float=Decimal)

    async def _related(self, opportunity_id: str, relationship: str) -> list[dict[str, Any]]:
        """Every record of a related list, following nextRecordsUrl pages."""
        page = await self._get(self._url("Opportunity", opportunity_id, relationship))
        records: list[dict[str, Any]] = list(page["records"])
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = await self._get(page["nextRecordsUrl"])
            records.extend(page["records"])
        return records

    async def get_opportunity(self, opportunity_id: str) -> Opportunity:
        """The deal with its account, resource lines and milestones."""
        record = await self._get(self._url("Opportunity", opportunity_id))
        required(record, "Amount")  # refuse before fetching the rest
        account_id = required(record, "AccountId")
        account, lines, milestones = await asyncio.gather(
            self._get(self._url("Account", account_id)),
            self._related(record["Id"], LINE_ITEMS),
            self._related(record["Id"], MILESTONES),
        )
        return to_opportunity(
            record,
            to_account(account),
            [to_line(r) for r in lines],
            [to_milestone(r) for r in milestones],
        )

    async def get_opportunity_values(
        self, opportunity_id: str, names: list[str]
    ) -> dict[str, str | None]:
        """Current values of canonical opportunity fields (see OPPORTUNITY_FIELDS)."""
        fields = salesforce_fields(names)
        if not names:
            return {}
        record = await self._get(
            self._url("Opportunity", opportunity_id), params={"fields": ",".join(fields)}
        )
        return {name: to_text(record.get(field)) for name, field in zip(names, fields, strict=True)}

    async def update_opportunity(self, opportunity_id: str, changes: dict[str, str | None]) -> None:
        """Set canonical opportunity fields; None clears a field."""
        fields = salesforce_fields(list(changes))
        if not changes:
            return
        body = dict(zip(fields, changes.values(), strict=True))
        await self.request("PATCH", self._url("Opportunity", opportunity_id), json=body)

    async def set_opportunity_amount(self, opportunity_id: str, amount: Decimal) -> None:
        """Set the opportunity's Amount (a change order moves it on a closed-won deal; its
        undo puts the previous amount back). The same amount again changes nothing. An amount
        a JSON number would round is refused before sending (RequestRejected naming Amount)."""
        number = float(amount)
        if Decimal(repr(number)) != amount:
            raise RequestRejected(
                self.system, f"amount {amount} cannot be sent exactly", fields=["Amount"]
            )
        url = self._url("Opportunity", opportunity_id)
        await self.request("PATCH", url, json={"Amount": number})

    async def set_invoice_status(self, update: InvoiceStatusUpdate) -> None:
        """Write the latest invoice's status, number, amount and period onto its opportunity.

        A PATCH of the same values again changes nothing, so a retry is harmless.
        """
        body = invoice_status_fields(update)
        await self.request("PATCH", self._url("Opportunity", update.opportunity_id), json=body)

    async def set_invoice_statuses(self, updates: list[InvoiceStatusUpdate]) -> list[str | None]:
        """Write many opportunities' latest invoice, 200 to an sObject Collections PATCH
        (allOrNone false): per update, None when written or Salesforce's reason it was not.

        A request that fails as a whole raises as `request` classifies it (5xx, 429
        retryable); writing the same values again changes nothing, so a retry is harmless.
        """
        outcomes: list[str | None] = []
        for start in range(0, len(updates), COLLECTION_LIMIT):
            chunk = updates[start : start + COLLECTION_LIMIT]
            outcomes += await self._save_invoice_statuses(chunk)
        return outcomes

    async def _save_invoice_statuses(self, chunk: list[InvoiceStatusUpdate]) -> list[str | None]:
        """One PATCH; an update refused before sending (an inexact amount) says why instead."""
        prepared = [invoice_status_record(u) for u in chunk]
        sent = [r for r in prepared if isinstance(r, dict)]
        said: Iterator[str | None] = iter([])
        if sent:
            body = {"allOrNone": False, "records": sent}
            response = await self.request("PATCH", self._collection_url(), json=body)
            said = iter(save_outcomes(response.json(), len(sent)))
        return [next(said) if isinstance(r, dict) else r for r in prepared]

    def _collection_url(self) -> str:
        return f"/services/data/{self.api_version}/composite/sobjects"

    async def invoice_status(self, opportunity_id: str) -> InvoiceStatusUpdate | None:
        """The latest invoice the opportunity records (status, number, amount, period)."""
        params = {"fields": ",".join(("Id", *INVOICE_FIELDS))}
        return to_invoice_status(await self._get(self._url("Opportunity", opportunity_id), params))

    async def upsert_by_external_id(
        self, sobject: str, field: str, value: str, fields: dict[str, object]
    ) -> tuple[str, bool]:
        """Create or update the record whose external id `field` equals `value`.

        Returns the record id and whether it was created.
        """
        body = {name: _json_value(v) for name, v in fields.items()}
        response = await self.request("PATCH", self._url(sobject, field, value), json=body)
        result = response.json()
        return str(result["id"]), bool(result["created"])
