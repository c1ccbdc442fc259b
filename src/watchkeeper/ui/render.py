"""Rendering pages: the Jinja2 environment, the shared time window and links that keep filters.

Filters and the time window live in the URL (``?since=&until=&agent=...``), so every view can
be bookmarked and shared; :func:`url_with` builds links that change one parameter and keep the
others.
"""

from __future__ import annotations

import math
import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import Response

from watchkeeper import __version__
from watchkeeper.api.auth import COOKIE, role_of
from watchkeeper.api.errors import ApiError
from watchkeeper.api.params import window
from watchkeeper.events.timefmt import iso, seconds_of, strftime
from watchkeeper.ui import palette
from watchkeeper.ui.assets import plotly_url, static_url, vendor_url

TEMPLATES = pathlib.Path(__file__).with_name("templates")

#: The presets of the shared time control, as ``since`` values.
PRESETS = (("15m", "-15m"), ("1h", "-1h"), ("6h", "-6h"), ("24h", "-24h"))
DEFAULT_SINCE = "-1h"
#: How far before its latest activity a fitted window looks for data (seconds).
FIT_LOOKBACK = 3600.0


class PageError(Exception):
    """A page cannot be shown (bad parameter, missing item): rendered as an error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Window:
    """The time window of a page, as written in the URL and as epoch seconds.

    A chart page opened without a window in its URL *fits* it to the data (``fit``): it asks
    for :data:`FIT_LOOKBACK` before the latest activity up to now, and draws the span its data
    covers, padded (``wk.js``). An explicit window (a preset, a custom range, a zoom) is drawn
    as it is.
    """

    since: str
    until: str | None
    start: float
    end: float
    #: When fitted: the latest activity the window looked back from (else ``None``).
    latest: float | None = None
    #: Whether the page can fit its window (and so offers the "fit" choice).
    fits: bool = False

    @property
    def fit(self) -> bool:
        return self.latest is not None

    @property
    def live(self) -> bool:
        """Whether the window ends now (and so moves on as time passes)."""
        return not self.until or self.until.strip() == "now"

    def params(self) -> dict[str, str]:
        out = {"since": self.since}
        if self.until:
            out["until"] = self.until
        return out


def page_window(request: Request, latest: Callable[[], float | None] | None = None) -> Window:
    """The page's window from ``?since=&until=``. Without either, a page that can tell the time
    of the latest activity it shows (``latest``; ``None`` when there is none yet) gets a window
    fitted to its data; any other page gets the last :data:`DEFAULT_SINCE`."""
    since = request.query_params.get("since") or None
    until = request.query_params.get("until") or None
    if since is None and until is None and latest is not None:
        now = time.time()
        last = latest()
        anchor = now if last is None else min(last, now)
        return Window("", None, anchor - FIT_LOOKBACK, now, latest=anchor, fits=True)
    try:
        start, end = window(since or DEFAULT_SINCE, until)
    except ApiError as exc:
        reason = exc.details[0]["reason"] if exc.details else exc.message
        raise PageError(422, f"{exc.message}: {reason}") from None
    return Window(since or DEFAULT_SINCE, until, start, end, fits=latest is not None)


def url_with(request: Request, path: str | None = None, **changes: Any) -> str:
    """This page's URL (or ``path``) with some query parameters changed; ``None`` drops one."""
    params = dict(request.query_params)
    params.pop("token", None)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return (path or request.url.path) + (f"?{query}" if query else "")


def window_query(request: Request) -> str:
    """``?since=..&until=..`` of the current page, for links to other pages."""
    params = {k: request.query_params[k] for k in ("since", "until") if request.query_params.get(k)}
    return f"?{urlencode(params)}" if params else ""


def _seconds(value: str | float) -> float:
    """A time from a view (an API time or epoch seconds); raw text that is not one is NaN."""
    if not isinstance(value, str):
        return value
    try:
        return seconds_of(value)
    except ValueError:
        return math.nan


def when(value: str | float | None) -> str:
    """A time for a table cell: ``2024-05-01 10:00:02`` (UTC); the raw value if no date can
    show it."""
    if value is None:
        return "—"
    ts = _seconds(value)
    shown = strftime(ts, "%Y-%m-%d %H:%M:%S")
    return value if isinstance(value, str) and math.isnan(ts) else shown


def local_input(ts: float) -> str:
    """A time as a ``datetime-local`` input value (UTC, to the second)."""
    return strftime(ts, "%Y-%m-%dT%H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24}h"


def percent(value: float | None) -> str:
    """A progress for reading: ``12.5%``, ``13%``, ``33.3%``; it may exceed 100."""
    if value is None:
        return "—"
    return f"{value:.1f}".removesuffix(".0") + "%"


def ago(value: str | float | None) -> str:
    if value is None:
        return "never"
    return duration(max(0.0, time.time() - _seconds(value))) + " ago"


def badge(kind: str, name: str | None) -> Markup:
    """A coloured label for a status, state or liveness (same colours as the charts)."""
    if not name:
        return Markup('<span class="muted">—</span>')
    return Markup('<span class="badge" style="--c: {}">{}</span>').format(
        palette.colour(kind, name), name
    )


def json_script(value: Any) -> Markup:
    """JSON safe to place inside ``<script type="application/json">``."""
    text = orjson.dumps(value).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.globals.update(
    static_url=static_url,
    plotly_url=plotly_url,
    vendor_url=vendor_url,
    url_with=url_with,
    window_query=window_query,
    badge=badge,
    json_script=json_script,
    presets=PRESETS,
    local_input=local_input,
    iso=iso,
    version=__version__,
    palette=palette.PALETTE,
)
templates.env.filters.update(
    when=when, duration=duration, ago=ago, iso_seconds=_seconds, percent=percent
)


def _logged_in(request: Request, tokens: dict[str, str]) -> bool:
    """Whether this visitor holds a login cookie worth logging out of: never without tokens,
    nor on the login form before anyone logged in."""
    presented = request.cookies.get(COOKIE)
    return bool(tokens) and presented is not None and role_of(tokens, presented) is not None


def render(
    request: Request,
    template: str,
    *,
    active: str,
    title: str,
    window: Window | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    from watchkeeper.ui.pages import NAV  # the registry imports every page module

    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        template,
        {
            "nav": NAV,
            "active": active,
            "title": title,
            "window": window,
            "logged_in": _logged_in(request, settings.tokens),
            **context,
        },
        status_code=status_code,
    )
