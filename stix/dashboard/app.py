"""The dashboard's routes: full pages (complete HTML, no JavaScript needed) and the fragments the page's script
polls to refresh itself. GET only; every value is escaped by Jinja's autoescape."""

from __future__ import annotations

import hmac
import time
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from stix.dashboard import data
from stix.dashboard.chart import cost_chart
from stix.errors import StixError
from stix.home import StixHome

HERE = Path(__file__).parent
COOKIE = "stix_dashboard_token"
REFRESH_MS = 2000
SECTIONS = ("clusters", "managed", "services", "storage", "cost")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _section(home: StixHome, name: str) -> dict[str, Any]:
    """One overview section's values; a read that fails shows its one-line error in the section instead."""
    readers: dict[str, Callable[[], Any]] = {
        "clusters": lambda: data.clusters(home),
        "managed": lambda: data.managed_jobs(home),
        "services": lambda: data.services(home),
        "storage": lambda: data.buckets(home),
        "cost": lambda: cost_chart(data.cost_days(home)),
    }
    try:
        return {"rows": readers[name](), "error": None}
    except StixError as exc:
        return {"rows": [] if name != "cost" else None, "error": exc.message}


def create_app(home: StixHome, token: Optional[str] = None, allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS,
               refresh_ms: int = REFRESH_MS) -> Any:
    """The ASGI app. token: required on every request (query `token=`, then a cookie; or `Authorization: Bearer`)
    when the dashboard listens beyond loopback. allowed_hosts: the Host headers answered (a page on another site
    cannot reach a loopback dashboard through DNS rebinding); empty: any."""
    env = templates()

    def page(template: str, **values: Any) -> Response:
        html = env.get_template(template).render(refresh_ms=refresh_ms, now=time.strftime("%H:%M:%S"), **values)
        return HTMLResponse(html, headers=HEADERS)

    def index(request: Request) -> Response:
        return page("index.html", sections={name: _section(home, name) for name in SECTIONS})

    def fragment(request: Request) -> Response:
        name = request.path_params["section"]
        if name not in SECTIONS:
            return PlainTextResponse(f"no section {name}", status_code=404, headers=HEADERS)
        return page(f"_{name}.html", section=_section(home, name))

    def _detail(request: Request) -> Optional[data.ClusterDetail]:
        job = request.query_params.get("job")
        return data.cluster_detail(home, request.path_params["name"],
                                   int(job) if job and job.isdigit() else None)

    def cluster(request: Request) -> Response:
        detail = _detail(request)
        if detail is None:
            return page("missing.html", name=request.path_params["name"])
        return page("cluster.html", detail=detail, auto_refresh=detail.live)

    def cluster_fragment(request: Request) -> Response:
        detail = _detail(request)
        if detail is None:
            return PlainTextResponse("no such cluster", status_code=404, headers=HEADERS)
        return page("_cluster.html", detail=detail)

    routes = [
        Route("/", index),
        Route("/clusters/{name}", cluster),
        Route("/fragments/cluster/{name}", cluster_fragment),
        Route("/fragments/{section}", fragment),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app: Any = Starlette(routes=routes)
    if token is not None:
        app = TokenGate(app, token)
    if allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app = TrustedHostMiddleware(app, allowed_hosts=list(allowed_hosts))  # IPv6 literals keep their brackets
    return ReadOnly(app)


class ReadOnly:
    """GET and HEAD only, whatever the route."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("the dashboard is read-only", status_code=405, headers={"Allow": "GET, HEAD"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class TokenGate:
    """Every request carries the token: `?token=` (answered with a redirect that sets it as a cookie, so it leaves
    the address bar), the cookie, or an `Authorization: Bearer` header. Compared in constant time."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _matches(self, given: Optional[str]) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if self._matches((query.get("token") or [None])[0]):
            rest = urlencode([(k, v) for k, values in query.items() if k != "token" for v in values])
            target = request.url.path + (f"?{rest}" if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, self.token.decode(), httponly=True, samesite="lax")
            await response(scope, receive, send)
            return
        bearer = request.headers.get("authorization", "")
        given = bearer[7:] if bearer.lower().startswith("bearer ") else request.cookies.get(COOKIE)
        if not self._matches(given):
            response = PlainTextResponse("stix dashboard: a token is required (the URL `stix dashboard` printed)",
                                         status_code=401, headers=HEADERS)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
