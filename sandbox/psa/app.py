"""The PSA sandbox: a documented REST API for rate cards, projects, milestones and staffing."""

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from sandbox.auth import TokenIssuer, bearer_required
from sandbox.faults import FaultBook, FaultMiddleware, admin_router
from sandbox.psa.seed import PROJECT, RATE_CARD, STAFFING_REQUEST, new_id, seed
from sandbox.records import RecordStore

API_PREFIX = "/api/v1"
TOKEN_PATH = "/oauth/token"

DESCRIPTION = f"""
Rate cards, delivery projects with milestones and budgets, and staffing requests.

**Authentication.** Get a bearer token with the OAuth 2.0 client-credentials grant
(`POST {TOKEN_PATH}`, form fields `grant_type=client_credentials`, `client_id`,
`client_secret`) and send it as `Authorization: Bearer <token>` on every `{API_PREFIX}` call.

**Idempotent requests.** Every `POST` accepts an `Idempotency-Key` header (any unique string
up to 255 characters, e.g. a UUID or a business key). The first response to a key, status and
body, is remembered; a repeat with the same key and the same method, path and body gets that
response again, with the header `Idempotent-Replayed: true`, and changes nothing. The same key
with a different request answers `422` with code `idempotency_key_reused`. Requests rejected
by validation (`422`) and requests that never reached the API (`429`, `5xx`) are not
remembered, so a key can be retried after correcting the input or after an outage.

**External ids.** `external_id` is the caller's own id for a project and is unique among
projects that are not archived: creating a second one with it answers `409` with code
`conflict`, naming the existing project. Archiving a project frees its external id.

**Errors.** Every error has one shape:
`{{"error": {{"code": "...", "message": "...", "fields": ["..."]}}}}`, where `fields` names
the request fields at fault. Money and hours are decimal strings, e.g. `"12500.00"`.
"""

TAGS = [
    {"name": "rate cards", "description": "Hourly rates per role, one card per currency."},
    {"name": "projects", "description": "Delivery projects with budgets and milestones."},
    {"name": "staffing requests", "description": "Demand for a role on a project."},
    {"name": "auth", "description": "OAuth 2.0 client-credentials tokens."},
    {"name": "sandbox admin", "description": "Fault injection and reset (sandbox only)."},
]

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}


# ---- errors


class ApiError(Exception):
    """An error answered in the PSA's one error shape."""

    def __init__(self, status: int, code: str, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.fields)


