"""The API in One client: the only module that speaks HTTP to the upstream.

API reference: https://apiin.one/docs (a copy of the manual is summarised in the README's
"Upstream" section). One function per route; every response shape the docs show is normalised
into `Task` / `ChatReply`; every failure is raised as `UpstreamError`, which knows its type,
whether it is permanent, and whether a create may have reached the upstream (`ambiguous`).

Retries:
- reads (`get_task`) retry on 429, 5xx, timeouts and connection errors, with jittered
  exponential backoff that honours `Retry-After`;
- creates retry only when the request surely did not arrive (connection refused, pool timeout,
  429). A create that may have arrived (read timeout, dropped connection, 5xx) is raised with
  `ambiguous=True`, so the job can be reconciled instead of being paid for twice.
Every request first takes a slot from the account's rate limiter (shared by all workers).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.views.decorators.debug import sensitive_variables

from generations import urlsafety

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
STREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=90.0, write=30.0, pool=5.0)
READ_ATTEMPTS = 5
CREATE_ATTEMPTS = 4
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0

# The studio's own task states; every upstream status word maps onto one of these.
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
_STATUS_WORDS = {
    "pending": QUEUED,
    "queued": QUEUED,
    "submitted": QUEUED,
    "waiting": QUEUED,
    "in_progress": RUNNING,
    "processing": RUNNING,
    "running": RUNNING,
    "generating": RUNNING,
    "text": RUNNING,  # Suno feed stages: text -> first -> complete
    "first": RUNNING,
    "success": SUCCEEDED,
    "succeeded": SUCCEEDED,
    "completed": SUCCEEDED,
    "complete": SUCCEEDED,
    "failed": FAILED,
    "failure": FAILED,
    "error": FAILED,
}
_unknown_words_logged: set[str] = set()

# Error types named by the manual, plus the two the network adds.
INVALID_REQUEST = "invalid_request"
AUTHENTICATION = "authentication_error"
INSUFFICIENT_CREDITS = "insufficient_credits"
NOT_FOUND = "not_found"
RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
TIMEOUT_ERROR = "timeout"
TRANSPORT_ERROR = "transport"
_TYPE_BY_STATUS = {
    400: INVALID_REQUEST,
    401: AUTHENTICATION,
    402: INSUFFICIENT_CREDITS,
    403: AUTHENTICATION,
    404: NOT_FOUND,
    422: INVALID_REQUEST,
    429: RATE_LIMIT,
}
_PERMANENT_TYPES = {INVALID_REQUEST, AUTHENTICATION, INSUFFICIENT_CREDITS, NOT_FOUND}


class UpstreamError(Exception):
    """A failure talking to API in One.

    `permanent`: retrying the same request cannot help (bad input, bad key, no credits, unknown
    task). `ambiguous`: a create may have reached the upstream although no answer came back.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.ambiguous = ambiguous

    @property
    def permanent(self) -> bool:
        return self.kind in _PERMANENT_TYPES

    def __repr__(self) -> str:
        return f"UpstreamError({self.kind!r}, {self.message!r}, status={self.status})"


@dataclass(frozen=True)
class Account:
    """Where and as whom to call: the base URL, the key, and the limiter that paces the key.

    `limiter(rate_key, member)` blocks until the key may send one more request.
    """

    base_url: str
    api_key: str
    member: str | None = None
    limiter: Callable[[str, str | None], None] | None = None
    transport: httpx.BaseTransport | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def rate_key(self) -> str:
        import hashlib

        return hashlib.sha256(self.api_key.encode()).hexdigest()[:32]

    def __repr__(self) -> str:  # never print the key
        return f"Account(base_url={self.base_url!r}, key=…{self.api_key[-4:]})"


@dataclass(frozen=True)
class Task:
    task_id: str
    state: str  # QUEUED | RUNNING | SUCCEEDED | FAILED
    status_word: str
    consumed_credits: Decimal | None = None
    error_message: str = ""
    result_urls: tuple[str, ...] = ()
    created_at: str | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in (SUCCEEDED, FAILED)


@dataclass(frozen=True)
class ChatReply:
    id: str
    content: str
    thoughts: str = ""
    usage: dict = field(default_factory=dict)
    credits_consumed: Decimal | None = None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ChatChunk:
    """One event of a streamed chat reply: a piece of the answer, of the thoughts, or the end."""

    content: str = ""
    thoughts: str = ""
    usage: dict | None = None
    credits_consumed: Decimal | None = None
    done: bool = False


