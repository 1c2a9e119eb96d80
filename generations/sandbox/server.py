"""A local emulator of API in One: same routes, envelopes, errors, rate limit, prices and
latencies as the manual describes, making real media files.

Run it with `manage.py sandbox --port 8001` (`make run` does), or in-process from tests:

    server = SandboxServer(SandboxConfig(state_dir=tmp, speed=0.01)).start()
    ... server.url ...  # e.g. http://127.0.0.1:40123/api/v1
    server.stop()

Faults can be asked for per request, with an `X-Sandbox-Fault` header or a `[sandbox:...]`
marker in a prompt, or for every request through the config's rates:
  fail           the task ends FAILED            500         answer 500, create nothing
  500-after      create the task, then answer 500 (the client cannot know it exists)
  lost           create the task, then drop the connection without an answer
  429            answer 429 with Retry-After      slow=S      wait S seconds before answering
  credits=N      report N consumed credits (`N.0` as a float, `sN` as a numeric string, or
                 `missing`, `bad` for a malformed value)
  svg            the result is an SVG with a script in it, declared image/svg+xml (what a
                 hostile or broken upstream could send as an "image")
  502            a proxy in front answers 502 with an HTML page (the service never saw it)
  shape=D        answer the create, and word the statuses, in dialect D of DIALECTS,
                 whatever the route's own (the service may answer any route in any of them)
And the field, through the config: results under a second host name (files_host), callbacks
accepted but never delivered (deliver_callbacks), durations off the catalog's (drift).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from generations import catalog, client
from generations.sandbox import media
from generations.sandbox.state import SandboxStore, TaskRow

logger = logging.getLogger("generations.sandbox")

API_PREFIX = "/api/v1/"
KEY_PATTERN = re.compile(r"^aio_[A-Za-z0-9_\-]{8,}$")
HOSTILE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b"<script>document.title = 'svg script ran'; alert('svg script ran')</script>"
    b'<rect width="64" height="64" fill="red"/></svg>'
)
FAULT_MARKER = re.compile(r"\[sandbox:([^\]]+)\]")
MAX_BODY = 2 * 1024 * 1024
MAX_INPUT_DOWNLOAD = 50 * 1024 * 1024

# How each family of routes words its answers: the docs show all of these.
# (create shape, status words for queued, running, succeeded, failed)
DIALECTS = {
    "envelope": ("envelope", "pending", "IN_PROGRESS", "SUCCESS", "FAILED"),
    "flat-id": ("flat-id", "pending", "IN_PROGRESS", "completed", "failed"),
    "flat-task_id": ("flat-task_id", "pending", "IN_PROGRESS", "complete", "failed"),
    "msg-taskId": ("msg-taskId", "pending", "IN_PROGRESS", "SUCCESS", "FAILED"),
    "envelope-no-status": ("envelope-no-status", "pending", "IN_PROGRESS", "SUCCESS", "FAILED"),
}


def _dialect(spec: catalog.ModelSpec, task: TaskRow) -> str:
    """The route's own dialect, unless the task was asked to answer in another (shape=…)."""
    return (task.faults or {}).get("shape") or dialect_for(spec)


# The dialect a model answers in: its own where the docs show one for it, else its route's.
DIALECT_BY_SLUG = {
    "suno": "flat-task_id",  # the Suno generate docs
    "minimax-music": "msg-taskId",
}
DIALECT_BY_ROUTE = {
    "videos/generations": "flat-id",  # the manual's "Response Format" example is kling-3's
    "images/tools/remove-bg": "envelope-no-status",  # the remove-bg example has no status
}


def dialect_for(spec: catalog.ModelSpec) -> str:
    return DIALECT_BY_SLUG.get(spec.slug) or DIALECT_BY_ROUTE.get(spec.route, "envelope")


@dataclass
class SandboxConfig:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 1.0  # multiplies every typical duration; 0.01 makes a 60 s video take 0.6 s
    url_ttl: float = 3600.0  # seconds a result URL stays valid
    rate_limit: int = 60  # requests per minute per key
    rate_window: float = 60.0
    starting_balance: int = 100_000
    failure_rate: float = 0.0  # share of tasks that end FAILED
    error_rate: float = 0.0  # share of requests answered 500 (nothing created)
    lost_rate: float = 0.0  # share of creates whose answer is lost after creating the task
    slow_rate: float = 0.0  # share of requests delayed by slow_seconds
    slow_seconds: float = 5.0
    burst_429_every: int = 0  # every Nth request starts a burst of 429s …
    burst_429_length: int = 3  # … this long
    media_workers: int = 2
    video_long_side: int = 480
    seed: int | None = None
    # The field, as a real network has it (the studio must cope with each):
    # result files on a second host name (a CDN, not the API's host) …
    files_host: str = "localhost"
    # … callbacks accepted but never delivered (the studio not reachable from the internet) …
    deliver_callbacks: bool = True
    # … and real durations off the catalog's by this factor, unknown to the studio (speed is
    # known to it: the studio scales its expectations by SANDBOX_SPEED).
    drift: float = 1.0
    # Private hosts the emulator fetches inputs from (the studio beside it); any public host too.
    input_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")


