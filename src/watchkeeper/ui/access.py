"""Who may see the pages.

Without tokens (anonymous mode) every page is open. With tokens, a page needs the ``read`` role:
the token comes from the login form (``/login``), or once in the URL as ``?token=`` (handy for
a wall screen); either way it is kept in an HttpOnly cookie that the API also accepts for reads,
so the pages' scripts and the live stream work without handling the token themselves.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from watchkeeper.api.auth import COOKIE, GRANTS, check, declares, public, role_of
from watchkeeper.api.body import read_body
from watchkeeper.api.errors import ApiError
from watchkeeper.ui.render import PageError, render, url_with

#: How long a login lasts (seconds).
COOKIE_AGE = 7 * 86400
#: The largest login form accepted: a token and the page to return to fit many times over, and
#: nobody without a token can make the server hold more (413 beyond it).
LOGIN_MAX_BYTES = 16 * 1024


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class TokenInUrl(Exception):
    """``?token=`` was given: keep it in the cookie and reload the page without it."""

    def __init__(self, token: str, clean_url: str) -> None:
        super().__init__(clean_url)
        self.token = token
        self.clean_url = clean_url


@declares("read")
def page_access(request: Request) -> None:
    """Dependency of every page router: the ``read`` role when tokens are configured."""
    _page_access(request, "read")


@declares("admin")
def admin_page_access(request: Request) -> None:
    """The pages only admins see (the commands sent to agents and their results)."""
    _page_access(request, "admin")


def _page_access(request: Request, role: str) -> None:
    tokens: dict[str, str] = request.app.state.settings.tokens
    if not tokens:
        return
    token = request.query_params.get("token")
    if token is not None:
        if _may_read(tokens, token):
            raise TokenInUrl(token, url_with(request))
        raise PageError(401, "unknown token")
    try:
        check(request, role)
    except ApiError as exc:
        if exc.status == 401:
            raise LoginRequired(url_with(request)) from None
        raise PageError(exc.status, exc.message) from None


def _may_read(tokens: dict[str, str], token: str) -> bool:
    role = role_of(tokens, token)
    return role is not None and "read" in GRANTS[role]


def safe_next(value: str | None) -> str:
    """Only a path on this server may follow a login (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _with_cookie(response: Response, request: Request, token: str) -> Response:
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


router = APIRouter(include_in_schema=False, dependencies=[public()])


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", active="", title="Log in", next=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    body = await read_body(request, LOGIN_MAX_BYTES)
    form = parse_qs(body.decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or ["/"])[0])
    if not _may_read(request.app.state.settings.tokens, token):
        return render(
            request,
            "login.html",
            active="",
            title="Log in",
            next=target,
            error="This token is unknown or may not read.",
            status_code=401,
        )
    return _with_cookie(RedirectResponse(target, status_code=303), request, token)


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def install(app: FastAPI) -> None:
    """The login routes and the handlers that turn access and page errors into pages."""
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)

    @app.exception_handler(TokenInUrl)
    async def _token(request: Request, exc: TokenInUrl) -> Response:
        return _with_cookie(RedirectResponse(exc.clean_url, status_code=303), request, exc.token)

    @app.exception_handler(PageError)
    async def _error(request: Request, exc: PageError) -> Response:
        return render(
            request,
            "error.html",
            active="",
            title="Error",
            message=exc.message,
            status=exc.status,
            status_code=exc.status,
        )


#: For page routers: ``APIRouter(dependencies=[PAGE_ACCESS])``.
PAGE_ACCESS = Depends(page_access)