# -- routes -------------------------------------------------------------------------------------


def create_image(account: Account, body: dict) -> Task:
    """POST /images/generations: image models (flux-2, imagen4, seedream, …)."""
    return _create(account, "images/generations", body)


def create_video(account: Account, body: dict) -> Task:
    """POST /videos/generations: video models (kling-3, seedance, pixverse)."""
    return _create(account, "videos/generations", body)


def create_music(account: Account, body: dict) -> Task:
    """POST /audio/music: Suno (inspiration or custom mode) and MiniMax Music."""
    return _create(account, "audio/music", body)


def create_speech(account: Account, body: dict) -> Task:
    """POST /audio/speech: ElevenLabs V3 dialogue."""
    return _create(account, "audio/speech", body)


def remove_background(account: Account, body: dict) -> Task:
    """POST /images/tools/remove-bg: `image` URL; no model field."""
    return _create(account, "images/tools/remove-bg", body)


def face_swap(account: Account, body: dict) -> Task:
    """POST /images/tools/face-swap: `image`, `face_image`, `target_index`, `output_format`."""
    return _create(account, "images/tools/face-swap", body)


def upscale(account: Account, body: dict) -> Task:
    """POST /images/tools/upscale: `image` URL."""
    return _create(account, "images/tools/upscale", body)


def remove_video_background(account: Account, body: dict) -> Task:
    """POST /videos/tools/bg-remover: `video` URL, optional `background_image` URL."""
    return _create(account, "videos/tools/bg-remover", body)


CREATE_BY_ROUTE: dict[str, Callable[[Account, dict], Task]] = {
    "images/generations": create_image,
    "videos/generations": create_video,
    "audio/music": create_music,
    "audio/speech": create_speech,
    "images/tools/remove-bg": remove_background,
    "images/tools/face-swap": face_swap,
    "images/tools/upscale": upscale,
    "videos/tools/bg-remover": remove_video_background,
}


def create_task(account: Account, route: str, body: dict) -> Task:
    """Dispatch to the create function of a catalog route."""
    try:
        create = CREATE_BY_ROUTE[route]
    except KeyError:
        raise ValueError(f"No upstream route {route!r}") from None
    return create(account, body)


def get_task(account: Account, task_id: str) -> Task:
    """GET /tasks/{task_id}: the state, credits and result URLs of any async task."""
    if not task_id or "/" in task_id:
        raise UpstreamError(NOT_FOUND, "That task id is not valid.", status=404)
    response = _send(account, "GET", f"tasks/{task_id}", None, idempotent=True)
    return parse_task(_json(response), fallback_id=task_id)


def check_key(account: Account) -> str:
    """Proves a key is accepted, by looking up a task that does not exist (costs no credits).
    Only a refusal of the key (401, 403, an authentication error) raises AUTHENTICATION; any
    other answer from the service itself (404, 400, 422, a 200 with an error body) shows it
    read the key and is returned, in words. No answer, 429 and 5xx raise as they came: they
    say nothing about the key."""
    try:
        get_task(account, "studio-key-check")
    except UpstreamError as e:
        if e.kind == AUTHENTICATION or e.status in (401, 403):
            raise UpstreamError(AUTHENTICATION, e.message, status=e.status) from e
        if e.status is not None and 400 <= e.status < 500 and e.status != 429:
            return f"HTTP {e.status}: {e.message}"[:200]
        raise
    return "HTTP 200"


def chat(account: Account, body: dict) -> ChatReply:
    """POST /chat/completions with stream=false: the whole reply at once."""
    body = {**body, "stream": False}
    response = _send(account, "POST", "chat/completions", body, idempotent=False)
    return parse_chat(_json(response))


