"""Workday's REST API (/ccx/api/v1/{tenant}): workers, read page by page.

The tenant is part of every URL, the token endpoint's included, so the connector carries it.
"""

from datetime import date
from decimal import Decimal
from typing import Any, Self
from urllib.parse import quote

import httpx

from connectors.base import Connector, client
from models.hcm import Worker

DEFAULT_TENANT = "northwind"
PAGE_LIMIT = 100
"""Workday's largest page."""


def _descriptor(ref: Any) -> str | None:
    return str(ref["descriptor"]) if isinstance(ref, dict) and ref.get("descriptor") else None


def _id(ref: Any) -> str | None:
    return str(ref["id"]) if isinstance(ref, dict) and ref.get("id") else None


def worker_from_workday(body: dict[str, Any]) -> Worker:
    """A canonical Worker from Workday's worker JSON.

    status: `active` when isActive, `terminated` when a termination date is set, otherwise
    `pre-hire` (hired in Workday but not started). Cost rate and its currency come from the
    custom field `customFields.costRate`.
    """
    name = body.get("legalName") or {}
    first, _, last = str(body.get("descriptor") or "").partition(" ")
    manager = body.get("manager")
    rate = (body.get("customFields") or {}).get("costRate") or {}
    termination = body.get("terminationDate")
    if body.get("isActive"):
        status = "active"
    elif termination:
        status = "terminated"
    else:
        status = "pre-hire"
    return Worker(
        id=str(body["workerId"]),
        wid=str(body["id"]),
        first_name=name.get("firstName") or first,
        last_name=name.get("lastName") or last,
        email=body.get("primaryWorkEmail"),
        legal_entity=_id(body.get("company")),
        department=_id(body.get("supervisoryOrganization")),
        cost_center=_id(body.get("costCenter")),
        manager_id=str(manager["workerId"]) if isinstance(manager, dict) else None,
        role=_descriptor(body.get("jobProfile")),
        skills=[d for d in (_descriptor(s) for s in body.get("skills") or []) if d],
        location=_descriptor(body.get("location")),
        cost_rate=Decimal(str(rate["amount"])) if rate.get("amount") is not None else None,
        currency=rate.get("currency"),
        hire_date=date.fromisoformat(body["hireDate"]),
        status=status,
        termination_date=date.fromisoformat(termination) if termination else None,
    )


class HcmConnector(Connector):
    """Client for the HCM. One call per method, except all_workers, which pages."""

    system = "hcm"
    token_path = "/ccx/oauth2/{tenant}/token"

    def __init__(
        self, client: httpx.AsyncClient, concurrency: int = 5, *, tenant: str = DEFAULT_TENANT
    ) -> None:
        super().__init__(client, concurrency)
        self.tenant = tenant

    @classmethod
    def build(
        cls,
        base_url: str,
        auth: httpx.Auth,
        *,
        concurrency: int = 5,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> Self:
        """A connector with its own client for one tenant."""
        return cls(client(base_url, auth, timeout_seconds, transport), concurrency, tenant=tenant)

    @classmethod
    def token_url(cls, base_url: str, tenant: str) -> str:
        """The tenant's token endpoint, /ccx/oauth2/{tenant}/token."""
        return base_url.rstrip("/") + cls.token_path.format(tenant=quote(tenant, safe=""))

    def _path(self, *segments: str) -> str:
        """An API path under the tenant, each segment escaped so ids cannot reshape the URL."""
        parts = ["/ccx/api/v1", *(quote(s, safe="=") for s in (self.tenant, *segments))]
        return "/".join(parts)

    def error_message(self, response: httpx.Response) -> tuple[str, list[str]]:
        """Reads Workday's `{"error": "...", "errors": [{"error": "...", "field": "..."}]}`."""
        try:
            body = response.json()
            message = str(body["error"])
            errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        except (ValueError, KeyError, TypeError):
            return super().error_message(response)
        details = [str(e["error"]) for e in errors if e.get("error")]
        fields = [str(e["field"]) for e in errors if e.get("field")]
        return "; ".join([message, *details]), fields

    async def get_worker(self, worker_id: str) -> Worker:
        """The worker by Employee_ID (or WID); NotFound when the HCM has none."""
        response = await self.request("GET", self._path("workers", worker_id))
        return worker_from_workday(response.json())

    async def list_workers(
        self, limit: int = PAGE_LIMIT, offset: int = 0
    ) -> tuple[list[Worker], int]:
        """One page of workers (at most 100) and how many the HCM holds in all."""
        params = {"limit": limit, "offset": offset}
        body = (await self.request("GET", self._path("workers"), params=params)).json()
        return [worker_from_workday(w) for w in body["data"]], int(body["total"])

    async def all_workers(self) -> list[Worker]:
        """Every worker, page by page."""
        workers: list[Worker] = []
        while True:
            page, total = await self.list_workers(PAGE_LIMIT, len(workers))
            workers += page
            if not page or len(workers) >= total:
                return workers
