"""A worker can die at any line. Each test leaves the database as a crash at one step boundary
would (after the hold, after the create, after a download, before the settle), then lets the
studio's own recovery run (the sweep, the poller, a callback), and checks that every job ends
with exactly one resolution in the ledger and its results kept once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from generations import client, inputs, tasks
from generations.models import Generation, State
from generations.upstream import studio_account
from studio import audit, ledger
from studio.models import LedgerEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(alice, upstream):
    workspace = alice.memberships.get().workspace
    generation = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="imagen-4", kind="image",
        params={"prompt": "a crash test", "num_images": 2, "model": "imagen4-fast"},
        estimate=8, token="crash", created_at=timezone.now() - timedelta(minutes=2),
    )  # fmt: skip
    ledger.hold(generation)
    return generation


def resolutions(generation) -> list[str]:
    return list(
        LedgerEntry.objects.filter(generation=generation)
        .exclude(kind="hold")
        .values_list("kind", flat=True)
    )


def test_it_recovers_a_job_whose_submit_never_ran(queued) -> None:
    tasks.sweep()  # re-enqueues it; django-q2 runs inline in tests
    queued.refresh_from_db()
    assert queued.state == State.SUCCEEDED
    assert resolutions(queued) == ["settle"]
    assert queued.files.count() == 2
    tasks.sweep()
    tasks.submit(queued.pk)
    assert resolutions(queued) == ["settle"]
    assert audit.problems() == []


def crash_after_create(generation) -> client.Task:
    """The create reached the upstream, then the worker died before writing anything."""
    body = inputs.request_body(generation)
    task = client.create_task(studio_account(), generation.spec.route, body)
    Generation.objects.filter(pk=generation.pk).update(
        state=State.SUBMITTING, request_body=body,
        submitted_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip
    return task


def test_it_reconciles_a_lost_create_from_a_checked_callback(queued, upstream) -> None:
    task = crash_after_create(queued)
    tasks.sweep()
    queued.refresh_from_db()
    assert queued.state == State.UNKNOWN  # never sent twice
    # A forged callback naming someone else's task changes nothing.
    other = client.create_image(studio_account(), {"model": "flux-2", "prompt": "other"})
    hook = f"/callbacks/{queued.code}/{queued.callback_token}"
    Client().post(hook, {"task_id": other.task_id}, content_type="application/json")
    queued.refresh_from_db()
    assert queued.state == State.UNKNOWN
    # The real callback is checked with the upstream, adopted, followed and settled once.
    Client().post(
        hook, {"code": 200, "data": {"task_id": task.task_id}}, content_type="application/json"
    )
    queued.refresh_from_db()
    assert queued.upstream_task_id == task.task_id
    assert queued.state == State.SUCCEEDED
    assert resolutions(queued) == ["settle"]
    assert upstream.sandbox.state._execute("SELECT count(*) FROM tasks").fetchone()[0] == 2


def test_it_releases_a_lost_create_that_is_never_confirmed(queued) -> None:
    crash_after_create(queued)
    tasks.sweep()
    Generation.objects.filter(pk=queued.pk).update(next_check_at=timezone.now())
    tasks.sweep()
    queued.refresh_from_db()
    assert queued.state == State.FAILED
    assert resolutions(queued) == ["release"]


def running(generation, task) -> None:
    Generation.objects.filter(pk=generation.pk).update(
        state=State.RUNNING, upstream_task_id=task.task_id, accepted_at=timezone.now(),
        request_body=inputs.request_body(generation), next_check_at=timezone.now(),
    )  # fmt: skip


def test_it_finishes_a_job_whose_worker_died_after_one_download(queued) -> None:
    task = crash_after_create(queued)
    running(queued, task)
    done = wait_done(task.task_id)
    queued.refresh_from_db()
    tasks._keep(queued, 0, done.result_urls[0], "image")  # one file kept, then the crash
    tasks.poll()
    queued.refresh_from_db()
    assert queued.state == State.SUCCEEDED
    assert sorted(queued.files.values_list("position", flat=True)) == [0, 1]
    assert resolutions(queued) == ["settle"]


def test_it_settles_once_when_the_worker_died_before_settling(queued) -> None:
    task = crash_after_create(queued)
    running(queued, task)
    done = wait_done(task.task_id)
    queued.refresh_from_db()
    for position, url in enumerate(done.result_urls):
        tasks._keep(queued, position, url, "image")  # all kept; died before marking it done
    tasks.poll()
    tasks.check(queued.pk)  # a duplicate delivery afterwards
    tasks.record(queued, done)
    queued.refresh_from_db()
    assert queued.state == State.SUCCEEDED
    assert queued.files.count() == 2
    assert resolutions(queued) == ["settle"]
    assert audit.problems() == []


def wait_done(task_id: str) -> client.Task:
    import time

    for _ in range(200):
        task = client.get_task(studio_account(), task_id)
        if task.finished:
            return task
        time.sleep(0.02)
    raise AssertionError("the sandbox did not finish")
