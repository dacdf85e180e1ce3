"""CRM sandbox: a local stand-in for Salesforce that speaks the Salesforce REST API's shape.

Routes live under /services/data/{version}/ (any "vNN.N"), tokens come from
/services/oauth2/token, and errors use Salesforce's list body
`[{"message": ..., "errorCode": ..., "fields": [...]}]`.
"""

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from fastapi import FastAPI

from sandbox.auth import validation_answered_400
from sandbox.crm.admin import crm_admin_router
from sandbox.crm.errors import CODES, SalesforceError, error_body, install_error_handlers, not_found
from sandbox.crm.events import crm_events_router
from sandbox.crm.objects import SOBJECTS, STAGES, SObject, normalise_id, validate_changes
from sandbox.crm.paths import API_VERSION, DATA_PREFIX, TOKEN_PATH, VERSION
from sandbox.crm.routes import data_router
from sandbox.crm.seed import seed
from sandbox.crm.service import Crm
from sandbox.faults import FaultBook, FaultMiddleware, admin_router
from sandbox.records import RecordStore
from sandbox.vendor_auth import SalesforceTokens
from sandbox.webhooks import Outbox

# Re-exported: sandbox.crm.app was one module and callers import these from it.
__all__ = [
    "API_VERSION",
    "CODES",
    "DATA_PREFIX",
    "SOBJECTS",
    "STAGES",
    "TOKEN_PATH",
    "VERSION",
    "Crm",
    "SObject",
    "SalesforceError",
    "create_app",
    "error_body",
    "normalise_id",
    "not_found",
    "validate_changes",
]


def create_app(
    db_path: Path,
    *,
    client_id: str,
    client_secret: str,
    username: str | None = None,
    certificate: CertificatePublicKeyTypes | None = None,
    audiences: frozenset[str] = frozenset(),
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    delivery_attempts: int = 5,
    delivery_backoff_seconds: float = 0.5,
) -> FastAPI:
    """The CRM sandbox app on a SQLite file, seeded with demo data when the file is new.

    Opportunity events go to `webhook_url` (when set) as the HCM's worker events do."""
    store = RecordStore(db_path)
    if store.is_empty():
        seed(store)
    crm = Crm(store)
    outbox = Outbox(
        store,
        "CRM",
        webhook_url,
        secret=webhook_secret,
        attempts=delivery_attempts,
        backoff_seconds=delivery_backoff_seconds,
    )

    def reset() -> None:
        outbox.deliverer.cancel_all()
        crm.reset()

    issuer = SalesforceTokens(
        client_id, client_secret, username=username, certificate=certificate, audiences=audiences
    )
    book = FaultBook()
    app = FastAPI(title="psflow CRM sandbox (Salesforce REST)")
    install_error_handlers(app)
    validation_answered_400(app, "Bad request: Salesforce's error list names the problem")
    app.include_router(issuer.router(TOKEN_PATH))
    app.include_router(admin_router(book, reset))
    app.include_router(crm_admin_router(crm))
    app.include_router(crm_events_router(crm, outbox))
    app.include_router(outbox.router())
    app.include_router(data_router(crm, issuer))

    @app.get(DATA_PREFIX)
    def versions() -> list[dict[str, str]]:
        """The API versions this sandbox answers, as Salesforce lists them."""
        return [{"label": "Spring '24", "url": f"{DATA_PREFIX}/{API_VERSION}", "version": "60.0"}]

    app.add_middleware(FaultMiddleware, book=book, error_body=error_body)
    return app
