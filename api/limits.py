"""Limits on what one request may ask of an API process.

- How many requests run at once. A request holds its database connection from its
  first query to its end, across the thread hops between its dependencies and its
  route. With more requests in flight than connections, every worker thread can end
  up waiting for a connection held by a request that waits for a thread, and the
  process stalls until the pool times out. Letting in no more requests than there are
  connections makes that impossible; the others wait their turn without a thread.
  Event streams give their connection back at once and stay open for days, so they
  are not counted.
- How long a body may take, and who may send one. A request is let in only once its
  body has arrived whole: a dozen clients that sent headers and `{` on a weak link (or
  on purpose) held every slot, and the health check and every device's pull waited
  behind them. A body that pauses longer than `body_timeout_s` gets 408. A body sent
  to the API without a bearer token, or to a web form without a session, is refused
  before it is read.
- How large a request body may be, how many rows one page of a list may hold, and how
  many days a date range may span: a request above a cap is refused with a problem
  report (413 or 422) and changes nothing.
"""

import asyncio
import json
import tempfile
from base64 import b64decode
from datetime import date
from pathlib import Path
from typing import IO, Annotated

import jwt
from fastapi import Query
from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import SAFE_METHODS
from api.problems import problem_response
from api.uploads import MAX_DOCUMENT_BYTES
from audio.store import StoreFullError, reporting_full_disk
from core.errors import InvalidError
from core.identity import DEVICE_TOKEN_PREFIX, JWT_ALGORITHM
from core.settings import Settings

# A live session's stream lasts as long as the speaker talks: it is passed on as it
# arrives (its route caps nothing by length) and holds no slot.
STREAMED_SUFFIXES = ("/ingest",)
UNCOUNTED_SUFFIXES = ("/events/stream", *STREAMED_SUFFIXES)
API_PREFIX = "/api/"
# The one API route that takes a body from anyone: the login itself.
PUBLIC_BODIES = frozenset({"/api/v1/auth/token"})
# A body larger than this waits for its request in a file, not in memory.
SPOOL_BYTES = 1 << 20
REPLAY_CHUNK = 1 << 16

MAX_PAGE = 1000
MAX_RANGE_DAYS = 366

# A `limit` above the cap is refused (422), never silently cut: a client that asked for
# more than it got would think it had everything.
PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"rows per page, at most {MAX_PAGE}")
]
AfterId = Annotated[int, Query(ge=0, description="continue after this id (paging)")]
PageOffset = Annotated[int, Query(ge=0, description="skip this many (paging)")]
# A period's bounds, both days included; `from` is a keyword in Python.
DayFrom = Annotated[date | None, Query(alias="from")]
DayTo = Annotated[date | None, Query(alias="to")]


class ConcurrencyLimit:
    """ASGI middleware: at most `limit` counted requests run at once.

    Inside `BodyLimit`, so a request is counted only once its body has arrived.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(UNCOUNTED_SUFFIXES):
            await self.app(scope, receive, send)
            return
        async with self.slots:
            await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body is capped, its sender known, and it arrives whole
    before the request goes on.

    Without it a route reads any body whole into memory, and waits for it for ever.
    The caps come from the app's settings: `max_body_kb` for JSON, forms and anything
    else, `max_upload_mb` for multipart uploads (whose routes check again as they
    stream to disk), and the documents' cap for text (plans, station lists). A body
    over its cap is refused with 413, before it is read if it says its length, else as
    soon as it grows past the cap.
    """

    def __init__(self, app: ASGIApp, *, session_cookie: str) -> None:
        self.app = app
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, chunked = _framing(scope["headers"])
        if not chunked and length in (None, b"0"):
            await self.app(scope, receive, send)  # no body to wait for
            return
        state = scope["app"].state
        settings: Settings = state.settings
        headers = Headers(scope=scope)
        limit, what = body_limit(settings, headers.get("content-type", ""))
        refusal: Response | None = None
        if length is not None and not length.isdigit():
            refusal = _refusal(400, "Độ dài nội dung (Content-Length) không hợp lệ.")
        elif length is not None and int(length) > limit:
            refusal = _refusal(413, _too_large(limit, what))
        elif scope["method"] in SAFE_METHODS:
            pass  # read, as any body, but anyone may read what these ask for
        elif scope["path"].startswith(API_PREFIX):
            unknown = unknown_caller(settings, headers, scope["path"])
            if unknown is not None:
                refusal = _refusal(401, unknown, headers={"WWW-Authenticate": "Bearer"})
            elif scope["path"].endswith(STREAMED_SUFFIXES):
                await self.app(scope, receive, send)
                return
        elif not holds_form_token(settings, headers.get("cookie", ""), self.session_cookie):
            # Every form checks the token its page put in the session: the page answers
            # as it does to an expired form, without the body it would not read.
            await self.app(scope, _no_body(receive), _closing(send))
            return
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        body = _Body(spool_dir=state.store.tmp)
        try:
            answered = await body.read(
                receive, limit=limit, what=what, max_pause_s=settings.body_timeout_s
            )
            if answered is not None:
                await answered(scope, receive, send)
            elif body.complete:
                await self.app(scope, body.replay(receive), send)
        finally:
            body.close()


def _framing(raw: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bool]:
    # The declared length and whether the body comes in chunks; every request passes here.
    length, chunked = None, False
    for name, value in raw:
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


