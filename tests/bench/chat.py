"""Chat: time to the first piece of a streamed reply, through the studio versus straight from the
sandbox, p50/p95 over 100 requests of each in one run. The issue's target: the studio adds at
most 15 ms.

Run by `make bench`, or alone: `python -m tests.bench.chat` (BENCH_CHAT_REQUESTS changes the
count). The studio is served as `make run` serves it (uvicorn, in its own process, on a scratch
database of the kind DATABASE_URL names); the sandbox runs in this process over real HTTP. Each
studio request is the page's: GET the stream of a reply waiting in a fresh conversation, timed
from the request to the first `thought` or `token` event. Each direct request POSTs the same
body the studio sends (stream on) and is timed to its first `data:` chunk. The two alternate,
so both see the machine in the same state; 5 of each warm up first and are not counted.

A third line says where the added time goes, each part timed alone (p50): the studio's answer
over HTTP for a reply already taken (410: everything a stream does before its hold: the ASGI
server, Django, session, user, membership, the reply's lookup, its claim), then, in this
process, the hold, the history read, and the rate-limit slot the upstream call takes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

REQUESTS = int(os.environ.get("BENCH_CHAT_REQUESTS", "100"))
WARM_UP = 5
TARGET_MS = 15.0
QUESTION = "What is a credit?"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_event(http, url: str, cookies: dict) -> float:
    """Seconds from the request to the first piece of the reply through the studio; the stream
    is then read to its end (the reply settled, as the page lets it)."""
    started = time.perf_counter()
    first = None
    with http.stream("GET", url, cookies=cookies) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line in ("event: thought", "event: token"):
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError(f"the studio's stream sent no reply: {url}")
    return first


def _first_chunk(http, url: str, body: dict, key: str) -> float:
    """Seconds from the request to the first piece of the reply straight from the sandbox."""
    started = time.perf_counter()
    first = None
    headers = {"Authorization": f"Bearer {key}"}
    with http.stream("POST", url, json={**body, "stream": True}, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data: {"):
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("the sandbox's stream sent no reply")
    return first


def _serve_studio(env: dict[str, str], port: int, log) -> subprocess.Popen:
    import httpx

    command = [sys.executable, "-m", "uvicorn", "studio.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the studio did not start; see its log")
        time.sleep(0.2)


def main() -> None:
    from tests import databases

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-chat-"))
    url = databases.create(folder, "chat")
    sandbox_port, studio_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STUDIO_VAR_DIR": str(folder),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-not-secret"),
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DEBUG": "0",
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_SPEED": "0.01",
        "APIINONE_RATE_LIMIT": "1000000",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
    }
    env.pop("APIINONE_API_KEY", None)  # the sandbox, always
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    from generations.sandbox.server import SandboxConfig, SandboxServer

    sandbox = SandboxServer(
        SandboxConfig(state_dir=folder / "sandbox", port=sandbox_port, speed=0.01, rate_limit=10**9)
    ).start()
    log = open(folder / "studio.log", "w")  # noqa: SIM115 - closed below, after the server
    studio = None
    try:
        studio = _serve_studio(env, studio_port, log)
        run(f"http://127.0.0.1:{studio_port}", sandbox.url, connections)
    finally:
        if studio is not None:
            studio.terminate()
            studio.wait(timeout=15)
        log.close()
        sandbox.stop()
        connections.close_all()
        databases.drop(url)


def run(studio_url: str, sandbox_url: str, connections) -> None:
    import httpx
    from django.conf import settings
    from django.test import Client

    from generations import chat
    from generations.models import Conversation
    from tests.conftest import make_user

    user = make_user("bench")
    workspace = user.memberships.get().workspace
    browser = Client()
    browser.force_login(user)
    cookies = {"sessionid": browser.cookies["sessionid"].value}

    def waiting_reply():
        conversation = Conversation.objects.create(workspace=workspace, user=user, title="bench")
        _question, reply = chat.ask(conversation, QUESTION)
        connections.close_all()  # committed; SQLite's file is free for the studio's writes
        return conversation, reply

    through, direct, taken = [], [], []
    with httpx.Client(timeout=30) as http:
        for i in range(WARM_UP + REQUESTS):
            conversation, reply = waiting_reply()
            body = chat.request_body(reply)
            stream = f"{studio_url}/chat/{conversation.code}/stream/{reply.pk}"
            studio_seconds = _first_event(http, stream, cookies)
            sandbox_seconds = _first_chunk(
                http, f"{sandbox_url}/chat/completions", body, settings.SANDBOX_API_KEY
            )
            started = time.perf_counter()
            again = http.get(stream, cookies=cookies)
            taken_seconds = time.perf_counter() - started
            if again.status_code != 410:
                raise RuntimeError(f"a reply streamed twice: {again.status_code}")
            if i >= WARM_UP:
                through.append(studio_seconds * 1000)
                direct.append(sandbox_seconds * 1000)
                taken.append(taken_seconds * 1000)
    parts = _parts(waiting_reply)
    added = [s - d for s, d in zip(through, direct, strict=True)]
    vendor = connections["default"].vendor
    p50 = _percentile(through, 0.5) - _percentile(direct, 0.5)
    p95 = _percentile(through, 0.95) - _percentile(direct, 0.95)
    verdict = "meets" if p50 <= TARGET_MS and p95 <= TARGET_MS else "misses"
    print(
        f"chat     first piece of a reply, {REQUESTS} requests each ({vendor}, one run): "
        f"sandbox direct p50 {_percentile(direct, 0.5):.1f} ms, "
        f"p95 {_percentile(direct, 0.95):.1f} ms; "
        f"through the studio p50 {_percentile(through, 0.5):.1f} ms, "
        f"p95 {_percentile(through, 0.95):.1f} ms"
    )
    print(
        f"chat     added by the studio: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(paired per request: p50 {_percentile(added, 0.5):.1f} ms, "
        f"p95 {_percentile(added, 0.95):.1f} ms, mean {statistics.mean(added):.1f} ms); "
        f"target ≤ {TARGET_MS:g} ms added: {verdict} it"
    )
    print(
        f"chat     where it goes (p50): to the view's answer for a reply already taken "
        f"{_percentile(taken, 0.5):.1f} ms; "
        + "; ".join(f"{name} {_percentile(ms, 0.5):.1f} ms" for name, ms in parts.items())
        + f" ({vendor}, {settings.DATABASES['default']['CONN_MAX_AGE']} s connection age)"
    )


def _parts(waiting_reply) -> dict[str, list[float]]:
    """The writes and reads a stream makes between its claim and its first chunk, each timed
    alone in this process (the same code, the same database)."""
    from generations import chat, upstream

    parts: dict[str, list[float]] = {"hold": [], "history": [], "rate-limit slot": []}
    for i in range(WARM_UP + REQUESTS):
        conversation, reply = waiting_reply()
        reply = type(reply).objects.select_related("conversation").get(pk=reply.pk)
        reply.claim()
        account = upstream.studio_account(str(conversation.user_id), conversation.workspace)
        timings = {}
        for name, step in (
            ("hold", reply.hold),
            ("history", lambda reply=reply: chat.request_body(reply)),
            ("rate-limit slot", lambda a=account: a.limiter(a.rate_key, a.member)),
        ):
            started = time.perf_counter()
            step()
            timings[name] = (time.perf_counter() - started) * 1000
        reply.finish(error="Benchmark: never sent.", ran=False)  # the hold back
        if i >= WARM_UP:
            for name, ms in timings.items():
                parts[name].append(ms)
    return parts


if __name__ == "__main__":
    main()