@sensitive_variables()
def chat_stream(account: Account, body: dict) -> Iterator[ChatChunk]:
    """POST /chat/completions with stream=true: SSE in OpenAI chunk format, ending at [DONE]."""
    body = {**body, "stream": True}
    client = _client(account)
    _take_slot(account)
    try:
        with client.stream(
            "POST", "chat/completions", json=body, headers=_headers(account), timeout=STREAM_TIMEOUT
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise _error_from_response(response, ambiguous=response.status_code >= 500)
            for line in response.iter_lines():
                chunk = parse_sse_line(line)
                if chunk is None:
                    continue
                yield chunk
                if chunk.done:
                    return
    except httpx.TimeoutException as e:
        raise UpstreamError(
            TIMEOUT_ERROR, "The chat reply stopped arriving.", ambiguous=True
        ) from e
    except httpx.TransportError as e:
        raise UpstreamError(
            TRANSPORT_ERROR, f"The chat connection broke: {e}", ambiguous=True
        ) from e
    raise UpstreamError(SERVER_ERROR, "The chat stream ended without [DONE].", ambiguous=True)


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str


FETCH_PORTS = (80, 443)
FETCH_REDIRECTS = 3
FETCH_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=30.0, pool=5.0)
FETCH_SECONDS = 300.0  # the whole download, however slowly the bytes trickle in
_REDIRECTS = (301, 302, 303, 307, 308)


