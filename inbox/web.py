"""What every inbox request shares: the session cookie, CSRF tokens, and security headers.

The session cookie holds the issuer's signed session (security/issuer.py): HttpOnly, Secure,
SameSite=Lax, `__Host-` (no other host or path can set it). Every form that changes something
carries a CSRF token derived from that session, which a page on another site cannot read, and
a POST whose Origin is not the inbox's own is refused.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

SESSION_COOKIE = "__Host-psflow-session"
SIGN_IN_COOKIE = "__Host-psflow-sign-in"
SIGN_IN_TTL = timedelta(minutes=10)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make a form's Origin "null"
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Visitor:
    """A signed-in person: their name, roles, and their session's CSRF token."""

    user: str
    roles: frozenset[str]
    session: str
    csrf: str


def csrf_token(session: str) -> str:
    return hmac.new(session.encode(), b"psflow-inbox-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session: str, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(csrf_token(session), sent)


def same_origin(request: Request, public_url: str) -> bool:
    """A POST from the inbox's own pages: its Origin (or, lacking one, Referer) is the inbox."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if sent is None:
        return True  # not a browser: the CSRF token still has to match
    allowed = {_origin(public_url), _origin(str(request.base_url))}
    return _origin(sent) in allowed


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def set_cookie(response: Response, name: str, value: str, max_age: timedelta) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(max_age.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on the inbox, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
