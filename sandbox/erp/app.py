"""The ERP sandbox: NetSuite's REST record API (SuiteTalk REST, record/v1) over SQLite.

Customers, projects (NetSuite's `job` record), employees and resource allocations can be
created, read, updated, upserted by external id and deleted; subsidiaries, currencies, terms
and departments are read-only reference lists. Time bills, expense reports and invoices live
in tables of their own (billing_store), with a bulk upsertList (postings), invoices drafted
from unbilled time (invoices), a small SuiteQL to read many at once (suiteql) and month-end
volume on demand (volume_seed). This module wires the parts together.
"""

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from fastapi import FastAPI

from sandbox.auth import validation_answered_400
from sandbox.erp import seed as data
from sandbox.erp.billing_routes import billing_router
from sandbox.erp.billing_store import BillingStore
from sandbox.erp.errors import error_body, install_error_handlers
from sandbox.erp.governance import ConcurrencyLimit
from sandbox.erp.metadata import metadata_router
from sandbox.erp.properties import WarningHeader
from sandbox.erp.protocol import RECORD_PATH, TOKEN_PATH
from sandbox.erp.routes import record_router
from sandbox.erp.suiteql import suiteql_router
from sandbox.erp.volume_seed import volume_router
from sandbox.faults import FaultBook, FaultMiddleware, admin_router
from sandbox.records import RecordStore
from sandbox.vendor_auth import NetSuiteTokens

__all__ = ["RECORD_PATH", "TOKEN_PATH", "create_app"]


def create_app(
    db_path: Path,
    *,
    client_id: str,
    client_secret: str,
    certificates: dict[str, CertificatePublicKeyTypes] | None = None,
    account: str = "SANDBOX",
    token_id: str | None = None,
    token_secret: str | None = None,
    concurrency_limit: int = 5,
) -> FastAPI:
    """The ERP sandbox app; seeds its database on first start."""
    store = RecordStore(db_path)
    if store.is_empty():
        data.seed(store)
    billing = BillingStore(db_path)

    def reset() -> None:
        store.clear()
        billing.clear()
        data.seed(store)

    book = FaultBook()
    issuer = NetSuiteTokens(
        client_id,
        client_secret,
        certificates=certificates or {},
        account=account,
        token_id=token_id,
        token_secret=token_secret,
    )
    app = FastAPI(title="psflow ERP sandbox (NetSuite REST record/v1)")
    app.include_router(issuer.router(TOKEN_PATH))
    # Before the generic record routes: their paths are more specific.
    app.include_router(metadata_router(issuer))
    app.include_router(billing_router(store, billing, issuer))
    app.include_router(record_router(store, issuer))
    app.include_router(suiteql_router(store, billing, issuer))
    app.include_router(admin_router(book, reset))
    app.include_router(volume_router(store, billing))
    install_error_handlers(app)
    app.add_middleware(WarningHeader)
    validation_answered_400(app, "Bad request: NetSuite's o:errorDetails names the problem")
    # Added last, so outermost: requests delayed by an injected fault still count as in flight.
    app.add_middleware(FaultMiddleware, book=book, error_body=error_body)
    app.add_middleware(ConcurrencyLimit, limit=concurrency_limit)
    return app
