"""Workday's shapes: the error body, and workers rendered from the stored records."""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sandbox import catalog
from sandbox.hcm.seed import WORKER, department_name
from sandbox.records import RecordStore

WID = re.compile(r"^[0-9a-f]{32}$")
EMPLOYEE_ID_PREFIX = "Employee_ID="


class WorkdayError(Exception):
    """An error answered in Workday's body: `{"error": ..., "errors": [{"error", "field"}]}`."""

    def __init__(
        self, status: int, message: str, problems: Sequence[tuple[str, str | None]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = list(problems)

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.problems)


def error_body(message: str, problems: Sequence[tuple[str, str | None]] = ()) -> dict[str, Any]:
    """Workday's error body; each problem is (message, field or None)."""
    return {"error": message, "errors": [{"error": m, "field": f} for m, f in problems]}


def status_error_body(status: int, message: str) -> dict[str, Any]:
    """The body of an injected fault."""
    return error_body(f"{message} (HTTP {status})")


async def _on_workday_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkdayError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), exc.status, headers=headers)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [(f"{_field(e['loc'])}: {e['msg']}", _field(e["loc"])) for e in exc.errors()]
    message = "invalid request: " + "; ".join(m for m, _ in problems)
    return JSONResponse(error_body(message, problems), 400)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = "resource not found" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(error_body(message), exc.status_code, headers=exc.headers)


HANDLERS: Mapping[type[Exception], Callable[[Request, Exception], Any]] = {
    WorkdayError: _on_workday_error,
    RequestValidationError: _on_validation_error,
    HTTPException: _on_http_error,
}


def _ref(id: str | None, descriptor: str | None) -> dict[str, str] | None:
    return None if id is None else {"id": id, "descriptor": descriptor or id}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def _name(table: Mapping[str, tuple[str, ...]], code: str | None, index: int) -> str | None:
    """The name a catalog table gives a code, else the code itself."""
    if code is None:
        return None
    return table[code][index] if code in table else code


def _manager_ref(manager: dict[str, Any] | None) -> dict[str, str] | None:
    if manager is None:
        return None
    name = f"{manager['first_name']} {manager['last_name']}"
    return {"id": manager["wid"], "workerId": manager["id"], "descriptor": name}


def render_worker(
    record: dict[str, Any], tenant: str, managers: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """A stored worker as Workday's REST API answers it.

    `managers` maps Employee_IDs to worker records, to describe the manager reference.
    """
    name = f"{record['first_name']} {record['last_name']}"
    role, department, location = record["role"], record["department"], record["location"]
    entity, center = record["legal_entity"], record["cost_center"]
    manager = managers.get(record["manager_id"] or "")
    rate = record["cost_rate"]
    return {
        "id": record["wid"],
        "descriptor": name,
        "href": f"/ccx/api/v1/{tenant}/workers/{record['wid']}",
        "workerId": record["id"],
        "workerType": {"id": "EMPLOYEE", "descriptor": "Employee"},
        "legalName": {"firstName": record["first_name"], "lastName": record["last_name"]},
        "primaryWorkEmail": record["email"],
        "businessTitle": role,
        "jobProfile": _ref(role and f"JP_{_slug(role)}", role),
        "supervisoryOrganization": _ref(department, department_name(department)),
        "company": _ref(entity, _name(catalog.LEGAL_ENTITIES, entity, 1)),
        "costCenter": _ref(center, _name(catalog.COST_CENTERS, center, 1)),
        "location": _ref(location and f"LOC_{_slug(location)}", location),
        "manager": _manager_ref(manager),
        "skills": [{"id": f"SKILL_{_slug(s)}", "descriptor": s} for s in record["skills"]],
        "hireDate": record["hire_date"],
        "terminationDate": record["termination_date"],
        "isActive": record["status"] == "active",
        "customFields": {
            "costRate": None if rate is None else {"amount": rate, "currency": record["currency"]}
        },
    }


def find_worker(store: RecordStore, ref: str) -> dict[str, Any] | None:
    """A worker by WID (32 hex), by `Employee_ID=21034`, or by the bare Employee_ID."""
    if WID.match(ref):
        return store.get(WORKER, ref)
    employee_id = ref.removeprefix(EMPLOYEE_ID_PREFIX)
    wid = store.id_for_external(WORKER, employee_id)
    return store.get(WORKER, wid) if wid else None


def worker_not_found(ref: str) -> WorkdayError:
    return WorkdayError(404, f"worker {ref} not found", [(f"no worker has the id {ref}", "id")])
