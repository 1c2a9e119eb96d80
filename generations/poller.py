"""The poller: follows every running job of every workspace until it ends.

A qcluster task (`tasks.poll`) runs it for POLL_BUDGET seconds, then hands over to a fresh one
before the worker's timeout. Up to STUDIO_POLLERS run at once, on one worker host or several:
each holds one heartbeat row, and they share the due jobs by claims (`tasks.check` moves a job's
due time before it looks, so a second poller finds it no longer due), not by a singleton.

Inside one poller the look-ups run side by side in STUDIO_POLL_THREADS threads, so that answers
taking 200 ms do not add up one after the other. Two rules keep one workspace from delaying
another:
- a look-up never waits for its key's rate limit: when the key has no free slot the job is put
  back as it was (still due) and the key rests until the limiter says one frees; the other keys'
  jobs go on being looked up meanwhile;
- one key has at most PER_KEY_SHARE of the threads at once, so a slow upstream for one key
  (answers taking seconds) leaves the other keys their threads.
With STUDIO_POLL_THREADS=0 the look-ups run one after the other in the poller's own thread (the
test suite does so: threads have their own database connections, which do not see a test's
uncommitted rows), under the same two rules.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import Min
from django.utils import timezone

from generations import upstream
from generations.models import Generation, PollerHeartbeat

POLL_BUDGET = 90.0  # seconds one poll task runs before handing over (< Q_CLUSTER timeout)
POLL_TICK = 0.1  # longest sleep between two looks at the due list
HEARTBEAT_STALE = timedelta(seconds=5)
BEAT_EVERY = 1.0  # seconds between two heartbeats of one poller
PER_KEY_SHARE = 0.25  # of the poller's threads, the most one key's look-ups may hold at once
KEYS_REMEMBERED = 60.0  # seconds a workspace's rate key is trusted before it is read again


def heartbeats() -> range:
    """The heartbeat rows' ids: one per poller that may run at once."""
    return range(1, settings.STUDIO_POLLERS + 1)


def alive() -> int:
    """How many pollers showed they were alive in the last few seconds."""
    cutoff = timezone.now() - HEARTBEAT_STALE
    return PollerHeartbeat.objects.filter(pk__in=heartbeats(), seen_at__gt=cutoff).count()


def claim() -> int | None:
    """Takes a free heartbeat row (one whose poller is gone), or None: enough pollers run."""
    now = timezone.now()
    for pk in heartbeats():
        with contextlib.suppress(IntegrityError):  # two pollers creating the row at once
            PollerHeartbeat.objects.get_or_create(
                pk=pk, defaults={"seen_at": now - HEARTBEAT_STALE * 2}
            )
        # Only the poller that moves a stale heartbeat forward takes the row.
        stale = PollerHeartbeat.objects.filter(pk=pk, seen_at__lt=now - HEARTBEAT_STALE)
        if stale.update(seen_at=now):
            return pk
    return None


class _Keys:
    """Which rate key each workspace calls with (its own key's, the studio's, the sandbox's),
    read once a minute: a key changed in Settings is followed within KEYS_REMEMBERED."""

    def __init__(self) -> None:
        self.known: dict[int, str] = {}
        self.read_at = time.monotonic()

    def of(self, workspace_ids) -> dict[int, str]:
        if time.monotonic() - self.read_at > KEYS_REMEMBERED:
            self.known, self.read_at = {}, time.monotonic()
        missing = [pk for pk in set(workspace_ids) if pk not in self.known]
        if missing:
            from studio.models import Workspace

            for workspace in Workspace.objects.filter(pk__in=missing):
                self.known[workspace.pk] = upstream.studio_account(None, workspace).rate_key
        return self.known

    def workspaces_of(self, keys: set[str]) -> list[int]:
        return [pk for pk, key in self.known.items() if key in keys]


