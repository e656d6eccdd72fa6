"""What keeps the app safe to run: response headers, the write token and CSRF for the form.

Archived pages are hostile input. The app's own pages allow no script at all and load
nothing from elsewhere (`CSP_APP`); stored pages are served under `CSP_RAW`, a sandbox (no
scripts, an opaque origin) that loads nothing from the live web, with `nosniff`. Writes (the
archive form, POST /api/archive) need the token when one is set, and the form also a CSRF
value bound to a cookie; a write whose Origin is another site is refused either way, so a page
in the user's browser cannot make a loopback-only server fetch URLs.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

CSP_APP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
CSP_RAW = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'self'"
)
CSRF_COOKIE = "morgue_csrf"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: a strict CSP on every response that did not set its own, nosniff,
    no referrer, and no framing by other sites."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": CSP_APP.encode(),
                    b"x-content-type-options": b"nosniff",
                    # same-origin, not no-referrer: with no-referrer a form post says
                    # "Origin: null" and could not be told from a sandboxed frame
                    b"referrer-policy": b"same-origin",
                    b"x-frame-options": b"SAMEORIGIN",
                    b"cross-origin-opener-policy": b"same-origin",
                }
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (or from a sandboxed
    frame, whose origin is "null"); clients that send no Origin (curl, scripts) pass."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def token_ok(expected: str | None, given: str | None) -> bool:
    if expected is None:
        return True
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def csrf_value(request: Request) -> str:
    """The form's CSRF value: the cookie's when it has one, else a new one (set it)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    return current if len(current) == 43 else secrets.token_urlsafe(32)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