def error_body(code: str, message: str, fields: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON body of every PSA error."""
    return {"error": {"code": code, "message": message, "fields": list(fields)}}


def status_error_body(status: int, message: str) -> dict[str, Any]:
    """An error body for a bare status, as injected faults answer."""
    return error_body(ERROR_CODES.get(status, f"http_{status}"), message)


def _not_found(what: str, id: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} {id} does not exist")


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), exc.status, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [(_field_name(e["loc"]), str(e["msg"])) for e in exc.errors()]
    fields = list(dict.fromkeys(field for field, _ in problems))
    message = "; ".join(f"{field}: {msg}" for field, msg in problems)
    return JSONResponse(error_body("validation_error", message, fields), 422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = str(exc.detail)
    code = detail if detail.isidentifier() else ERROR_CODES.get(exc.status_code, "error")
    return JSONResponse(error_body(code, detail), exc.status_code, headers=exc.headers)


# ---- schemas

Money = Annotated[Decimal, Field(ge=0, decimal_places=2, examples=["12500.00"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]
BillingType = Literal["Time and Materials", "Fixed Fee"]
ProjectStatus = Literal["active", "archived"]
StaffingStatus = Literal["open", "filled", "cancelled"]


class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str
    fields: list[str] = Field(default_factory=list, description="request fields at fault")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class RoleRate(BaseModel):
    role: str = Field(examples=["Senior Consultant"])
    rate: Decimal = Field(description="hourly rate in the card's currency", examples=["240"])


class RateCard(BaseModel):
    code: str = Field(examples=["STD-USD-2026"])
    currency: Currency
    active: bool = Field(description="only active cards can be used by new projects")
    rates: list[RoleRate]


class RateCardList(BaseModel):
    data: list[RateCard]


class MilestoneInput(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    due_date: date
    amount: Money


class Milestone(BaseModel):
    id: str = Field(examples=["MS-001043"])
    name: str
    due_date: date
    amount: Decimal


class ProjectInput(BaseModel):
    external_id: str = Field(
        min_length=1, max_length=255, description="the caller's unique id for this project"
    )
    name: str = Field(min_length=1, max_length=255)
    customer_name: str = Field(min_length=1, max_length=255)
    erp_project_id: str = Field(min_length=1, max_length=64)
    currency: Currency
    budget: Money
    billing_type: BillingType
    rate_card: str = Field(description="code of an active rate card in the same currency")
    start_date: date
    milestones: list[MilestoneInput] = Field(
        default_factory=list, description="for Fixed Fee projects, amounts sum to the budget"
    )


class Project(BaseModel):
    id: str = Field(examples=["PRJ-001042"])
    external_id: str
    name: str
    customer_name: str
    erp_project_id: str
    status: ProjectStatus
    currency: Currency
    budget: Decimal
    billing_type: BillingType
    rate_card: str
    start_date: date
    milestones: list[Milestone]


class ProjectList(BaseModel):
    data: list[Project]


class MilestoneList(BaseModel):
    data: list[Milestone]


class StaffingRequestInput(BaseModel):
    role: str = Field(description="a role on the project's rate card")
    hours: Decimal = Field(gt=0, decimal_places=2, examples=["320.00"])
    start_date: date


class StaffingRequest(BaseModel):
    id: str = Field(examples=["SR-001043"])
    project_id: str
    role: str
    hours: Decimal
    start_date: date
    status: StaffingStatus


class StaffingRequestList(BaseModel):
    data: list[StaffingRequest]


# ---- the PSA's rules


class PsaService:
    """Projects, milestones and staffing requests, kept by the PSA's rules."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def rate_card(self, code: str) -> RateCard | None:
        record = self.store.get(RATE_CARD, code)
        return RateCard.model_validate(record) if record else None

    def rate_cards(self, active: bool | None) -> list[RateCard]:
        cards = [RateCard.model_validate(r) for r in self.store.all(RATE_CARD)]
        return [c for c in cards if active is None or c.active == active]

    def project(self, project_id: str) -> Project:
        record = self.store.get(PROJECT, project_id)
        if record is None:
            raise _not_found("project", project_id)
        return Project.model_validate(record)

    def projects(self, external_id: str | None, status: str | None) -> list[Project]:
        if external_id is not None:
            records = self.store.find(PROJECT, external_id=external_id)
            projects = [Project.model_validate(r) for r in records]
        else:
            projects = [Project.model_validate(r) for r in self.store.all(PROJECT)]
        return [p for p in projects if status is None or p.status == status]

    def _project_problems(self, data: ProjectInput) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        card = self.rate_card(data.rate_card)
        if card is None:
            problems.append(("rate_card", f"rate card {data.rate_card} does not exist"))
        elif not card.active:
            problems.append(("rate_card", f"rate card {data.rate_card} is inactive"))
        elif card.currency != data.currency:
            problems.append(
                ("currency", f"{data.currency} differs from {card.code}'s {card.currency}")
            )
        total = sum((m.amount for m in data.milestones), Decimal(0))
        if data.billing_type == "Fixed Fee" and total != data.budget:
            problems.append(
                ("milestones", f"Fixed Fee milestones sum to {total}, not the budget {data.budget}")
            )
        return problems

    def create_project(self, data: ProjectInput) -> Project:
        problems = self._project_problems(data)
        if problems:
            message = "; ".join(f"{field}: {text}" for field, text in problems)
            raise ApiError(422, "validation_error", message, [f for f, _ in problems])
        existing = self.store.id_for_external(PROJECT, data.external_id)
        if existing:
            raise ApiError(
                409, "conflict", f"external_id {data.external_id} already exists as {existing}"
            )
        milestones = [
            Milestone(id=new_id(self.store, "MS"), **m.model_dump()) for m in data.milestones
        ]
        fields = data.model_dump(exclude={"milestones"})
        project = Project(
            id=new_id(self.store, "PRJ"), status="active", milestones=milestones, **fields
        )
        record = project.model_dump(mode="json")
        self.store.insert(PROJECT, project.id, record, external_id=project.external_id)
        return project

    def archive_project(self, project_id: str) -> Project:
        project = self.project(project_id)
        if project.status != "archived":
            self.store.update(PROJECT, project_id, {"status": "archived"})
            # An archived project frees its external id for a new project.
            self.store.set_external_id(PROJECT, project_id, None)
            for request in self.staffing_requests(project_id):
                if request.status == "open":
                    self.store.update(STAFFING_REQUEST, request.id, {"status": "cancelled"})
        return self.project(project_id)

    def staffing_request(self, request_id: str) -> StaffingRequest:
        record = self.store.get(STAFFING_REQUEST, request_id)
        if record is None:
            raise _not_found("staffing request", request_id)
        return StaffingRequest.model_validate(record)

    def staffing_requests(self, project_id: str) -> list[StaffingRequest]:
        self.project(project_id)
        records = self.store.find(STAFFING_REQUEST, project_id=project_id)
        return [StaffingRequest.model_validate(r) for r in records]

    def create_staffing_request(
        self, project_id: str, data: StaffingRequestInput
    ) -> StaffingRequest:
        project = self.project(project_id)
        if project.status != "active":
            raise ApiError(409, "conflict", f"project {project_id} is {project.status}")
        card = self.rate_card(project.rate_card)
        if card is None or data.role not in {r.role for r in card.rates}:
            message = f"role {data.role} is not on rate card {project.rate_card}"
            raise ApiError(422, "validation_error", message, ["role"])
        request = StaffingRequest(
            id=new_id(self.store, "SR"), project_id=project_id, status="open", **data.model_dump()
        )
        self.store.insert(STAFFING_REQUEST, request.id, request.model_dump(mode="json"))
        return request

    def cancel_staffing_request(self, request_id: str) -> StaffingRequest:
        request = self.staffing_request(request_id)
        if request.status == "filled":
            raise ApiError(409, "conflict", f"staffing request {request_id} is already filled")
        if request.status == "open":
            self.store.update(STAFFING_REQUEST, request_id, {"status": "cancelled"})
        return self.staffing_request(request_id)


# ---- idempotency keys

Outcome = tuple[int, dict[str, Any]]


def _outcome(action: Callable[[], BaseModel], status: int) -> Outcome:
    try:
        return status, action().model_dump(mode="json")
    except ApiError as exc:
        return exc.status, exc.body()


def _fingerprint(request: Request, payload: BaseModel | None) -> str:
    body = payload.model_dump(mode="json") if payload is not None else None
    text = json.dumps([request.method, request.url.path, body], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Idempotency:
    """Stripe-style Idempotency-Key handling around every write, one write at a time."""

    def __init__(self, store: RecordStore, lock: threading.RLock) -> None:
        self.store = store
        self.lock = lock

    def respond(
        self,
        key: str | None,
        request: Request,
        payload: BaseModel | None,
        action: Callable[[], BaseModel],
        status: int = 200,
    ) -> JSONResponse:
        """Run the write once per key and answer what it answered the first time."""
        with self.lock:
            if key is None:
                result, body = _outcome(action, status)
                return JSONResponse(body, result)
            fingerprint = _fingerprint(request, payload)
            seen = self.store.remembered(key)
            if seen is not None:
                return self._replay(key, fingerprint, seen)
            result, body = _outcome(action, status)
            if result != 422:
                self.store.remember(key, result, {"fingerprint": fingerprint, "body": body})
            return JSONResponse(body, result)

    def _replay(self, key: str, fingerprint: str, seen: tuple[int, Any]) -> JSONResponse:
        status, saved = seen
        if saved["fingerprint"] != fingerprint:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"Idempotency-Key {key} was used for a different request",
                ["Idempotency-Key"],
            )
        return JSONResponse(saved["body"], status, headers={"Idempotent-Replayed": "true"})


# ---- routes

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="replays the first response for a repeat of the same request",
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (401, 404, 409, 422)
}