def download(
    url: str,
    *,
    max_bytes: int,
    trusted_hosts: Iterable[str] = (),
    ports: Iterable[int] = FETCH_PORTS,
    resolve: urlsafety.Resolver | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Download:
    """Fetches a file from any public http(s) host: results (on the API's CDN, wherever that
    is) and the sandbox's inputs. Every fetch the studio's server makes goes through here.

    The host is resolved once and every address it resolves to must be public (no loopback,
    private, link-local, CGNAT, metadata or reserved range) unless the host is one of
    `trusted_hosts` (named private hosts: the sandbox, an in-house CDN; a name also covers its
    subdomains); the connection goes to a checked address (the name is never resolved twice,
    so DNS rebinding cannot swap it), with the name as Host and TLS server name. Only
    `ports` (80 and 443) unless the host is trusted. Redirects are followed, each hop checked
    again, at most FETCH_REDIRECTS. Never more than `max_bytes`, never longer than FETCH_SECONDS.
    403, 404 and 410 raise NOT_FOUND ("the link has expired")."""
    trusted = [h.lower() for h in trusted_hosts]
    allowed_ports = set(ports)

    def is_trusted(host: str) -> bool:
        return any(host == t or host.endswith("." + t) for t in trusted)

    started = time.monotonic()
    with httpx.Client(
        transport=transport, timeout=FETCH_TIMEOUT, follow_redirects=False, trust_env=False
    ) as session:
        for _hop in range(FETCH_REDIRECTS + 1):
            try:
                target = urlsafety.check_target(url, resolve=resolve, trusted=is_trusted)
            except urlsafety.UnsafeURL as e:
                raise UpstreamError(
                    INVALID_REQUEST, f"Refusing to download {url[:200]!r}: {e.message}"
                ) from None
            if not is_trusted(target.host) and target.port not in allowed_ports:
                raise UpstreamError(
                    INVALID_REQUEST,
                    f"Refusing to download from port {target.port} of {target.host}.",
                )
            response = _fetch_pinned(session, target, max_bytes, started)
            if isinstance(response, str):
                url = response  # a redirect: checked again from the top
                continue
            return response
    raise UpstreamError(INVALID_REQUEST, "The result link redirected too many times.")


def _fetch_pinned(
    session: httpx.Client, target: urlsafety.Target, max_bytes: int, started: float
) -> Download | str:
    """One GET of a checked target, connected to a checked address; a redirect's next URL."""
    parts = httpx.URL(target.url)
    default_port = {"http": 80, "https": 443}[target.scheme]
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    last_error: Exception | None = None
    for address in target.addresses:
        request = session.build_request(
            "GET",
            parts.copy_with(host=address),
            headers={"Host": host_header, "User-Agent": "apiinone-studio"},
            extensions=extensions,
        )
        try:
            response = session.send(request, stream=True)
        except httpx.ConnectError as e:  # the next checked address, if any
            last_error = e
            continue
        except httpx.TimeoutException as e:
            raise UpstreamError(TIMEOUT_ERROR, "The result download timed out.") from e
        except httpx.TransportError as e:
            raise UpstreamError(TRANSPORT_ERROR, f"The result download broke: {e}") from e
        try:
            return _read_download(response, target, max_bytes, started)
        finally:
            response.close()
    raise UpstreamError(
        TRANSPORT_ERROR, f"Could not connect to {target.host} to download: {last_error}"
    )


def _read_download(
    response: httpx.Response, target: urlsafety.Target, max_bytes: int, started: float
) -> Download | str:
    status = response.status_code
    if status in _REDIRECTS and response.headers.get("Location"):
        return str(httpx.URL(target.url).join(response.headers["Location"]))
    if status in (403, 404, 410):
        raise UpstreamError(NOT_FOUND, "The result link has expired.", status=status)
    if status >= 400:
        response.read()
        raise _error_from_response(response)
    declared = response.headers.get("Content-Length") or "0"
    if declared.isdigit() and int(declared) > max_bytes:
        raise UpstreamError(INVALID_REQUEST, "The result is larger than the studio keeps.")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamError(INVALID_REQUEST, "The result is larger than the studio keeps.")
            if time.monotonic() - started > FETCH_SECONDS:
                raise UpstreamError(TIMEOUT_ERROR, "The result download took too long.")
            chunks.append(chunk)
    except httpx.TimeoutException as e:
        raise UpstreamError(TIMEOUT_ERROR, "The result download timed out.") from e
    except httpx.TransportError as e:
        raise UpstreamError(TRANSPORT_ERROR, f"The result download broke: {e}") from e
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    return Download(b"".join(chunks), content_type)


# -- parsing ------------------------------------------------------------------------------------


def normalise_status(word: Any) -> str:
    """Map any upstream status word (any case) to a studio state; unknown words mean running."""
    key = str(word or "").strip().lower().replace("-", "_").replace(" ", "_")
    state = _STATUS_WORDS.get(key)
    if state is None:
        if key not in _unknown_words_logged:
            _unknown_words_logged.add(key)
            logger.warning("Unknown upstream status word %r; treating it as still running", word)
        return RUNNING
    return state


def _unwrap(payload: Any) -> dict:
    """Strip the {code, message|msg, data} envelope when there is one."""
    if not isinstance(payload, dict):
        raise UpstreamError(SERVER_ERROR, "The upstream answered with something that is not JSON.")
    if "error" in payload and isinstance(payload["error"], dict):
        error = payload["error"]
        status = _as_int(error.get("code"))
        kind = error.get("type") or _TYPE_BY_STATUS.get(status or 0, SERVER_ERROR)
        raise UpstreamError(kind, str(error.get("message") or kind), status=status)
    if "data" in payload and ("code" in payload or "message" in payload or "msg" in payload):
        code = _as_int(payload.get("code"))
        if code is not None and code >= 400:
            message = str(payload.get("message") or payload.get("msg") or "error")
            kind = _TYPE_BY_STATUS.get(code, SERVER_ERROR if code >= 500 else INVALID_REQUEST)
            raise UpstreamError(kind, message, status=code)
        data = payload.get("data")
        return data if isinstance(data, dict) else {}
    return payload


def parse_task(payload: Any, *, fallback_id: str = "") -> Task:
    data = _unwrap(payload)
    task_id = str(data.get("task_id") or data.get("taskId") or data.get("id") or fallback_id)
    if not task_id:
        raise UpstreamError(SERVER_ERROR, "The upstream accepted the job but sent no task id.")
    word = data.get("status") or data.get("type") or ("pending" if not fallback_id else "")
    return Task(
        task_id=task_id,
        state=normalise_status(word),
        status_word=str(word),
        consumed_credits=_as_decimal(data.get("consumed_credits", data.get("credits_consumed"))),
        error_message=str(data.get("error_message") or data.get("fail_message") or ""),
        result_urls=tuple(_result_urls(data)),
        created_at=data.get("created_at"),
        raw=data,
    )


def _result_urls(data: dict) -> list[str]:
    response = data.get("response")
    urls: list[str] = []
    if isinstance(response, str):
        response = [response]
    if isinstance(response, list):
        for item in response:
            if isinstance(item, str):
                urls.append(item)
            elif isinstance(item, dict):
                urls.extend(str(item[k]) for k in ("url", "audio_url", "video_url") if item.get(k))
    for item in data.get("response_data") or []:  # Suno feed shape
        if isinstance(item, dict) and item.get("audio_url"):
            urls.append(str(item["audio_url"]))
    for key in ("images", "result_urls"):
        if isinstance(data.get(key), list):
            urls.extend(str(u) for u in data[key] if isinstance(u, str))
    return [u for u in urls if u.startswith(("http://", "https://"))]


def parse_chat(payload: Any) -> ChatReply:
    data = _unwrap(payload)
    choices = data.get("choices") or [{}]
    message = choices[0].get("message") or {}
    return ChatReply(
        id=str(data.get("id") or ""),
        content=str(message.get("content") or ""),
        thoughts=str(message.get("reasoning_content") or message.get("thoughts") or ""),
        usage=data.get("usage") or {},
        credits_consumed=_as_decimal(data.get("credits_consumed")),
        raw=data,
    )


def parse_sse_line(line: str) -> ChatChunk | None:
    """One line of the SSE stream; None for blank lines, comments and other fields."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return ChatChunk(done=True)
    try:
        event = json.loads(data)
    except ValueError:
        logger.warning("Skipping an SSE event that is not JSON: %.80s", data)
        return None
    if isinstance(event, dict) and "error" in event:
        _unwrap(event)
    choices = event.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    return ChatChunk(
        content=str(delta.get("content") or ""),
        thoughts=str(delta.get("reasoning_content") or delta.get("thoughts") or ""),
        usage=event.get("usage"),
        credits_consumed=_as_decimal(event.get("credits_consumed")),
    )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_decimal(value: Any) -> Decimal | None:
    """Credits as an exact Decimal; None for missing or malformed values (never a guess)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


# -- transport ----------------------------------------------------------------------------------

_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(account: Account) -> httpx.Client:
    key = (account.base_url, id(account.transport))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = httpx.Client(
                base_url=account.base_url.rstrip("/") + "/",
                timeout=TIMEOUT,
                transport=account.transport,
                headers={"User-Agent": "apiinone-studio"},
            )
            _clients[key] = client
    return client


@sensitive_variables()
def _headers(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.api_key}", **account.extra_headers}


def _take_slot(account: Account) -> None:
    if account.limiter is None:
        return
    try:
        account.limiter(account.rate_key, account.member)
    except TimeoutError as e:  # nothing was sent: a create may be tried again later
        raise UpstreamError(RATE_LIMIT, f"Waiting for the rate limit: {e}") from e


def _create(account: Account, route: str, body: dict) -> Task:
    response = _send(account, "POST", route, body, idempotent=False)
    return parse_task(_json(response))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamError(
            SERVER_ERROR, "The upstream answered with something that is not JSON.", status=502
        ) from None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_from_response(response: httpx.Response, *, ambiguous: bool = False) -> UpstreamError:
    status = response.status_code
    kind = _TYPE_BY_STATUS.get(status, SERVER_ERROR if status >= 500 else INVALID_REQUEST)
    message = f"HTTP {status}"
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error") if isinstance(payload.get("error"), dict) else payload
        message = str(error.get("message") or error.get("msg") or message)
        kind = str(error.get("type") or kind) if isinstance(payload.get("error"), dict) else kind
    return UpstreamError(
        kind, message, status=status, retry_after=_retry_after(response), ambiguous=ambiguous
    )


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: full jitter, at least what Retry-After asks."""
    delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@sensitive_variables()  # an error report below here would show the Authorization header
def _send(
    account: Account, method: str, path: str, body: dict | None, *, idempotent: bool
) -> httpx.Response:
    client = _client(account)
    attempts = READ_ATTEMPTS if idempotent else CREATE_ATTEMPTS
    last_error: UpstreamError | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff(attempt - 1, last_error.retry_after if last_error else None))
        _take_slot(account)
        try:
            response = client.request(method, path, json=body, headers=_headers(account))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
            # The request never left: safe to send again, even a create.
            last_error = UpstreamError(TRANSPORT_ERROR, f"Could not connect to the upstream: {e}")
            continue
        except httpx.TimeoutException as e:
            last_error = UpstreamError(
                TIMEOUT_ERROR, "The upstream did not answer in time.", ambiguous=not idempotent
            )
            if idempotent:
                continue
            raise last_error from e
        except httpx.TransportError as e:
            last_error = UpstreamError(
                TRANSPORT_ERROR, f"The connection broke mid-request: {e}", ambiguous=not idempotent
            )
            if idempotent:
                continue
            raise last_error from e
        if response.status_code < 400:
            return response
        if response.status_code == 429:
            last_error = _error_from_response(response)
            continue  # a 429 is a refusal: nothing was done, so even a create may be resent
        if response.status_code >= 500:
            last_error = _error_from_response(response, ambiguous=not idempotent)
            if idempotent:
                continue
            raise last_error
        raise _error_from_response(response)
    assert last_error is not None
    raise last_error
