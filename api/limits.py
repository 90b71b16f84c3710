"""Limits on what one request may ask of an API process.

- How many requests run at once. A request holds its database connection from its
  first query to its end, across the thread hops between its dependencies and its
  route. With more requests in flight than connections, every worker thread can end
  up waiting for a connection held by a request that waits for a thread, and the
  process stalls until the pool times out. Letting in no more requests than there are
  connections makes that impossible; the others wait their turn without a thread.
  Event streams give their connection back at once and stay open for days, so they
  are not counted.
- How large a request body may be, how many rows one page of a list may hold, and how
  many days a date range may span: a request above a cap is refused with a problem
  report (413 or 422) and changes nothing.
"""

import asyncio
from datetime import date
from typing import Annotated

from fastapi import Query
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from api.uploads import MAX_DOCUMENT_BYTES
from core.errors import InvalidError
from core.settings import Settings

UNCOUNTED_SUFFIXES = ("/events/stream",)
API_PREFIX = "/api/"

MAX_PAGE = 1000
MAX_RANGE_DAYS = 366

# A `limit` above the cap is refused (422), never silently cut: a client that asked for
# more than it got would think it had everything.
PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"rows per page, at most {MAX_PAGE}")
]


class ConcurrencyLimit:
    """ASGI middleware: at most `limit` counted requests run at once."""

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
    """ASGI middleware: an API request body over its cap is refused with 413 before it is read.

    Without it a JSON route reads any body whole into memory. The caps come from the
    app's settings: `max_body_kb` for JSON (and anything else), `max_upload_mb` for
    multipart uploads (whose routes check again as they stream to disk), and the
    documents' cap for text (plans, station lists).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit, what = body_limit(scope["app"].state.settings, headers.get("content-type", ""))
        declared = headers.get("content-length")
        if declared is not None and not declared.isdigit():
            refusal = problem_response(400, "Độ dài nội dung (Content-Length) không hợp lệ.")
            await refusal(scope, receive, send)
            return
        if declared is not None and int(declared) > limit:
            await problem_response(413, _too_large(limit, what))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            # A body sent in chunks, or longer than it said, is counted as it arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit, what))
            return message

        await self.app(scope, counted, send)


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
