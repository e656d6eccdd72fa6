"""The ASGI app of `morgue serve`: routes in one list, each HTML page beside its JSON twin.

Pages are built away from the event loop: in the page worker processes when the server runs
several (`scraper.web.pool`: any idle one takes the next request), else in worker threads,
each with its own reader (SQLite connections stay in the thread that opened them), so a slow
search holds up no other request. Archiving a URL runs in a thread of the first process with
its own connections.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.to_thread
import jinja2
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archive.errors import ArchiveError
from archive.query import ArchiveReader
from scraper import __version__
from scraper.cli.support import AppContext
from scraper.web import guard
from scraper.web.archiving import archive_one
from scraper.web.feeds import atom
from scraper.web.openapi import openapi_document
from scraper.web.pool import PagePool
from scraper.web.views import FILTER_KEYS, Views, WebError, day_of

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
ViewName = str  # a method of Views
Endpoint = Callable[[Request], Awaitable[Response]]
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
MAX_FORM_BYTES = 10_000
WORKERS = 8  # threads (each with its own SQLite connection) serving pages at once
# what of a request's ASGI scope a page worker needs to rebuild it (all of it picklable)
_SCOPE_KEYS = (
    "type",
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "root_path",
    "query_string",
    "headers",
    "client",
    "server",
    "path_params",
)
PageReply = tuple[Any, ...]


def _http_url(value: object) -> bool:
    text = str(value or "")
    return text.startswith(("http://", "https://"))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # the templates ship with the code: no stat of each one per page
    )
    env.tests["http_url"] = _http_url
    env.filters["day"] = day_of
    env.filters["clip"] = lambda text, n=300: text if len(text) <= n else text[:n] + "…"
    env.globals["version"] = __version__
    return env


def _marked(hit: dict[str, Any]) -> Markup:
    """The snippet with its matches in <mark>, every piece escaped."""
    return _marks_html(hit["snippet"], hit["marks"])


def _marked_headline(hit: dict[str, Any], limit: int = 300) -> Markup:
    """The headline, cut at `limit` characters, with its matches in <mark> (a listing's
    hits have none)."""
    text: str = hit["headline"]
    marks = [(a, min(b, limit)) for a, b in hit.get("headline_marks", ()) if a < limit]
    cut = text if len(text) <= limit else text[:limit] + "…"
    return _marks_html(cut, marks)


def _marks_html(text: str, marks: list[list[int]] | list[tuple[int, int]]) -> Markup:
    out: list[str] = []
    pos = 0
    for start, end in marks:  # plain strings joined, one Markup at the end
        out.append(escape(text[pos:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:]))
    return Markup("".join(out))


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged)


class Web:
    def __init__(
        self, app: AppContext, token: str | None, open_reader: Callable[[], ArchiveReader]
    ) -> None:
        self.app = app
        self.token = token
        self.open_reader = open_reader
        self.local = threading.local()  # one reader (one SQLite connection) per worker thread
        self.opened: list[ArchiveReader] = []
        self.limiter = anyio.CapacityLimiter(WORKERS)
        self.env = _environment()
        self.env.globals["marked"] = _marked
        self.env.globals["marked_headline"] = _marked_headline
        self.env.globals["query"] = _query
        self.env.globals["chart"] = lambda s: Markup(self.views.chart(s))  # escaped when drawn
        self.blocking: dict[str, Callable[[Request], Response]] = {}  # by name, for workers
        self.pages = PagePool(self.work)  # started by `serving.run` with several processes

    @property
    def reader(self) -> ArchiveReader:
        """This thread's reader: SQLite connections stay in the thread that opened them."""
        reader: ArchiveReader | None = getattr(self.local, "reader", None)
        if reader is None:
            reader = self.open_reader()
            self.local.reader = reader
            self.local.views = Views(reader, self.app, self.token)
            self.opened.append(reader)
        return reader

    @property
    def views(self) -> Views:
        self.reader  # noqa: B018 - opens this thread's reader and views
        views: Views = self.local.views
        return views

    async def in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking work (SQLite, files, templates) in a worker thread: a slow search
        then holds up no other request, and SQLite lets threads run side by side."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def close(self) -> None:
        for reader in self.opened:
            with contextlib.suppress(Exception):  # a connection of another thread
                reader.close()

    def offload(self, name: str, build: Callable[[Request], Response]) -> Endpoint:
        """An endpoint that builds its response away from the event loop: in a page worker
        process when they run, else in a worker thread."""
        self.blocking[name] = build

        async def endpoint(request: Request) -> Response:
            if self.pages.started:
                scope = {k: request.scope[k] for k in _SCOPE_KEYS if k in request.scope}
                return _response(await self.pages.run((name, scope)))
            response: Response = await self.in_thread(build, request)
            return response

        return endpoint

    def work(self, job: tuple[str, dict[str, Any]]) -> PageReply:
        """In a page worker: build one response (`offload`'s job) into picklable parts."""
        name, scope = job
        try:
            response = self.blocking[name](Request(scope))
        except WebError as exc:
            return ("web_error", exc.status, exc.message)
        except Exception:
            log.exception("error serving %s", scope.get("path"))
            return ("error", name)
        return ("ok", response.status_code, response.raw_headers, response.body)

    def html(self, template: str, view: ViewName) -> Endpoint:
        def page(request: Request) -> Response:
            data = getattr(self.views, view)(request)
            return self.render(request, template, data)

        return self.offload(f"html {template} {view}", page)

    def render(
        self, request: Request, template: str, data: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        page = self.env.get_template(template).render(request=request, token=self.token, **data)
        return HTMLResponse(page, status_code=status)

    def api(self, view: ViewName) -> Endpoint:
        def answer(request: Request) -> Response:
            return JSONResponse(getattr(self.views, view)(request))

        return self.offload(f"api {view}", answer)

    def raw(self) -> Endpoint:
        return self.offload("raw", self._raw)

    def _raw(self, request: Request) -> Response:
        try:
            raw = self.reader.raw(request.path_params["sha"])
        except ArchiveError as exc:
            raise WebError(404, str(exc)) from exc
        ctype = raw.content_type
        if not ctype.isascii() or "\n" in ctype or "\r" in ctype:
            ctype = "application/octet-stream"
        headers = {
            "content-security-policy": guard.CSP_RAW,
            "x-content-type-options": "nosniff",
            "cache-control": "private, max-age=3600",
        }
        return Response(raw.body, media_type=ctype, headers=headers)

    async def archive_form(self, request: Request) -> Response:
        csrf = guard.csrf_value(request)
        answer = None
        status = 200
        if request.method == "POST":
            answer, status = await self._archive_post(request)
        response = self.render(request, "archive.html", {"csrf": csrf, "answer": answer}, status)
        response.set_cookie(guard.CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        return response

    async def _archive_post(self, request: Request) -> tuple[dict[str, Any], int]:
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            raise WebError(413, "the form is too large")
        form = await request.form(max_files=0, max_fields=10)
        url = str(form.get("url") or "")
        if not guard.same_origin(request):
            raise WebError(403, "this form only accepts submissions from its own page")
        if not guard.csrf_ok(request, str(form.get("csrf") or "")):
            raise WebError(403, "the form expired or came from elsewhere: reload it and retry")
        if not guard.token_ok(self.token, str(form.get("token") or "") or None):
            raise WebError(403, "wrong or missing token")
        answer = await run_in_threadpool(archive_one, self.app, url)
        return answer.to_json(), 200 if answer.result != "failed" else 422

    async def api_archive(self, request: Request) -> Response:
        if not guard.same_origin(request):
            raise WebError(403, "requests from other sites may not archive")
        if not guard.token_ok(self.token, guard.bearer(request)):
            raise WebError(401, "send the token as 'Authorization: Bearer TOKEN'")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise WebError(415, 'send JSON: {"url": "https://..."}')
        try:
            body = json.loads(await request.body())
            url = body["url"] if isinstance(body, dict) else None
        except (ValueError, KeyError):
            url = None
        if not isinstance(url, str):
            raise WebError(400, 'send JSON: {"url": "https://..."}')
        answer = await run_in_threadpool(archive_one, self.app, url)
        return JSONResponse(answer.to_json(), status_code=200 if answer.result != "failed" else 422)

    def feed(self, changes: bool) -> Endpoint:
        def build(request: Request) -> Response:
            source = request.path_params.get("source")
            if source is not None and source not in self.reader.known_sources():
                raise WebError(404, f"no source named {source!r}")
            base = str(request.base_url).rstrip("/")
            if changes:
                items = self.reader.changes(source)
                title = "morgue: articles that changed"

                def summary(a: Any) -> str:
                    return self.reader.diff(a.id, a.version - 1, a.version).summary()
            else:
                items = self.reader.newest(source)
                title = "morgue: newly archived"

                def summary(a: Any) -> str:
                    return " ".join(b.text for b in a.content.body)[:400]

            if source:
                title += f" ({source})"
            body = atom(title, str(request.url), base, items, summary)
            return Response(body, media_type="application/atom+xml")

        return self.offload(f"feed {changes}", build)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document(__version__))

    def error(self, request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return self.render(request, "error.html", {"status": status, "message": message}, status)

    def routes(self) -> list[Route | Mount]:
        return [
            Route("/", self.html("index.html", "index")),
            Route("/search", self.html("search.html", "search")),
            Route("/articles/{article_id}", self.html("article.html", "article")),
            Route("/articles/{article_id}/v/{version:int}", self.html("article.html", "article")),
            Route("/articles/{article_id}/diff", self.html("diff.html", "diff")),
            Route("/raw/{sha}", self.raw()),
            Route("/sources", self.html("sources.html", "sources")),
            Route("/archive", self.archive_form, methods=["GET", "POST"]),
            Route("/feed.atom", self.feed(changes=False)),
            Route("/changes.atom", self.feed(changes=True)),
            Route("/sources/{source}/feed.atom", self.feed(changes=False)),
            Route("/sources/{source}/changes.atom", self.feed(changes=True)),
            Route("/api/openapi.json", self.openapi),
            Route("/api/articles", self.api("index")),
            Route("/api/search", self.api("search")),
            Route("/api/articles/{article_id}", self.api("article")),
            Route("/api/articles/{article_id}/versions", self.api("versions")),
            Route("/api/articles/{article_id}/v/{version:int}", self.api("article")),
            Route("/api/articles/{article_id}/diff", self.api("diff")),
            Route("/api/raw/{sha}", self.api("raw_meta")),
            Route("/api/sources", self.api("sources")),
            Route("/api/archive", self.api_archive, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]


def create_app(
    open_reader: Callable[[], ArchiveReader],
    app: AppContext,
    *,
    token: str | None = None,
    loopback_only: bool = True,
) -> Starlette:
    """The app over the archive `open_reader` opens (once per worker thread).
    `loopback_only` refuses requests whose Host is not this machine (DNS rebinding: a web
    page cannot reach the server under a name of its own)."""
    web = Web(app, token, open_reader)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        with open_reader() as reader:
            reader.refresh()  # an upgraded or freshly crawled archive is indexed before serving
        try:
            yield
        finally:
            web.close()

    async def web_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebError)
        return web.error(request, exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        text = {404: "no such page", 405: "method not allowed"}.get(exc.status_code, exc.detail)
        return web.error(request, exc.status_code, str(text))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("error serving %s", request.url.path, exc_info=exc)
        return web.error(request, 500, "internal error: see the server's log")

    middleware = [Middleware(guard.SecurityHeaders)]
    if loopback_only:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS))
    starlette = Starlette(
        lifespan=lifespan,
        routes=web.routes(),
        middleware=middleware,
        exception_handlers={
            WebError: web_error,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    starlette.state.pages = web.pages  # `serving.run` starts its workers
    return starlette


def _response(reply: PageReply) -> Response:
    """A page worker's reply as the response (its errors raised again here)."""
    if reply[0] == "web_error":
        raise WebError(reply[1], reply[2])
    if reply[0] != "ok":
        raise RuntimeError(f"a page worker failed building {reply[1]} (see its log)")
    _, status, headers, body = reply
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


__all__ = ["FILTER_KEYS", "create_app"]
