"""The poller at scale (issue 16): look-ups for different keys run side by side, a key at its
rate limit or with a slow upstream never delays another key's jobs, and several pollers share
the work by claims, each look-up done once.

The upstream here (tests/slow_upstream.py) answers every look-up "processing" after a delay
chosen per key, and notes when each look-up arrived (and how many of one task were in flight
at once). These tests use threads, which have database connections of their own: they
commit (transactional_db), as production does."""

from __future__ import annotations

import threading
import time

import pytest
from django.utils import timezone

from generations import poller, ratelimit, upstream
from generations.models import Generation, RateLimitSlot, State
from tests.conftest import make_user
from tests.slow_upstream import SlowUpstream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake(settings):
    server = SlowUpstream().start()
    settings.APIINONE_BASE_URL = server.url
    settings.STUDIO_POLL_THREADS = 16
    settings.STUDIO_POLL_FLOOR = 5.0  # each job looked up once in these short runs
    yield server
    server.close()


def workspaces_with_jobs(keys: int, jobs: int | list[int]) -> dict[str, list[Generation]]:
    """`keys` workspaces, each with its own key, each with `jobs` running jobs due now (or the
    k-th workspace with jobs[k])."""
    made: dict[str, list[Generation]] = {}
    now = timezone.now()
    counts = jobs if isinstance(jobs, list) else [jobs] * keys
    for k in range(keys):
        user = make_user(f"member{k}")
        workspace = user.memberships.get().workspace
        workspace.api_key = f"aio_poller_test_key_{k:04d}"
        workspace.save()
        made[workspace.api_key] = [
            running_job(workspace, user, f"{k}-{j}", now) for j in range(counts[k])
        ]
    return made


def running_job(workspace, user, name: str, now) -> Generation:
    return Generation.objects.create(
        workspace=workspace, user=user, model_slug="flux-2", kind="image",
        params={"prompt": "x"}, estimate=5, token=f"t{name}", state=State.RUNNING,
        upstream_task_id=f"task-{name}", accepted_at=now, submitted_at=now, next_check_at=now,
    )  # fmt: skip


def test_look_ups_for_different_keys_run_side_by_side(fake) -> None:
    """20 keys × 2 jobs, each answer taking 200 ms: one after the other that is 8 s; side by
    side (16 threads) every job is looked up within a second of being due."""
    made = workspaces_with_jobs(keys=20, jobs=2)
    started = time.time()
    poller.run(keep=None, budget=1.5)
    jobs = [job for jobs in made.values() for job in jobs]
    firsts = [fake.first_look(job.upstream_task_id) for job in jobs]
    assert None not in firsts, "a job was never looked up"
    lateness = sorted(first - started for first in firsts)
    assert lateness[-1] < 1.0, lateness
    for job in jobs:
        job.refresh_from_db()
        assert job.checks == 1
        assert job.waiting_note == ""


def test_a_key_at_its_limit_never_holds_up_another_key(fake, settings) -> None:
    """Key A has used its whole window: its jobs wait (untouched: no look-up, no note, still
    due); key B's are looked up at once, and the poller does not stall on A."""
    settings.APIINONE_RATE_LIMIT = 5
    made = workspaces_with_jobs(keys=2, jobs=5)
    key_a, key_b = made
    account_a = upstream.studio_account(None, made[key_a][0].workspace)
    ratelimit._bucket(account_a.rate_key)
    RateLimitSlot.objects.bulk_create(
        [RateLimitSlot(key=account_a.rate_key, member="", taken_at=time.time()) for _ in range(5)]
    )
    started = time.time()
    poller.run(keep=None, budget=1.0)
    for job in made[key_b]:
        first = fake.first_look(job.upstream_task_id)
        assert first is not None
        assert first - started < 0.6
    for job in made[key_a]:
        assert fake.first_look(job.upstream_task_id) is None
        job.refresh_from_db()
        assert job.checks == 0
        assert job.waiting_note == ""
        assert job.next_check_at <= timezone.now()  # still due: looked up once a slot frees
    assert not RateLimitSlot.objects.filter(key=account_a.rate_key, member__gt="").exists()


def test_a_slow_upstream_for_one_key_leaves_the_others_their_threads(fake) -> None:
    """Key S answers in 3 s and has 12 jobs due first; it may hold 4 of the 16 threads, so the
    other three keys' 12 jobs are all looked up within half a second (without the share, S's
    jobs would take 12 threads for 3 s and 8 of the others would wait that long)."""
    made = workspaces_with_jobs(keys=4, jobs=[12, 4, 4, 4])
    slow, *others = made
    fake.delays[slow] = 3.0
    earlier = timezone.now() - timezone.timedelta(seconds=10)
    Generation.objects.filter(workspace__api_key=slow).update(next_check_at=earlier)
    started = time.time()
    poller.run(keep=None, budget=1.0)
    for key in others:
        for job in made[key]:
            first = fake.first_look(job.upstream_task_id)
            assert first is not None, key
            assert first - started < 0.5, key
    slow_looks = [fake.first_look(job.upstream_task_id) for job in made[slow]]
    assert sum(look is not None for look in slow_looks) == 4  # its share of the threads


def test_two_pollers_share_the_work_and_never_look_one_job_up_twice(fake, settings) -> None:
    settings.STUDIO_POLLERS = 2
    settings.STUDIO_POLL_FLOOR = 0.3  # looked up again and again during the run
    settings.STUDIO_POLL_THREADS = 4
    made = workspaces_with_jobs(keys=8, jobs=4)
    alive = []

    def one() -> None:
        try:
            poller.run(keep=None, budget=2.0)
        finally:
            from django.db import connection

            connection.close()

    runs = [threading.Thread(target=one) for _ in range(3)]  # a third finds no free heartbeat
    for run in runs:
        run.start()
    time.sleep(0.5)
    alive.append(poller.alive())
    for run in runs:
        run.join()
    assert alive == [2]
    jobs = [job for jobs in made.values() for job in jobs]
    assert all(fake.first_look(job.upstream_task_id) is not None for job in jobs)
    assert max(fake.most_in_flight.values()) == 1  # never two look-ups of one job at once
    for job in jobs:
        job.refresh_from_db()
        # Each look-up was claimed once: the checks counted equal the look-ups received.
        assert job.checks == len(fake.looks[job.upstream_task_id])
    assert poller.alive() == 0  # both gave their heartbeat back
