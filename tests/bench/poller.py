"""The poller at scale (issue 16): how late look-ups are when many workspaces each have their own
key and every look-up takes 200 ms, and how many rate-limit slots the limiter hands out.

Run by `make bench`, or alone: `python -m tests.bench.poller`. BENCH_POLL_WORKSPACES (1000),
BENCH_POLL_JOBS (10 per workspace), BENCH_POLL_SPREAD (10 s) and STUDIO_POLL_THREADS (16) change
the run. The jobs come due spread evenly over BENCH_POLL_SPREAD seconds (a running job is looked
up every few seconds, so its due times spread out; all at one instant would ask for thousands
of answers in flight at once), each key has room (60 a minute, 10 jobs), except one key that
has used its whole window before the run: its jobs must wait and nobody else's may. One poller
runs in this process; the upstream (tests/slow_upstream.py) is its own process, answering after
200 ms. Printed: each job's first look-up after it came due (p50/p95/max), how many were
looked up within 1 s of being due, look-ups a second, and the full key's jobs (0 looked up).

A second line: the limiter alone, slots a second when 16 threads take slots for 16 keys.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

WORKSPACES = int(os.environ.get("BENCH_POLL_WORKSPACES", "1000"))
JOBS = int(os.environ.get("BENCH_POLL_JOBS", "10"))
SPREAD = float(os.environ.get("BENCH_POLL_SPREAD", "10"))
THREADS = int(os.environ.get("STUDIO_POLL_THREADS", "16"))
TARGET_S = 1.0
LIMITER_TARGET = 1000


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    from tests import databases

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-poller-"))
    url = databases.create(folder, "poller")
    port = _free_port()
    os.environ.update(
        {
            "DATABASE_URL": url,
            "STUDIO_VAR_DIR": str(folder),
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-not-secret"),
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "DEBUG": "0",
            "APIINONE_BASE_URL": f"http://127.0.0.1:{port}/api/v1",
            "APIINONE_RATE_LIMIT": "60",
            "STUDIO_POLL_FLOOR": "600",  # each job looked up once in the run
            "STUDIO_POLL_THREADS": str(THREADS),
            "STUDIO_RESULT_KEEPERS": "0",
        }
    )
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.slow_upstream", str(port)], cwd=BASE_DIR
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    try:
        _wait_for(port)
        run(port)
        limiter()
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
        connections.close_all()
        databases.drop(url)


def _wait_for(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the stand-in upstream did not start")


def _jobs(start: float) -> tuple[dict[str, float], str]:
    """The workspaces and their running jobs, due spread over SPREAD s from `start` (epoch);
    returns each task id's due time and the full key's workspace prefix."""
    from django.utils import timezone

    from generations.models import Generation, State
    from studio.models import Workspace

    workspaces = Workspace.objects.bulk_create(
        [
            Workspace(name=f"bench {w}", api_key=f"aio_bench_poller_key_{w:05d}")
            for w in range(WORKSPACES)
        ]
    )
    if workspaces[0].pk is None:  # SQLite before returning ids: read them back
        workspaces = list(Workspace.objects.order_by("pk"))
    due: dict[str, float] = {}
    total = WORKSPACES * JOBS
    rows = []
    now = timezone.now()
    for w, workspace in enumerate(workspaces):
        for j in range(JOBS):
            n = j * WORKSPACES + w
            at = start + SPREAD * n / total
            task_id = f"task-{w}-{j}"
            due[task_id] = at
            rows.append(
                Generation(
                    workspace=workspace,
                    user=None,
                    model_slug="flux-2",
                    kind="image",
                    params={"prompt": "bench"},
                    estimate=5,
                    token=f"t{w}-{j}",
                    state=State.RUNNING,
                    upstream_task_id=task_id,
                    accepted_at=now,
                    submitted_at=now,
                    next_check_at=now + timedelta(seconds=at - time.time()),
                )
            )
    Generation.objects.bulk_create(rows, batch_size=2000)
    return due, "task-0-"


def run(port: int) -> None:
    import httpx
    from django.db import connection

    from generations import poller, ratelimit, upstream
    from studio.models import Workspace

    start = time.time() + 2.0
    due, full_prefix = _jobs(start)
    # The first workspace's key has used its whole window: its jobs must wait, alone.
    full = upstream.studio_account(None, Workspace.objects.order_by("pk").first()).rate_key
    ratelimit._bucket(full)
    from generations.models import RateLimitSlot

    RateLimitSlot.objects.bulk_create(
        [RateLimitSlot(key=full, member="", taken_at=time.time()) for _ in range(60)]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    began = time.monotonic()
    poller.run(keep=None, budget=max(0.0, start - time.time()) + SPREAD + 3.0)
    elapsed = time.monotonic() - began
    looks = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=30).json()["looks"]
    late, missed = [], 0
    for task_id, at in due.items():
        if task_id.startswith(full_prefix):
            continue
        arrivals = looks.get(task_id)
        if not arrivals:
            missed += 1
            continue
        late.append(arrivals[0] - at)
    full_looked = sum(1 for t in looks if t.startswith(full_prefix))
    within = sum(1 for s in late if s <= TARGET_S)
    count = len(due) - JOBS
    verdict = "meets" if within == count and not full_looked else "misses"
    total_looks = sum(len(v) for v in looks.values())
    print(
        f"poller   {WORKSPACES} workspaces x {JOBS} jobs ({connection.vendor}, "
        f"{THREADS} threads, 200 ms answers, due over {SPREAD:g} s): first look-up after "
        f"due p50 {_percentile(late, 0.5) * 1000:.0f} ms, p95 {_percentile(late, 0.95) * 1000:.0f}"
        f" ms, max {max(late) * 1000:.0f} ms; {within} of {count} within {TARGET_S:g} s "
        f"({missed} never); {total_looks / elapsed:.0f} look-ups/s over {elapsed:.1f} s; "
        f"the full key's {JOBS} jobs looked up: {full_looked}; target: {verdict} it"
    )


def limiter(threads: int = 16, seconds: float = 3.0) -> None:
    """Slots a second when `threads` threads each take slots for a key of their own."""
    from django.db import connection
    from django.test.utils import override_settings

    from generations import ratelimit

    counts = [0] * threads
    stop = time.monotonic() + seconds

    def take(i: int) -> None:
        key = f"bench-limiter-{i}"
        try:
            while time.monotonic() < stop:
                ratelimit.acquire(key, "bench")
                counts[i] += 1
        finally:
            connection.close()

    with override_settings(APIINONE_RATE_LIMIT=10**9):
        workers = [threading.Thread(target=take, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    per_second = sum(counts) / seconds
    verdict = "meets" if per_second >= LIMITER_TARGET else "misses"
    print(
        f"poller   the limiter: {per_second:.0f} slots/s across {threads} keys "
        f"({connection.vendor}, {threads} threads in one process); "
        f"target ≥ {LIMITER_TARGET}: {verdict} it"
    )


if __name__ == "__main__":
    main()
