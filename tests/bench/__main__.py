"""`make bench`: prints figures of speed. Nothing here asserts; the issues name the targets.

Runs on a scratch database of the kind DATABASE_URL names (SQLite in a temporary folder by
default, or a fresh PostgreSQL database), against an in-process sandbox over real HTTP.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))


def _setup() -> tuple[Path, str]:
    from tests import databases

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    url = databases.create(folder, "bench")
    os.environ.update(
        {
            "DATABASE_URL": url,
            "STUDIO_VAR_DIR": str(folder),
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-not-secret"),
            "DJANGO_SETTINGS_MODULE": "studio.settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return folder, url


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_sandbox(folder: Path, seconds: float = 4.0, threads: int = 8) -> None:
    import httpx

    from generations import client
    from generations.sandbox.server import SandboxConfig, SandboxServer

    server = SandboxServer(
        SandboxConfig(state_dir=folder / "sandbox", speed=0.01, rate_limit=10**9)
    ).start()
    key = "aio_bench_key_000"
    headers = {"Authorization": f"Bearer {key}"}
    account = client.Account(base_url=server.url, api_key=key)
    task_id = client.create_image(account, {"model": "flux-2", "prompt": "bench"}).task_id
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def hammer(i: int) -> None:
        with httpx.Client(headers=headers) as http:
            while time.monotonic() < stop:
                http.get(f"{server.url}/tasks/{task_id}")
                counts[i] += 1

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    reads = sum(counts) / seconds

    created = 0
    stop = time.monotonic() + seconds / 2
    with httpx.Client(headers=headers) as http:
        while time.monotonic() < stop:
            http.post(
                f"{server.url}/images/generations", json={"model": "flux-2", "prompt": "x y z"}
            )
            created += 1
    server.stop()
    print(
        f"sandbox  GET /tasks/{{id}}: {reads:,.0f} requests/s sustained "
        f"({threads} threads, {seconds:g} s)"
    )
    print(f"sandbox  POST /images/generations: {created / (seconds / 2):,.0f} creates/s (1 thread)")


def bench_limiter(calls: int = 500) -> None:
    from django.db import connection

    from generations import ratelimit

    ratelimit._bucket("bench")
    limits = ratelimit.Limits(limit=10**9, window=61.0)
    timings = []
    for i in range(calls):
        started = time.perf_counter()
        ratelimit.try_acquire("bench", f"member{i % 5}", f"ticket{i}", limits)
        timings.append((time.perf_counter() - started) * 1000)
    vendor = connection.vendor
    print(
        f"limiter  one slot on {vendor}: mean {statistics.mean(timings):.2f} ms, "
        f"p50 {_percentile(timings, 0.5):.2f} ms, p95 {_percentile(timings, 0.95):.2f} ms "
        f"({calls} calls, window holding up to {calls} slots)"
    )


def main() -> None:
    from tests import databases
    from tests.bench import generate

    folder, url = _setup()
    try:
        print("== API in One Studio benchmarks")
        bench_sandbox(folder)
        bench_limiter()
        generate.bench_generate(folder)
    finally:
        from django.db import connections

        connections.close_all()
        databases.drop(url)


if __name__ == "__main__":
    main()
