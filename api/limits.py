"""How many requests one API process works on at once.

A request holds its database connection from its first query to its end, across the
thread hops between its dependencies and its route. With more requests in flight than
connections, every worker thread can end up waiting for a connection held by a request
that waits for a thread, and the process stalls until the pool times out. Letting in no
more requests than there are connections makes that impossible; the others wait their
turn without a thread. Event streams give their connection back at once and stay open
for days, so they are not counted.
"""

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

UNCOUNTED_SUFFIXES = ("/events/stream",)


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
