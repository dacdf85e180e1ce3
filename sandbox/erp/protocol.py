"""NetSuite REST's fixed names: URL paths, headers, paging limit and external id syntax."""

import re

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
RECORD_PATH = "/services/rest/record/v1"
QUERY_PATH = "/services/rest/query/v1"
MAX_PAGE_SIZE = 1000
BEARER = "NetSuiteAccessToken"
BEARER_DESCRIPTION = (
    f"An access token from POST {'/services/rest/auth/oauth2/v1/token'}: OAuth 2.0 client "
    "credentials with a JWT client_assertion (M2M). Accounts on token-based authentication "
    "sign each request instead (Authorization: OAuth realm=..., HMAC-SHA256)."
)
MAX_OFFSET = 2**31 - 1
"""Past any page a record type can have; larger offsets are refused, not overflowed."""
# An external ID may hold letters, digits, _ and - only.
EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]+")
EID_PREFIX = "eid:"
IDEMPOTENCY_HEADER = "X-NetSuite-Idempotency-Key"