class _Inline:
    """A stand-in for the thread pool when STUDIO_POLL_THREADS is 0: runs each look-up at once."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as e:
            future.set_exception(e)
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


class Poller:
    """One poller's run: which look-ups are in flight, per key, and which keys rest."""

    def __init__(self, heartbeat: int, threads: int, keep) -> None:
        self.heartbeat = heartbeat
        self.threads = threads
        self.per_key = max(1, int(threads * PER_KEY_SHARE))
        self.keep = keep
        self.pool: ThreadPoolExecutor | _Inline = (
            ThreadPoolExecutor(threads, thread_name_prefix="look") if threads else _Inline()
        )
        self.keys = _Keys()
        self.running: dict[Future, tuple[int, str]] = {}
        self.per_key_running: dict[str, int] = defaultdict(int)
        self.resting: dict[str, float] = {}  # key → when (monotonic) its limiter frees a slot
        self.beaten = 0.0

    def beat(self) -> None:
        """Shows the poller is alive, once a second at most."""
        if time.monotonic() - self.beaten < BEAT_EVERY:
            return
        PollerHeartbeat.objects.filter(pk=self.heartbeat).update(seen_at=timezone.now())
        self.beaten = time.monotonic()

    def blocked_keys(self) -> set[str]:
        now = time.monotonic()
        for key in [k for k, until in self.resting.items() if until <= now]:
            del self.resting[key]
        full = {k for k, n in self.per_key_running.items() if n >= self.per_key}
        return set(self.resting) | full

    def start_due(self) -> int:
        """Starts the look-ups that are due, oldest first, as far as threads and keys allow."""
        room = max(1, self.threads - len(self.running))
        # With most threads still busy, the next look at the due list waits for more to free:
        # one query per freed thread would cost more than the look-ups themselves.
        if self.running and room < max(1, self.threads // 4):
            return 0
        blocked = self.blocked_keys()
        busy_jobs = [pk for pk, _key in self.running.values()]
        due = list(
            Generation.objects.due(timezone.now())
            .exclude(pk__in=busy_jobs)
            .exclude(workspace_id__in=self.keys.workspaces_of(blocked))
            .order_by("next_check_at")
            .values_list("pk", "workspace_id")[: room * 2]
        )
        keys = self.keys.of(workspace for _pk, workspace in due)
        started = 0
        for pk, workspace in due:
            key = keys.get(workspace, "")
            if key in blocked or started >= room:
                continue
            self.per_key_running[key] += 1
            if self.per_key_running[key] >= self.per_key:
                blocked.add(key)
            self.running[self.pool.submit(self._look, pk)] = (pk, key)
            started += 1
        return started

    def _look(self, pk: int) -> float:
        from generations import tasks

        return tasks.check(pk, keep=self.keep, wait_for_slot=False) or 0.0

    def collect(self, timeout: float) -> None:
        """Waits up to `timeout` for a look-up to end, then takes in every one that ended."""
        if self.running and self.threads:
            wait_for(list(self.running), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in [f for f in self.running if f.done()]:
            _pk, key = self.running.pop(future)
            self.per_key_running[key] -= 1
            if not self.per_key_running[key]:
                del self.per_key_running[key]
            rest = future.result()  # a look-up's error is the poller's (the task is retried)
            if rest:
                self.resting[key] = max(self.resting.get(key, 0.0), time.monotonic() + rest)

    def close(self) -> None:
        """Waits for the look-ups in flight, closes each thread's database connection, and
        frees the heartbeat row for the next poller."""
        if self.threads:
            # One closing task per thread, held at a barrier until every thread has one (so no
            # thread runs two), queued behind the look-ups in flight.
            barrier = threading.Barrier(self.threads)
            for _ in range(self.threads):
                self.pool.submit(_close_connection, barrier)
        self.pool.shutdown(wait=True)
        self.running.clear()
        PollerHeartbeat.objects.filter(pk=self.heartbeat).update(
            seen_at=timezone.now() - HEARTBEAT_STALE * 2
        )


def _close_connection(barrier: threading.Barrier) -> None:
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=30)
    connection.close()


def run(keep, budget: float = POLL_BUDGET) -> bool:
    """Follows the due jobs for `budget` seconds, or until none is followed. Returns whether
    jobs are still followed (the caller hands over to a fresh task), False also when enough
    pollers run already."""
    heartbeat = claim()
    if heartbeat is None:
        return False
    poller = Poller(heartbeat, settings.STUDIO_POLL_THREADS, keep)
    deadline = time.monotonic() + budget
    try:
        while time.monotonic() < deadline:
            poller.beat()
            poller.start_due()
            if poller.running:
                poller.collect(POLL_TICK)
                continue
            upcoming = Generation.objects.followed().aggregate(at=Min("next_check_at"))["at"]
            if upcoming is None:
                return False
            wait = (upcoming - timezone.now()).total_seconds()
            time.sleep(min(POLL_TICK, max(0.01, wait)))
    finally:
        poller.close()
    return Generation.objects.followed().exists()