def _read_routes(router: APIRouter, psa: PsaService) -> None:
    @router.get("/rate-cards", tags=["rate cards"])
    def list_rate_cards(active: bool | None = None) -> RateCardList:
        """Every rate card, optionally only the active (or inactive) ones."""
        return RateCardList(data=psa.rate_cards(active))

    @router.get("/rate-cards/{code}", tags=["rate cards"])
    def get_rate_card(code: str) -> RateCard:
        """One rate card by its code."""
        card = psa.rate_card(code)
        if card is None:
            raise _not_found("rate card", code)
        return card

    @router.get("/projects", tags=["projects"])
    def list_projects(
        external_id: str | None = None, status: Annotated[ProjectStatus | None, Query()] = None
    ) -> ProjectList:
        """Projects, filtered by external id and/or status."""
        return ProjectList(data=psa.projects(external_id, status))

    @router.get("/projects/{project_id}", tags=["projects"])
    def get_project(project_id: str) -> Project:
        """One project with its milestones."""
        return psa.project(project_id)

    @router.get("/projects/{project_id}/milestones", tags=["projects"])
    def list_milestones(project_id: str) -> MilestoneList:
        """A project's milestones, in due order as given."""
        return MilestoneList(data=psa.project(project_id).milestones)

    @router.get("/projects/{project_id}/staffing-requests", tags=["staffing requests"])
    def list_staffing_requests(project_id: str) -> StaffingRequestList:
        """Every staffing request of a project, whatever its status."""
        return StaffingRequestList(data=psa.staffing_requests(project_id))

    @router.get("/staffing-requests/{request_id}", tags=["staffing requests"])
    def get_staffing_request(request_id: str) -> StaffingRequest:
        """One staffing request."""
        return psa.staffing_request(request_id)


