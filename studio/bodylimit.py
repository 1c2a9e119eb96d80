"""Refuses request bodies that are too big before they are read.

Django's ASGI handler reads a whole body into a temporary file before any middleware or view
runs, so a limit inside Django comes too late: this wraps the ASGI application instead. A body
whose `Content-Length` is over the limit is answered 413 at once, without reading it; a body
without one (chunked) is counted as it streams and cut off with 413 when it passes the limit.
Who is not signed in (no session cookie) may send only a small body: log-in, sign-up and
callback forms need no more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class TooLarge(Exception):
    pass


def _sentence(limit: int) -> str:
    megabytes = limit / (1024 * 1024)
    size = f"{megabytes:.0f} MB" if megabytes >= 1 else f"{limit // 1024} KB"
    return (
        f"This request is too large: the studio takes at most {size} at once. "
        "Send a smaller file (or fewer files together)."
    )


class BodyLimit:
    def __init__(self, app, *, limit: int, anonymous_limit: int, session_cookie: str) -> None:
        self.app = app
        self.limit = limit
        self.anonymous_limit = anonymous_limit
        self.session_cookie = session_cookie.encode()

    def limit_for(self, scope: Scope) -> int:
        for name, value in scope.get("headers") or []:
            if name == b"cookie" and self.session_cookie + b"=" in value:
                return self.limit
        return self.anonymous_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._refuse(send, limit)
                    return
        received = 0
        started = False

        async def counted_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except TooLarge:
            if not started:
                await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = _sentence(limit).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
