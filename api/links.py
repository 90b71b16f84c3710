"""Links to our own audio, made from the address a request reached the server on.

Playlists are stored with the links of the address they were made for, and a frozen
day is never rewritten: a server reached on another port, host or proxy would send
devices and players to an address that no longer answers. So every answer makes its
links afresh from where it was asked, and only links made outside a request (jobs, the
CLI) use `TRUYENTHANH_PUBLIC_BASE_URL`.
"""

import re
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from api.deps import SettingsDep
from core.settings import Settings

AUDIO_PATH = "/api/v1/audio/"
LIVE_PATH = "/api/v1/live/"  # a live session's stream, played like a relay

# A host name, IPv4 or bracketed IPv6 address, and a port: nothing a client could use
# to put markup, quotes or a path into the links of its own answer.
HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$")


def link_base(scope: Scope, settings: Settings) -> str:
    """The scheme, host and root path the links of an answer to this request start with."""
    headers = Headers(scope=scope)
    scheme, host = scope.get("scheme", "http"), headers.get("host", "")
    if settings.trust_proxy:
        # Only a proxy the operator runs may say where clients reached it.
        scheme = _first(headers.get("x-forwarded-proto")) or scheme
        host = _first(headers.get("x-forwarded-host")) or host
    if scheme not in ("http", "https") or not HOST.match(host):
        return settings.public_base_url  # HTTP/1.0 without a Host, or a malformed one
    return f"{scheme}://{host}{scope.get('root_path', '')}"


def _first(value: str | None) -> str:
    # A chain of proxies appends; the first names what the client asked for.
    return (value or "").split(",")[0].strip()


async def request_link_base(request: Request, settings: SettingsDep) -> str:
    """Dependency: the start of links to our own server, as this caller reached it."""
    return link_base(request.scope, settings)


LinkBase = Annotated[str, Depends(request_link_base)]


def audio_url(base: str, sha256: str) -> str:
    """The link to one of our audio files."""
    return f"{base}{AUDIO_PATH}{sha256}"


def with_links(document: dict[str, Any], base: str) -> dict[str, Any]:
    """A playlist or event document whose links to our own server (audio files, live
    streams) point at `base`; other relays stay as they are."""
    entries = document.get("entries")
    if not entries:
        return document
    return {**document, "entries": [_linked(e, base) for e in entries]}


def _linked(entry: dict[str, Any], base: str) -> dict[str, Any]:
    if entry.get("audio"):
        return {
            **entry,
            "audio": {**entry["audio"], "url": audio_url(base, entry["audio"]["sha256"])},
        }
    relay = entry.get("relay") or {}
    at = relay.get("url", "").find(LIVE_PATH) if relay.get("live") else -1
    if at >= 0:
        return {**entry, "relay": {**relay, "url": base + relay["url"][at:]}}
    return entry


def page_base(request: Request) -> str:
    """The start of links on our pages: a path, which the browser resolves against the page
    at whatever address and scheme it reached it (behind a TLS proxy too)."""
    return request.scope.get("root_path", "")
