"""Oversized request bodies are refused before they are read, over the ASGI protocol the
studio is served with (uvicorn): a 300 MB post from a stranger makes no 300 MB temp file."""

from __future__ import annotations

import asyncio

from django.conf import settings

from studio.bodylimit import BodyLimit

MB = 1024 * 1024


def call(app, *, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    """One HTTP request through `app`: what it answered, and how many body bytes it pulled."""
    sent: list[dict] = []
    pulled = 0
    pending = list(chunks)

    async def receive() -> dict:
        nonlocal pulled
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/create/flux-2/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body.decode(), pulled


async def reads_everything(scope, receive, send) -> None:
    """Like Django's ASGI handler: reads the whole body first, then answers."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


limited = BodyLimit(
    reads_everything, limit=2 * MB, anonymous_limit=64 * 1024, session_cookie="sessionid"
)
SIGNED_IN = (b"cookie", b"csrftoken=x; sessionid=abc")


def test_it_refuses_a_declared_300_mb_from_a_stranger_without_reading_it() -> None:
    status, text, pulled = call(
        limited, headers=[(b"content-length", str(300 * MB).encode())], chunks=[b"x" * MB] * 3
    )
    assert status == 413
    assert "too large: the studio takes at most 64 KB at once" in text
    assert pulled == 0


def test_it_cuts_off_a_chunked_body_once_it_passes_the_limit() -> None:
    status, text, pulled = call(limited, headers=[SIGNED_IN], chunks=[b"x" * MB] * 300)
    assert status == 413
    assert "at most 2 MB" in text
    assert pulled <= 3 * MB  # stopped at the limit, not after 300 MB


def test_a_signed_in_member_may_send_up_to_the_request_limit() -> None:
    status, text, pulled = call(
        limited, headers=[SIGNED_IN, (b"content-length", str(MB).encode())], chunks=[b"x" * MB]
    )
    assert (status, text, pulled) == (200, "ok", MB)
    status, _, pulled = call(
        limited, headers=[SIGNED_IN, (b"content-length", str(3 * MB).encode())], chunks=[b"x"]
    )
    assert (status, pulled) == (413, 0)


def test_the_served_studio_is_wrapped_with_the_configured_limits() -> None:
    from studio.asgi import application

    assert isinstance(application, BodyLimit)
    assert application.limit == settings.MAX_REQUEST_BYTES == settings.MAX_UPLOAD_BYTES + MB
    assert application.anonymous_limit == settings.MAX_ANONYMOUS_REQUEST_BYTES