def _refusal(
    status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    # What is left of the body stays unread on the connection, which therefore cannot
    # carry another request: it is closed after the answer.
    return problem_response(
        status, detail, title=title, headers={**(headers or {}), "Connection": "close"}
    )


def unknown_caller(settings: Settings, headers: Headers, path: str) -> str | None:
    """Why the sender of an API body is unknown from its headers alone, or None.

    A device token is known only to the database, which the route asks; a user's token
    is checked here for its signature and expiry, which need no database.
    """
    if path in PUBLIC_BODIES:
        return None
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "Cần đăng nhập: gửi kèm mã truy cập (Authorization: Bearer …)."
    if token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    try:
        jwt.decode(token, settings.signing_key, algorithms=[JWT_ALGORITHM])
    except jwt.InvalidTokenError:
        return "Mã truy cập không hợp lệ hoặc đã hết hạn; hãy đăng nhập lại."
    return None


def holds_form_token(settings: Settings, cookie: str, name: str) -> bool:
    """Whether the request carries a web session, signed here, that holds a form token."""
    value = cookie_parser(cookie).get(name) if cookie else None
    if not value:
        return False
    # Read as Starlette's SessionMiddleware writes it, which runs later, inside the limit.
    signer = TimestampSigner(settings.signing_key)
    try:
        data = signer.unsign(value.encode(), max_age=settings.session_hours * 3600)
        return "csrf" in json.loads(b64decode(data))
    except (BadSignature, ValueError, TypeError):
        return False


def _no_body(receive: Receive) -> Receive:
    sent = False

    async def empty() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while (message := await receive())["type"] != "http.disconnect":
            pass  # the unread body, not given to the app
        return message

    return empty


def _closing(send: Send) -> Send:
    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
        await send(message)

    return closing


class _Body:
    """A request body read whole before its request is let in: in memory, or in a file
    in the media store's file system once it is larger than SPOOL_BYTES."""

    def __init__(self, *, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        # One buffer, not a list of pieces: a body sent a byte at a time would cost
        # forty times its size in a list.
        self.memory = bytearray()
        self.size = 0
        self.file: IO[bytes] | None = None
        self.complete = False

    async def read(
        self, receive: Receive, *, limit: int, what: str, max_pause_s: int
    ) -> Response | None:
        """Read the body; None once it is whole or the client left, else the refusal."""
        while True:
            try:
                async with asyncio.timeout(max_pause_s):
                    message = await receive()
            except TimeoutError:
                return _refusal(
                    408,
                    f"Không nhận được phần tiếp theo của dữ liệu gửi lên trong {max_pause_s} giây; "
                    "hãy gửi lại.",
                    title="Quá thời gian chờ dữ liệu",
                )
            if message["type"] != "http.request":
                return None  # the client left: no one to answer
            data = message.get("body", b"")
            self.size += len(data)
            if self.size > limit:
                return _refusal(413, _too_large(limit, what))
            try:
                self._keep(data)
            except StoreFullError as exc:
                return _refusal(exc.status, exc.detail)
            if not message.get("more_body", False):
                self.complete = True
                return None

    def _keep(self, data: bytes) -> None:
        if self.file is None and self.size <= SPOOL_BYTES:
            self.memory += data
            return
        with reporting_full_disk():
            if self.file is None:
                self.spool_dir.mkdir(parents=True, exist_ok=True)
                # Closed, and so deleted, by close() once the request is done.
                self.file = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115
                self.file.write(self.memory)
                self.memory = bytearray()
            self.file.write(data)

    def replay(self, receive: Receive) -> Receive:
        """The request's receive: the body as it was read, then the client's own."""
        if self.file is not None:
            self.file.seek(0)
        left = self.size

        async def replayed() -> Message:
            nonlocal left
            if left < 0:
                return await receive()  # after the body: only a disconnect comes
            if self.file is None:
                data = bytes(self.memory)
                self.memory = bytearray()
            else:
                data = self.file.read(REPLAY_CHUNK)
            left -= len(data)
            more = left > 0
            if not more:
                left = -1
            return {"type": "http.request", "body": data, "more_body": more}

        return replayed

    def close(self) -> None:
        """Forget the body; its file, if any, is deleted."""
        self.memory = bytearray()
        if self.file is not None:
            self.file.close()


def body_limit(settings: Settings, content_type: str) -> tuple[int, str]:
    """The largest body accepted with this content type, in bytes, and what people call it."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return settings.max_upload_mb << 20, "Tệp tải lên"
    if media_type.startswith("text/"):
        return max(settings.max_body_kb << 10, MAX_DOCUMENT_BYTES), "Văn bản gửi lên"
    return settings.max_body_kb << 10, "Dữ liệu gửi lên"


def _too_large(limit: int, what: str) -> str:
    # The documents' cap is two million bytes, which people call 2 MB as well.
    for size, unit in ((1 << 20, "MB"), (1_000_000, "MB"), (1 << 10, "KB")):
        if limit % size == 0:
            return f"{what} vượt quá {limit // size} {unit}."
    return f"{what} vượt quá {limit} byte."


def check_range(first: date | None, last: date | None, *, max_days: int = MAX_RANGE_DAYS) -> None:
    """Refuse (422) a `from`..`to` range that ends before it starts or spans over `max_days`."""
    if first is None or last is None:
        return
    if last < first:
        raise InvalidError(
            f"Ngày kết thúc (to = {last:%d/%m/%Y}) đứng trước ngày bắt đầu "
            f"(from = {first:%d/%m/%Y}).",
            errors=[{"field": "to", "msg": "trước ngày bắt đầu"}],
        )
    days = (last - first).days + 1
    if days > max_days:
        raise InvalidError(
            f"Khoảng ngày từ {first:%d/%m/%Y} đến {last:%d/%m/%Y} dài {days} ngày; "
            f"mỗi lần chỉ xem được tối đa {max_days} ngày, hãy chia nhỏ khoảng thời gian.",
            errors=[{"field": "to", "msg": f"quá {max_days} ngày", "max_days": max_days}],
        )
