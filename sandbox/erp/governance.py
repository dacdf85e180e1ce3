"""NetSuite's concurrency governance: a per-account limit on record and query requests in flight."""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.erp.errors import CONCURRENCY_DETAIL, error_body
from sandbox.erp.protocol import QUERY_PATH, RECORD_PATH


class ConcurrencyLimit:
    """NetSuite's per-account limit on requests in flight (records, SuiteQL); beyond it, 429."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith((RECORD_PATH, QUERY_PATH)):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            body = error_body(429, CONCURRENCY_DETAIL, "CONCURRENCY_LIMIT_EXCEEDED")
            await JSONResponse(body, status_code=429)(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
