"""Log lines (issue 16): one JSON object a line on a server, the job's code on every line written
while the studio works on it, keys redacted either way."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading

import pytest

from generations import client, tasks
from generations.models import Generation, State
from studio import ledger, logs
from tests.test_field import job

pytestmark = pytest.mark.django_db
KEY = "aio_live_0123456789abcdef0123456789abcdef"


def test_a_server_writes_json_lines_naming_the_job_with_keys_redacted() -> None:
    code = (
        "import django, logging; django.setup(); from studio import logs\n"
        "log = logging.getLogger('generations.tasks')\n"
        "with logs.about('4f1c-job'):\n"
        f"    log.warning('sent with %s', '{KEY}')\n"
        "    try:\n"
        f"        raise RuntimeError('refused {KEY}')\n"
        "    except RuntimeError:\n"
        "        log.exception('it broke')\n"
        "log.warning('about nothing')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", "DEBUG": "0"}
    env.update(SECRET_KEY="x" * 50, LOG_FORMAT="json")
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    sent, broke, nothing = lines[-3:]
    assert sent["job"] == "4f1c-job"
    assert sent["level"] == "WARNING"
    assert sent["logger"] == "generations.tasks"
    assert KEY not in json.dumps(lines)
    assert broke["job"] == "4f1c-job"
    assert "RuntimeError" in broke["exception"]
    assert "job" not in nothing


def test_the_job_is_named_on_lines_written_while_it_is_sent_and_followed(
    alice, upstream, caplog, monkeypatch
) -> None:
    caplog.handler.addFilter(logs.JobContext())
    monkeypatch.setattr(tasks, "kick_poller", lambda: None)
    real_create, real_get = client.create_task, client.get_task

    def create(*args, **kwargs):
        logging.getLogger("generations.client").warning("creating")
        return real_create(*args, **kwargs)

    def get(*args, **kwargs):
        logging.getLogger("generations.client").warning("looking up")
        return real_get(*args, **kwargs)

    monkeypatch.setattr(client, "create_task", create)
    monkeypatch.setattr(client, "get_task", get)
    generation = job(alice, state=State.QUEUED)
    ledger.hold(generation)
    tasks.submit(generation.pk)
    Generation.objects.filter(pk=generation.pk).update(next_check_at="2000-01-01T00:00:00Z")
    tasks.check(generation.pk)
    said = {r.getMessage(): r.job for r in caplog.records if r.name == "generations.client"}
    assert said == {"creating": str(generation.code), "looking up": str(generation.code)}


def test_each_thread_names_its_own_job() -> None:
    seen = {}

    def work(code: str) -> None:
        with logs.about(code):
            record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
            logs.JobContext().filter(record)
            seen[code] = record.job

    threads = [threading.Thread(target=work, args=(f"job-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {f"job-{i}": f"job-{i}" for i in range(4)}