@dataclass
class Faults:
    fail: bool = False
    error_500: bool = False
    error_500_after: bool = False
    lost: bool = False
    too_many: bool = False
    slow: float = 0.0
    credits: str | None = None
    svg: bool = False
    proxy_502: bool = False
    shape: str | None = None  # answer in this dialect (DIALECTS), whatever the route's own

    @classmethod
    def parse(cls, text: str) -> Faults:
        faults = cls()
        for word in (w.strip().lower() for w in text.split(",")):
            if word == "fail":
                faults.fail = True
            elif word == "500":
                faults.error_500 = True
            elif word == "500-after":
                faults.error_500_after = True
            elif word == "lost":
                faults.lost = True
            elif word == "429":
                faults.too_many = True
            elif word.startswith("slow="):
                faults.slow = float(word[5:] or 0)
            elif word.startswith("credits="):
                faults.credits = word[8:]
            elif word == "svg":
                faults.svg = True
            elif word == "502":
                faults.proxy_502 = True
            elif word.startswith("shape="):  # words are read lower-cased
                faults.shape = next((d for d in DIALECTS if d.lower() == word[6:]), None)
        return faults

    def merge(self, other: Faults) -> Faults:
        return Faults(
            fail=self.fail or other.fail,
            error_500=self.error_500 or other.error_500,
            error_500_after=self.error_500_after or other.error_500_after,
            lost=self.lost or other.lost,
            too_many=self.too_many or other.too_many,
            slow=max(self.slow, other.slow),
            credits=self.credits or other.credits,
            svg=self.svg or other.svg,
            proxy_502=self.proxy_502 or other.proxy_502,
            shape=self.shape or other.shape,
        )


class ApiError(Exception):
    TYPES = {
        400: "invalid_request",
        401: "authentication_error",
        402: "insufficient_credits",
        404: "not_found",
        429: "rate_limit",
        500: "server_error",
    }

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def body(self) -> dict:
        return {
            "error": {"code": self.status, "message": self.message, "type": self.TYPES[self.status]}
        }


