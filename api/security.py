"""Security headers on every response: no sniffing, no framing, no referrer leaks, a CSP.

Web pages get a Content-Security-Policy that allows only this site's own scripts and
styles, so text someone managed to slip into a page still could not run. Everything
that is not a page (JSON, audio, CSV, M3U8) gets a policy that forbids everything and
sandboxes it: even opened directly in a browser, a stored file cannot act as a page.
"""

import base64
import hashlib
from functools import cache
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inline event handlers in api/templates, allowed by hash ('unsafe-hashes' covers
# attributes, nothing else); tests/security checks the list matches the templates.
INLINE_HANDLERS = ("window.print()",)
# Swagger UI starts itself with an inline script; the page shows no stored data.
DOCS_PATHS = frozenset({"/docs"})
NOT_A_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def page_policy(public_base_url: str) -> str:
    """The Content-Security-Policy of the web pages."""
    # Players on the pages open audio by its public URL, which may be another origin.
    parts = urlsplit(public_base_url)
    media = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    handlers = " ".join(_hash(source) for source in INLINE_HANDLERS)
    return (
        "default-src 'self'; "
        f"script-src 'self' 'unsafe-hashes' {handlers}; "
        "style-src 'self'; img-src 'self'; "
        # blob: the announcement page plays back what the microphone just recorded.
        f"media-src 'self' blob:{media}; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def data_headers(*, secure_cookies: bool) -> dict[str, str]:
    """The headers of every answer that is not a page."""
    headers = {
        "Content-Security-Policy": NOT_A_PAGE_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Signed audio links carry their signature in the query string.
        "Referrer-Policy": "same-origin",
    }
    if secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class SecurityHeaders:
    """ASGI middleware adding the headers; a header a route set itself is left alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                page = headers.get("content-type", "").startswith("text/html")
                defaults = data_headers(secure_cookies=settings.secure_cookies)
                if scope["path"] in DOCS_PATHS:
                    defaults["Content-Security-Policy"] = DOCS_POLICY
                elif page:
                    defaults["Content-Security-Policy"] = page_policy(settings.public_base_url)
                    # Pages show names and records: not kept on a shared commune computer.
                    defaults["Cache-Control"] = "no-store"
                for name, value in defaults.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
