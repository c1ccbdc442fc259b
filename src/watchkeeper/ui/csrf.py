"""The anti-forgery check that lets the Commands page send a command with its login cookie.

The cookie alone never authorises a write (a browser sends it with requests other sites make
it send). The page's send form posts with a second proof: a token the server renders into the
page, ``HMAC(secret, cookie)``, which the page's own script sends back in the
:data:`HEADER` header. Another site can neither read the page (same-origin policy, the guard's
``Host`` check against re-bound names) nor set a custom header on a cross-site request without
a CORS preflight the server never grants. The secret is drawn per process at first use, so
a restart invalidates open forms (reloading the page renders a fresh token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from watchkeeper.api import cmdsetup
from watchkeeper.api.auth import COOKIE, GRANTS, declares, role_of
from watchkeeper.api.errors import ApiError

HEADER = "x-wk-csrf"


def _secret(request: Request) -> bytes:
    state = request.app.state
    secret: bytes | None = getattr(state, "csrf_secret", None)
    if secret is None:
        secret = state.csrf_secret = secrets.token_bytes(32)
    return secret


def form_token(request: Request) -> str:
    """The token for this visitor's login (anonymous mode: for no login)."""
    cookie = request.cookies.get(COOKIE, "")
    return hmac.new(_secret(request), cookie.encode(), hashlib.sha256).hexdigest()


@declares("admin")
def admin_form_access(request: Request) -> None:
    """A page's write with the cookie: an admin login AND the page's anti-forgery token."""
    tokens: dict[str, str] = request.app.state.settings.tokens
    if tokens:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            raise ApiError(403, "no login: log in on the dashboard first")
        role = role_of(tokens, cookie)
        if role is None or "admin" not in GRANTS[role]:
            raise ApiError(403, f"this login's role ({role}) may not admin")
    presented = request.headers.get(HEADER, "")
    if not presented:
        raise ApiError(403, "the anti-forgery token is missing")
    if not hmac.compare_digest(presented.encode(), form_token(request).encode()):
        raise ApiError(403, "the anti-forgery token does not match; reload the page")


def cookie_sender(request: Request) -> str:
    """Who sent a command from the page: like ``cmdsetup.sender`` for a bearer token."""
    return cmdsetup.token_sender(request, request.cookies.get(COOKIE, ""))