class RateLimiter:
    """The upstream's limit: at most `limit` accepted requests per key in any sliding window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.accepted: dict[str, list[float]] = {}  # every accepted request, for tests to audit
        self.rejected = 0

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                self.rejected += 1
                retry_after = max(1, math.ceil(hits[0] + self.window - now))
                raise ApiError(
                    429, "Rate limit exceeded: 60 requests per minute.", retry_after=retry_after
                )
            hits.append(now)
            self.accepted.setdefault(key, []).append(time.time())


def _find_spec(route: str, body: dict) -> catalog.ModelSpec:
    model = body.get("model")
    spec = catalog.find_upstream(route, model if isinstance(model, str) else None)
    if spec is None and not model and route == "audio/music":
        spec = catalog.get("suno")  # the music route defaults to Suno's chirp-v3-5
    if spec is not None:
        return spec
    if not any(s.route == route for s in catalog.MODELS.values()):
        raise ApiError(404, f"No such endpoint: /{route}")
    if not model:
        raise ApiError(400, "The 'model' field is required.")
    raise ApiError(400, f"Unknown model {model!r} for /{route}.")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sandbox:
    """The emulator's behaviour, separate from HTTP so that it reads top to bottom."""

    def __init__(self, config: SandboxConfig, base_url: Callable[[], str]) -> None:
        self.config = config
        self.state = SandboxStore(config.state_dir, starting_balance=config.starting_balance)
        self.limiter = RateLimiter(config.rate_limit, config.rate_window)
        self.random = random.Random(config.seed)
        self.base_url = base_url
        self._request_count = 0
        self._burst_left = 0
        self._count_lock = threading.Lock()
        self.executor = ThreadPoolExecutor(config.media_workers, thread_name_prefix="sandbox-media")
        self._timers: list[threading.Timer] = []
        self.closed = False

    # -- per-request gates ---------------------------------------------------------------------

    def authenticate(self, header: str | None) -> str:
        if not header or not header.startswith("Bearer "):
            raise ApiError(401, "API key is missing: send 'Authorization: Bearer aio_…'.")
        api_key = header[7:].strip()
        if not KEY_PATTERN.match(api_key):
            raise ApiError(401, "Invalid API key")
        account = self.state.account(api_key)
        if account["revoked"]:
            raise ApiError(401, "This API key has been revoked.")
        return account["key_hash"]

    def configured_faults(self) -> Faults:
        config, rnd = self.config, self.random
        faults = Faults()
        with self._count_lock:
            self._request_count += 1
            if config.burst_429_every and self._request_count % config.burst_429_every == 0:
                self._burst_left = config.burst_429_length
            if self._burst_left > 0:
                self._burst_left -= 1
                faults.too_many = True
        faults.error_500 = rnd.random() < config.error_rate
        faults.lost = rnd.random() < config.lost_rate
        faults.fail = rnd.random() < config.failure_rate
        if rnd.random() < config.slow_rate:
            faults.slow = config.slow_seconds
        return faults

    # -- creating tasks ------------------------------------------------------------------------

    def create(self, route: str, body: dict, digest: str, faults: Faults) -> tuple[dict, TaskRow]:
        spec = _find_spec(route, body)
        if spec.kind == "chat":
            raise ApiError(404, f"No such endpoint: /{route}")
        errors = spec.validate(body)
        if errors:
            name, message = next(iter(errors.items()))
            raise ApiError(400, f"{name}: {message}" if name not in message.lower() else message)
        callback_url = body.get("callback_url")
        if callback_url is not None and not (
            isinstance(callback_url, str) and callback_url.startswith(("http://", "https://"))
        ):
            raise ApiError(400, "callback_url must be an http(s) URL.")
        if callback_url and not spec.callback:
            callback_url = None  # accepted "on supported async tasks" only; ignored elsewhere
        price = spec.estimate(body)
        if not self.state.hold(digest, price):
            raise ApiError(
                402, "Your account has insufficient credits. Purchase more credits to continue."
            )
        now = time.time()
        rnd = random.Random(f"{now}-{uuid.uuid4()}")
        low, high = spec.typical_seconds
        duration = rnd.uniform(low, high) * self.config.speed * self.config.drift
        task = TaskRow(
            id=f"sbx{uuid.uuid4().hex[:20]}_{spec.slug.replace('-', '').replace('.', '')[:10]}",
            key_hash=digest,
            slug=spec.slug,
            route=route,
            request=body,
            faults=faults.__dict__,
            held=price,
            created_at=now,
            started_at=now + duration * 0.15,
            finish_at=now + duration,
            made=False,
            outcome=None,
            error=None,
            credits=None,
            files=[],
            callback_url=callback_url,
            callback_done=False,
        )
        self.state.add_task(task)
        self.executor.submit(self._make, task.id)
        return self.creation_answer(spec, task), task

    def creation_answer(self, spec: catalog.ModelSpec, task: TaskRow) -> dict:
        shape, queued, running, *_ = DIALECTS[_dialect(spec, task)]
        if shape == "flat-id":
            return {
                "id": task.id,
                "status": queued,
                "model": task.request.get("model"),
                "created_at": _iso(task.created_at),
            }
        if shape == "flat-task_id":
            return {
                "task_id": task.id,
                "status": queued,
                "model": task.request.get("model") or "chirp-v3-5",
                "created_at": _iso(task.created_at),
            }
        if shape == "msg-taskId":
            return {"code": 200, "msg": "success", "data": {"taskId": task.id}}
        if shape == "envelope-no-status":
            return {"code": 200, "message": "success", "data": {"task_id": task.id}}
        return {"code": 200, "message": "success", "data": {"task_id": task.id, "status": running}}

    # -- making results ------------------------------------------------------------------------

    def _make(self, task_id: str) -> None:
        if self.closed:
            return
        try:
            self._make_once(task_id)
        except Exception:
            if not self.closed:  # after close() the state is gone; the task resumes on restart
                raise

    def _make_once(self, task_id: str) -> None:
        task = self.state.task(task_id)
        if task is None or task.made or self.closed:
            return
        faults = Faults(**task.faults)
        spec = catalog.MODELS[task.slug]
        files: list[str] = []
        error = None
        try:
            if faults.fail:
                raise MediaFailure("The model could not generate this (sandbox fault injection).")
            files = self._make_svg(task) if faults.svg else self._make_files(spec, task)
        except MediaFailure as e:
            error = str(e)
        except Exception as e:  # a bug in a media maker must still end the task honestly
            logger.exception("sandbox: making %s failed", task_id)
            error = f"Generation failed: {e}"
        if error:
            self.state.refund(task.key_hash, task.held)
            self.state.finish_task(task_id, outcome="failed", error=error, credits=0, files=[])
        else:
            credits = self._consumed(task, faults)
            self.state.finish_task(
                task_id, outcome="succeeded", error=None, credits=credits, files=files
            )
        self._schedule_callback(task_id)

    def _consumed(self, task: TaskRow, faults: Faults) -> Any:
        if faults.credits is None:
            return task.held
        if faults.credits == "missing":
            return None
        if faults.credits == "bad":
            return "lots"
        # As a number (7), a float (7.0) or a numeric string ("s7" answers "7"): the manual
        # shows a number; proxies and other versions of the service have sent the others.
        text = faults.credits.removeprefix("s")
        value = int(float(text))
        # A charge above the hold is taken from the balance too: the job was run.
        if value != task.held:
            self.state.refund(task.key_hash, task.held - value)
        if faults.credits.startswith("s"):
            return text
        return float(text) if "." in text else value

    def _make_files(self, spec: catalog.ModelSpec, task: TaskRow) -> list[str]:
        outputs = maker_for(spec)(self, Job.of(spec, task))
        names = []
        for name, data in outputs:
            path = self.state.file_path(task.id, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            names.append(name)
        return names

    def _make_svg(self, task: TaskRow) -> list[str]:
        path = self.state.file_path(task.id, "image-1.svg")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(HOSTILE_SVG)
        return ["image-1.svg"]

    def _download(self, url: Any) -> bytes:
        """An input file, fetched as the service would: from public hosts, and from the hosts
        this emulator is told are its neighbours (the studio on this machine)."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise MediaFailure("The input URL is not an http(s) URL.")
        try:
            data = client.download(
                url, max_bytes=MAX_INPUT_DOWNLOAD, trusted_hosts=self.config.input_hosts
            ).content
        except client.UpstreamError as e:
            if "larger" in e.message:
                raise MediaFailure("The input file is larger than 50 MB.") from e
            raise MediaFailure(f"Could not download the input file {url}: {e.message}") from e
        if media.sniff(data) is None:
            raise MediaFailure("The input file is not an image, video or audio file.")
        return data

    # -- reading tasks -------------------------------------------------------------------------

    def task_answer(self, task_id: str, digest: str) -> dict:
        task = self.state.task(task_id)
        if task is None or task.key_hash != digest:
            raise ApiError(404, "Task not found.")
        return {"code": 200, "message": "success", "data": self.task_data(task)}

    def task_data(self, task: TaskRow) -> dict:
        spec = catalog.MODELS[task.slug]
        _, queued, running, succeeded, failed = DIALECTS[_dialect(spec, task)]
        now = time.time()
        ended = task.made and now >= task.finish_at
        if ended:
            word = succeeded if task.outcome == "succeeded" else failed
        elif now >= task.started_at:
            word = running
        else:
            word = queued
        return {
            "task_id": task.id,
            "status": word,
            "consumed_credits": task.credits and json.loads(task.credits) if ended else None,
            "error_message": task.error if ended else None,
            "created_at": _iso(task.created_at),
            "request": task.request,
            "response": [self.file_url(task.id, name) for name in task.files] if ended else [],
        }

    def file_url(self, task_id: str, name: str) -> str:
        expires = math.ceil(time.time() + self.config.url_ttl)
        signature = self._sign(task_id, name, expires)
        root = self.base_url()
        if self.config.files_host:  # the same server under its second name, as a CDN would be
            parts = urlsplit(root)
            root = f"{parts.scheme}://{self.config.files_host}:{parts.port}"
        return f"{root}/files/{task_id}/{name}?expires={expires}&sig={signature}"

    def _sign(self, task_id: str, name: str, expires: int) -> str:
        message = f"{task_id}/{name}/{expires}".encode()
        return hmac.new(self.state.url_secret, message, hashlib.sha256).hexdigest()[:32]

    def open_file(self, task_id: str, name: str, query: dict[str, list[str]]) -> Path:
        try:
            expires = int(query["expires"][0])
            signature = query["sig"][0]
        except (KeyError, ValueError, IndexError):
            raise ApiError(404, "Not found.") from None
        if not hmac.compare_digest(signature, self._sign(task_id, name, expires)):
            raise ApiError(404, "Not found.")
        if time.time() > expires:
            raise FileExpired
        path = self.state.file_path(task_id, name)
        if "/" in name or ".." in name or not path.is_file():
            raise ApiError(404, "Not found.")
        return path

    # -- callbacks -----------------------------------------------------------------------------

    def _schedule_callback(self, task_id: str) -> None:
        task = self.state.task(task_id)
        if task is None or not task.callback_url or task.callback_done or self.closed:
            return
        if not self.config.deliver_callbacks:
            return  # accepted, never delivered: the caller is not reachable from here
        timer = threading.Timer(
            max(0.0, task.finish_at - time.time()), self._send_callback, (task_id,)
        )
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _send_callback(self, task_id: str) -> None:
        if self.closed:
            return
        try:
            self._send_callback_once(task_id)
        except Exception:
            if not self.closed:  # owed callbacks are sent again after a restart
                raise

    def _send_callback_once(self, task_id: str) -> None:
        task = self.state.task(task_id)
        if task is None or task.callback_done or not task.callback_url:
            return
        payload = json.dumps(
            {"code": 200, "message": "success", "data": self.task_data(task)}
        ).encode()
        for attempt in range(3):
            if self.closed:
                return
            try:
                request = urllib.request.Request(
                    task.callback_url,
                    data=payload,
                    headers={"Content-Type": "application/json", "User-Agent": "apiinone-sandbox"},
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    if response.status < 300:
                        break
            except (urllib.error.URLError, OSError) as e:
                logger.info(
                    "sandbox: callback for %s failed (%s), attempt %d", task_id, e, attempt + 1
                )
                time.sleep(0.5 * (attempt + 1))
        self.state.callback_sent(task_id)

    def recover(self) -> None:
        """After a restart: finish the tasks whose results were not made, send owed callbacks."""
        for task in self.state.unmade_tasks():
            self.executor.submit(self._make, task.id)
        for task in self.state.pending_callbacks():
            self._schedule_callback(task.id)

    # -- chat ----------------------------------------------------------------------------------

    def chat(self, body: dict, digest: str) -> tuple[dict, list[dict], Callable[[], None]]:
        """The reply (whole and as stream chunks) and `charge()`, which settles the
        pre-deduction to the reply's price: called once the reply was delivered. A stream cut
        off before its end keeps the pre-deduction (CHAT_HOLD_CREDITS) as its charge."""
        spec = _find_spec("chat/completions", body)
        errors = spec.validate(body)
        if errors:
            name, message = next(iter(errors.items()))
            raise ApiError(400, f"{name}: {message}" if name not in message.lower() else message)
        if not self.state.hold(digest, catalog.CHAT_HOLD_CREDITS):
            raise ApiError(
                402, "Your account has insufficient credits. Purchase more credits to continue."
            )
        messages = body.get("messages") or []
        question = next(
            (
                str(m.get("content"))
                for m in reversed(messages)
                if isinstance(m, dict) and m.get("role") == "user"
            ),
            "",
        )
        thoughts = _thoughts(question) if body.get("include_thoughts", True) else ""
        answer = _answer(question, body.get("reasoning_effort") or "high")
        prompt_tokens = sum(
            _tokens(str(m.get("content", ""))) for m in messages if isinstance(m, dict)
        )
        completion_tokens = _tokens(answer) + _tokens(thoughts)
        credits = catalog.chat_credits(prompt_tokens, completion_tokens)

        def charge() -> None:
            self.state.refund(digest, catalog.CHAT_HOLD_CREDITS - credits)

        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        reply_id = f"chatcmpl_{uuid.uuid4().hex[:16]}"
        message = {"role": "assistant", "content": answer}
        if thoughts:
            message["reasoning_content"] = thoughts
        whole = {
            "id": reply_id,
            "object": "chat.completion",
            "model": "gemini",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage,
            "credits_consumed": credits,
        }
        chunks = []
        base = {"id": reply_id, "object": "chat.completion.chunk", "model": "gemini"}
        for piece in _pieces(thoughts):
            chunks.append(
                {**base, "choices": [{"index": 0, "delta": {"reasoning_content": piece}}]}
            )
        for i, piece in enumerate(_pieces(answer)):
            delta = {"content": piece} if i else {"role": "assistant", "content": piece}
            chunks.append({**base, "choices": [{"index": 0, "delta": delta}]})
        chunks.append(
            {
                **base,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": usage,
                "credits_consumed": credits,
            }
        )
        # A stream that goes wrong halfway through the answer (only chat has a halfway, so the
        # words are read here): [sandbox:500-after] or [sandbox:402-after] end it with an error
        # event, the pre-deduction kept; [sandbox:stall=S] goes quiet there for S seconds.
        markers = [m for text in _prompts(body) for m in FAULT_MARKER.findall(text)]
        words = {w.strip().lower() for m in markers for w in m.split(",")}
        half = len(_pieces(thoughts)) + max(1, len(_pieces(answer)) // 2)
        head, tail = chunks[:half], chunks[half:]
        broken = next((int(w[:3]) for w in sorted(words) if w in ("500-after", "402-after")), 0)
        stall = max((float(w[6:] or 0) for w in words if w.startswith("stall=")), default=0.0)
        if broken and body.get("stream") is not False:
            message = ApiError.TYPES[broken].replace("_", " ").capitalize() + " partway."
            return whole, [*head, ApiError(broken, message).body()], lambda: None
        if stall:

            def stalled():
                yield from head
                time.sleep(stall)
                yield from tail

            return whole, stalled(), charge
        return whole, chunks, charge

    def close(self) -> None:
        self.closed = True
        for timer in self._timers:
            timer.cancel()
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.state.close()


class MediaFailure(Exception):
    pass


class FileExpired(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Makers: how a task's files are made, chosen by data (maker_for) rather than by model
# --------------------------------------------------------------------------------------------

Outputs = list[tuple[str, bytes]]  # (file name, contents), in the order the task lists them


@dataclass(frozen=True)
class Job:
    """What a maker needs of a task: its request, and the seed, prompt and number of results
    worked out from it the same way for every route."""

    spec: catalog.ModelSpec
    body: dict
    seed: int
    prompt: str
    count: int

    @classmethod
    def of(cls, spec: catalog.ModelSpec, task: TaskRow) -> Job:
        body = task.request
        seed = body.get("seed")
        seed = int(seed) if isinstance(seed, int | float) and not isinstance(seed, bool) else None
        if seed is None:  # the task's own: a task made again (after a restart) is the same
            seed = int(hashlib.sha256(task.id.encode()).hexdigest()[:8], 16)
        prompt = str(body.get("prompt") or body.get("gpt_description_prompt") or spec.name)
        return cls(spec, body, seed, prompt, count=max(1, spec.expected_results(body)))


Maker = Callable[[Sandbox, Job], Outputs]


def _cutout(sandbox: Sandbox, job: Job) -> Outputs:
    return [("cutout.png", media.remove_background(sandbox._download(job.body["image"])))]


def _upscaled(sandbox: Sandbox, job: Job) -> Outputs:
    return [("upscaled.png", media.upscale(sandbox._download(job.body["image"])))]


def _face_swapped(sandbox: Sandbox, job: Job) -> Outputs:
    fmt = str(job.body.get("output_format") or "jpeg")
    data = media.face_swap(
        sandbox._download(job.body["image"]),
        sandbox._download(job.body["face_image"]),
        target_index=int(job.body.get("target_index") or 0),
        fmt=fmt,
    )
    return [(f"swap.{'jpg' if fmt == 'jpeg' else fmt}", data)]


def _video_background_replaced(sandbox: Sandbox, job: Job) -> Outputs:
    background = job.body.get("background_image")
    data = media.remove_video_background(
        sandbox._download(job.body["video"]),
        sandbox._download(background) if background else None,
    )
    return [("video.mp4", data)]


def _images(sandbox: Sandbox, job: Job) -> Outputs:
    aspect = str(job.body.get("aspect_ratio") or "1:1")
    return [
        (
            f"image-{i + 1}.png",
            media.make_image(job.prompt, aspect_ratio=aspect, seed=job.seed, variant=i),
        )
        for i in range(job.count)
    ]


# Models whose video has sound unless the request says "sound": false.
SOUND_UNLESS_OFF = frozenset({"kling-3"})


def _video(sandbox: Sandbox, job: Job) -> Outputs:
    body = job.body
    sound = any(bool(body.get(k)) for k in ("sound", "generateAudio", "generate_audio_switch"))
    if "sound" in body or job.spec.slug in SOUND_UNLESS_OFF:
        sound = bool(body.get("sound", True))
    data = media.make_video(
        job.prompt,
        seconds=_video_seconds(body),
        aspect_ratio=str(body.get("aspect_ratio") or "16:9"),
        sound=sound,
        seed=job.seed,
        long_side=sandbox.config.video_long_side,
    )
    return [("video.mp4", data)]


def _speech(sandbox: Sandbox, job: Job) -> Outputs:
    lines = [line for line in job.body.get("dialogue") or [] if isinstance(line, dict)]
    text = "\n".join(str(line.get("text", "")) for line in lines)
    voices = [str(line.get("voice") or "narrator") for line in lines]
    data = media.make_audio("dialogue", text=text, seed=job.seed, fmt="mp3", voices=voices)
    return [("speech.mp3", data)]


def _music(sandbox: Sandbox, job: Job) -> Outputs:
    """One track per result (Suno returns two variations), each with the next seed."""
    return [
        (
            f"track-{i + 1}.mp3",
            media.make_audio("music", text=job.prompt, seconds=12.0, seed=job.seed + i, fmt="mp3"),
        )
        for i in range(job.count)
    ]


# The tools, one maker per route; every other model by what it makes (then by kind), so a model
# added on an existing route, or on a new route for images or video, needs no code here.
MAKERS_BY_ROUTE: dict[str, Maker] = {
    "images/tools/remove-bg": _cutout,
    "images/tools/upscale": _upscaled,
    "images/tools/face-swap": _face_swapped,
    "videos/tools/bg-remover": _video_background_replaced,
}
MAKERS_BY_OUTPUT: dict[str, Maker] = {"image": _images, "video": _video}
MAKERS_BY_KIND: dict[str, Maker] = {"speech": _speech}


def maker_for(spec: catalog.ModelSpec) -> Maker:
    """The maker of a model's files: by route, else by output, else by kind; else music."""
    return (
        MAKERS_BY_ROUTE.get(spec.route)
        or MAKERS_BY_OUTPUT.get(spec.output)
        or MAKERS_BY_KIND.get(spec.kind, _music)
    )


def _video_seconds(body: dict) -> float:
    shots = body.get("multi_prompt")
    if body.get("multi_shots") and isinstance(shots, list):
        total = sum(float(s.get("duration") or 0) for s in shots if isinstance(s, dict))
        if total:
            return min(15.0, total)
    try:
        return min(15.0, max(1.0, float(body.get("duration") or 5)))
    except (TypeError, ValueError):
        return 5.0


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def _thoughts(question: str) -> str:
    topic = question.strip().split("\n")[0][:80] or "the request"
    return f"The user asks about “{topic}”. I should answer plainly, then give one example."


def _answer(question: str, effort: str) -> str:
    topic = question.strip().split("\n")[0][:120] or "your question"
    detail = "In short" if effort == "low" else "Here is a considered answer"
    return (
        f"{detail} about “{topic}” from the API in One sandbox: this reply is generated locally, "
        "word by word, so the studio can be tried without a key. With a real key, Gemini answers."
    )


class Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "APIinOneSandbox/1.0"
    # Headers and body go out in separate writes; with Nagle's algorithm on, keep-alive
    # clients would wait ~40 ms for each answer (delayed ACK).
    disable_nagle_algorithm = True

    def handle(self) -> None:
        try:
            super().handle()
        except Exception:
            if not self.server.sandbox.closed:  # a request still running at shutdown just ends
                raise

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox: " + format, *args)

    # -- plumbing ------------------------------------------------------------------------------

    def _send_json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error: ApiError) -> None:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        self._send_json(error.status, error.body(), headers)

    def _send_proxy_page(self) -> None:
        """What a proxy in front of the service sends when the service is down: HTML, not JSON."""
        page = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def _drop(self) -> None:
        """Close the connection without a word: the answer is lost on the way back."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(400, "The request body is too large.")
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, "The request body must be JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return body

    def _faults(self, body: dict | None = None) -> Faults:
        sandbox = self.server.sandbox
        faults = sandbox.configured_faults()
        header = self.headers.get("X-Sandbox-Fault")
        if header:
            faults = faults.merge(Faults.parse(header))
        for text in _prompts(body or {}):
            for marker in FAULT_MARKER.findall(text):
                faults = faults.merge(Faults.parse(marker))
        return faults

    # -- routes --------------------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/files/"):
            self._serve_file(parts.path, parse_qs(parts.query))
            return
        if parts.path == "/healthz":
            self._send_json(200, {"status": "ok"})
            return
        sandbox = self.server.sandbox
        try:
            if not parts.path.startswith(API_PREFIX + "tasks/"):
                raise ApiError(404, "Not found.")
            digest = sandbox.authenticate(self.headers.get("Authorization"))
            faults = self._faults()
            if faults.slow:
                time.sleep(faults.slow)
            if faults.too_many:
                raise ApiError(429, "Rate limit exceeded: 60 requests per minute.", retry_after=1)
            sandbox.limiter.check(digest)
            if faults.error_500:
                raise ApiError(500, "Internal server error. Please retry after a short delay.")
            if faults.proxy_502:
                self._send_proxy_page()
                return
            task_id = parts.path[len(API_PREFIX + "tasks/") :]
            self._send_json(200, sandbox.task_answer(task_id, digest))
        except ApiError as e:
            self._send_error(e)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        sandbox = self.server.sandbox
        try:
            if not parts.path.startswith(API_PREFIX):
                raise ApiError(404, "Not found.")
            route = parts.path[len(API_PREFIX) :].strip("/")
            digest = sandbox.authenticate(self.headers.get("Authorization"))
            body = self._body()
            faults = self._faults(body)
            if faults.slow:
                time.sleep(faults.slow)
            if faults.too_many:
                raise ApiError(429, "Rate limit exceeded: 60 requests per minute.", retry_after=1)
            sandbox.limiter.check(digest)
            if faults.error_500:
                raise ApiError(500, "Internal server error. Please retry after a short delay.")
            if faults.proxy_502:  # the proxy in front failed: the service never saw it
                self._send_proxy_page()
                return
            if route == "chat/completions":
                self._chat(body, digest)
                return
            answer, _task = sandbox.create(route, body, digest, faults)
            if faults.lost:
                self._drop()
                return
            if faults.error_500_after:
                raise ApiError(500, "Internal server error. Please retry after a short delay.")
            self._send_json(200, answer)
        except ApiError as e:
            self._send_error(e)

    def _chat(self, body: dict, digest: str) -> None:
        whole, chunks, charge = self.server.sandbox.chat(body, digest)
        if body.get("stream") is False:
            charge()
            self._send_json(200, whole)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        delay = min(0.03, 0.03 * self.server.sandbox.config.speed * 10)
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(delay)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        # Read to its end: the reply's own price. (Cut off before, by either side, the write
        # above raises and the pre-deduction stays charged, as a real service keeps it.)
        charge()

    def _serve_file(self, path: str, query: dict[str, list[str]]) -> None:
        pieces = path.split("/")
        if len(pieces) != 4:
            self._send_error(ApiError(404, "Not found."))
            return
        try:
            file_path = self.server.sandbox.open_file(pieces[2], pieces[3], query)
        except ApiError as e:
            self._send_error(e)
            return
        except FileExpired:
            data = b"Request has expired"
            self.send_response(403)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        data = file_path.read_bytes()
        self.send_response(200)
        declared = "image/svg+xml" if file_path.suffix == ".svg" else "application/octet-stream"
        self.send_header("Content-Type", media.sniff(data) or declared)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "private, max-age=60")
        self.end_headers()
        self.wfile.write(data)


def _prompts(body: dict) -> list[str]:
    texts = [str(body.get(k)) for k in ("prompt", "gpt_description_prompt") if body.get(k)]
    for line in body.get("dialogue") or []:
        if isinstance(line, dict) and line.get("text"):
            texts.append(str(line["text"]))
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            texts.append(message["content"])
    return texts


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: Sandbox


@dataclass
class SandboxServer:
    config: SandboxConfig
    httpd: SandboxHTTPServer | None = None
    thread: threading.Thread | None = None
    sandbox: Sandbox | None = field(default=None, repr=False)

    @property
    def root(self) -> str:
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The API base URL, as the studio's APIINONE_BASE_URL would hold it."""
        return f"{self.root}/api/v1"

    def start(self) -> SandboxServer:
        self.httpd = SandboxHTTPServer((self.config.host, self.config.port), Handler)
        self.sandbox = Sandbox(self.config, lambda: self.root)
        self.httpd.sandbox = self.sandbox
        self.sandbox.recover()
        # A short poll interval: stop() returns within it (tests start and stop hundreds).
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.02,), name="sandbox-http", daemon=True
        )
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd = SandboxHTTPServer((self.config.host, self.config.port), Handler)
        self.sandbox = Sandbox(self.config, lambda: self.root)
        self.httpd.sandbox = self.sandbox
        self.sandbox.recover()
        try:
            self.httpd.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown() if self.thread else None
            self.httpd.server_close()
        if self.sandbox is not None and not self.sandbox.closed:
            self.sandbox.close()