def _write_routes(router: APIRouter, psa: PsaService, idem: Idempotency) -> None:
    @router.post("/projects", status_code=201, response_model=Project, tags=["projects"])
    def create_project(
        data: ProjectInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Create an active project with its milestones. The rate card must be active and in
        the project's currency; a Fixed Fee project's milestones must sum to its budget."""
        return idem.respond(key, request, data, partial(psa.create_project, data), 201)

    @router.post("/projects/{project_id}/archive", response_model=Project, tags=["projects"])
    def archive_project(
        project_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Archive a project and cancel its open staffing requests. Archiving an archived
        project answers it unchanged."""
        return idem.respond(key, request, None, partial(psa.archive_project, project_id))

    @router.post(
        "/projects/{project_id}/staffing-requests",
        status_code=201,
        response_model=StaffingRequest,
        tags=["staffing requests"],
    )
    def create_staffing_request(
        project_id: str, data: StaffingRequestInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Open a staffing request on an active project, for a role on its rate card."""
        action = partial(psa.create_staffing_request, project_id, data)
        return idem.respond(key, request, data, action, 201)

    @router.post(
        "/staffing-requests/{request_id}/cancel",
        response_model=StaffingRequest,
        tags=["staffing requests"],
    )
    def cancel_staffing_request(
        request_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Cancel an open staffing request; cancelling a cancelled one answers it unchanged.
        A filled request cannot be cancelled (409)."""
        return idem.respond(key, request, None, partial(psa.cancel_staffing_request, request_id))


def _unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "a valid bearer token is required")


def api_router(psa: PsaService, idem: Idempotency, issuer: TokenIssuer) -> APIRouter:
    """Every /api/v1 route, behind the bearer token."""
    oauth = OAuth2(
        flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_PATH)),
        scheme_name="OAuth2ClientCredentials",
        auto_error=False,
    )
    router = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(oauth), Depends(bearer_required(issuer, _unauthorized))],
        responses=ERRORS,
    )
    _read_routes(router, psa)
    _write_routes(router, psa, idem)
    return router


def create_app(db_path: Path, *, client_id: str, client_secret: str) -> FastAPI:
    """The PSA sandbox on a SQLite file, seeded when the file is new."""
    store = RecordStore(db_path)
    if store.is_empty():
        seed(store)
    lock = threading.RLock()

    def reset() -> None:
        with lock:
            store.clear()
            seed(store)

    book = FaultBook()
    issuer = TokenIssuer(client_id, client_secret)
    app = FastAPI(title="PSA API", version="1.0.0", description=DESCRIPTION, openapi_tags=TAGS)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_middleware(FaultMiddleware, book=book, error_body=status_error_body)
    app.include_router(issuer.router(TOKEN_PATH))
    app.include_router(api_router(PsaService(store), Idempotency(store, lock), issuer))
    app.include_router(admin_router(book, reset))
    return app
