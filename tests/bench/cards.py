"""Status-card polls at scale (issue 16): 50 open Create pages, each asking for its two running
cards every 2 s as the page does (one /g/cards request), against the studio served as `make run`
serves it (uvicorn, one process, on a scratch database of the kind DATABASE_URL names).

Run by `make bench`, or alone: `python -m tests.bench.cards` (BENCH_CARD_CLIENTS, 50;
BENCH_CARD_SECONDS, 10). Two runs: browsers that send back the ETag they were given (as a
browser's cache does: the cards have not changed, so 304) and browsers that do not (every poll
rendered). Printed for each: polls answered a second, their latency p50/p95, and the server's
CPU per poll (the uvicorn process's user+system time over the run, divided by the polls). The
clients poll as fast as they are answered, so the figures are what the server can take, not
what 50 pages ask of it (25 a second).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

CLIENTS = int(os.environ.get("BENCH_CARD_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_CARD_SECONDS", "10"))
TARGET_CPU_MS = 3.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    from tests import databases
    from tests.bench.chat import _free_port, _serve_studio

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-cards-"))
    url = databases.create(folder, "cards")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STUDIO_VAR_DIR": str(folder),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-not-secret"),
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
    }
    env.pop("APIINONE_API_KEY", None)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    log = open(folder / "studio.log", "w")  # noqa: SIM115 - closed below, after the server
    studio = None
    try:
        studio = _serve_studio(env, port, log)
        run(f"http://127.0.0.1:{port}", studio.pid, connections)
    finally:
        if studio is not None:
            studio.terminate()
            studio.wait(timeout=15)
        log.close()
        connections.close_all()
        databases.drop(url)


def run(studio_url: str, pid: int, connections) -> None:
    import httpx
    from django.test import Client
    from django.utils import timezone

    from generations.models import Generation, State
    from tests.conftest import make_user

    users = [make_user(f"bench{i}") for i in range(CLIENTS)]
    pages = []
    for user in users:
        workspace = user.memberships.get().workspace
        codes = [
            Generation.objects.create(
                workspace=workspace, user=user, model_slug="flux-2", kind="image",
                params={"prompt": "a card"}, estimate=5, token=f"t{i}", state=State.RUNNING,
                upstream_task_id=f"bench-{user.pk}-{i}", accepted_at=timezone.now(),
                next_check_at=timezone.now() + timezone.timedelta(hours=1),
            ).code
            for i in range(2)
        ]  # fmt: skip
        browser = Client()
        browser.force_login(user)
        pages.append((browser.cookies["sessionid"].value, codes))
    connections.close_all()

    def poll(session: str, codes, revalidate: bool, stop: float, out: list) -> None:
        query = "&".join(f"code={code}" for code in codes)
        headers = {"HX-Request": "true"}
        with httpx.Client(base_url=studio_url, cookies={"sessionid": session}, timeout=30) as http:
            etag = None
            while time.monotonic() < stop:
                asked = {**headers, **({"If-None-Match": etag} if etag and revalidate else {})}
                started = time.perf_counter()
                response = http.get(f"/g/cards?{query}", headers=asked)
                out.append(((time.perf_counter() - started) * 1000, response.status_code))
                etag = response.headers.get("ETag", etag)

    for revalidate in (True, False):
        results: list[list] = [[] for _ in pages]
        stop = time.monotonic() + SECONDS
        cpu_before = _cpu_seconds(pid)
        threads = [
            threading.Thread(target=poll, args=(s, c, revalidate, stop, results[i]))
            for i, (s, c) in enumerate(pages)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        cpu = _cpu_seconds(pid) - cpu_before
        answers = [a for out in results for a in out]
        latencies = sorted(ms for ms, _ in answers)
        unchanged = sum(1 for _, status in answers if status == 304)
        cpu_ms = cpu * 1000 / len(answers)
        verdict = "meets" if cpu_ms <= TARGET_CPU_MS else "misses"
        kind = "sending their ETag" if revalidate else "without an ETag"
        print(
            f"cards    {CLIENTS} pages {kind} ({connections['default'].vendor}, one uvicorn "
            f"process): {len(answers) / elapsed:.0f} polls/s ({unchanged} answered 304), "
            f"p50 {latencies[len(latencies) // 2]:.1f} ms, "
            f"p95 {latencies[int(len(latencies) * 0.95)]:.1f} ms; server CPU {cpu_ms:.2f} ms "
            f"a poll (target ≤ {TARGET_CPU_MS:g}: {verdict} it)"
        )


if __name__ == "__main__":
    main()
