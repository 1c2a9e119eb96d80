"""A short soak (issue 16), run by CI in both of its stages (on PostgreSQL + Redis in the second):
the web server and two qcluster processes on one database and one broker, jobs submitted over
HTTP as a browser does, each completed exactly once by whichever worker was free: one task at
the sandbox per job, one hold and one settlement in the ledger, and the ledger's charges equal
to what the sandbox took from the key's balance."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx

from tests import databases
from tests.browser.conftest import free_port

JOBS = 16
SHELL_REPORT = """
import json
from generations.models import Generation
from studio.models import LedgerEntry
jobs = []
for g in Generation.objects.order_by("pk"):
    kinds = sorted(LedgerEntry.objects.filter(generation=g).values_list("kind", flat=True))
    jobs.append({"code": str(g.code), "state": g.state, "task": g.upstream_task_id,
                 "consumed": str(g.consumed_credits), "entries": kinds,
                 "charged": str(-sum(LedgerEntry.objects.filter(generation=g)
                                     .values_list("amount", flat=True)))})
print(json.dumps(jobs))
"""


def _start(env: dict, args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=databases.BASE_DIR,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )


def _sign_in(http: httpx.Client, username: str, password: str) -> None:
    page = http.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = http.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
    )
    assert answer.status_code == 302, answer.text[:500]


def test_two_workers_complete_each_job_submitted_over_http_exactly_once() -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="studio-workers-"))
    url = databases.create(var_dir, "workers")
    port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STUDIO_VAR_DIR": str(var_dir),
        "DEBUG": "0",
        "SECRET_KEY": "workers-test-not-secret",
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_SPEED": "0.05",
        "SANDBOX_RATE_LIMIT": "600",
        "APIINONE_RATE_LIMIT": "600",
        "Q_CLUSTER_NAME": f"workers-{uuid.uuid4().hex[:8]}",
        "Q_WORKERS": "2",
        "STUDIO_POLL_FLOOR": "0.3",
        "STUDIO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    for name in ("DJANGO_SETTINGS_MODULE", "Q_SYNC"):
        env.pop(name, None)
    processes = []
    try:
        databases.manage(env, "migrate", "--noinput")
        databases.manage(env, "collectstatic", "--noinput")
        databases.manage(
            env, "shell", "-c",
            "from django.contrib.auth import get_user_model; from studio.models import Workspace;"
            "u = get_user_model().objects.create_user('soak', password='soak-password-1');"
            "Workspace.create_personal(u)",
        )  # fmt: skip
        # The web server with the sandbox and one worker, and a second worker of its own.
        processes.append(_start(env, ["runstudio", "--port", str(port)], var_dir / "web.log"))
        processes.append(_start(env, ["qcluster"], var_dir / "worker2.log"))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (var_dir / "web.log").read_text()[-3000:]
            time.sleep(0.3)

        with httpx.Client(base_url=base, timeout=30) as http:
            _sign_in(http, "soak", "soak-password-1")
            assert http.get("/", params={"model": "imagen-4"}).status_code == 200
            token = http.cookies["csrftoken"]  # the form's token, as the page's script sends it
            for i in range(JOBS):
                form = {
                    "csrfmiddlewaretoken": token, "token": f"soak-{i}", "model": "imagen4-fast",
                    "prompt": f"a lighthouse, take {i}", "num_images": "1", "aspect_ratio": "1:1",
                }  # fmt: skip
                sent = http.post("/create/imagen-4/", data=form)
                assert sent.status_code == 302, sent.text[:500]

        deadline = time.monotonic() + 150
        while True:
            report = databases.manage(env, "shell", "-c", SHELL_REPORT)
            jobs = json.loads(report.strip().splitlines()[-1])
            if len(jobs) == JOBS and all(job["state"] not in ACTIVE for job in jobs):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    try:
        assert [job["state"] for job in jobs] == ["succeeded"] * JOBS, jobs
        assert len({job["task"] for job in jobs}) == JOBS  # one upstream task each
        for job in jobs:
            assert job["entries"] == ["hold", "settle"], job  # held once, settled once
            assert Decimal(job["charged"]) == Decimal(job["consumed"])
        sandbox = sqlite3.connect(var_dir / "sandbox" / "sandbox.sqlite3")
        tasks = sandbox.execute("SELECT id, credits FROM tasks").fetchall()
        assert sorted(t for t, _ in tasks) == sorted(job["task"] for job in jobs)  # sent once
        upstream_charges = sum(Decimal(credits) for _, credits in tasks)
        assert upstream_charges == sum(Decimal(job["charged"]) for job in jobs)
        # Both workers took part, and each job's send was done once, by one of them.
        sends = [
            (var_dir / log).read_text().count("Processed 'generations.tasks.submit'")
            for log in ("web.log", "worker2.log")
        ]
        assert all(sends), sends
        assert sum(sends) == JOBS, sends
    finally:
        databases.drop(url)


ACTIVE = ("awaiting", "queued", "submitting", "running", "unknown")
