from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from generations import ratelimit
from generations.models import RateLimitSlot, RateLimitWaiter
from generations.sandbox.server import SandboxConfig, SandboxServer
from generations.sandbox.state import key_hash
from tests import databases

LIMITS = ratelimit.Limits(limit=3, window=60.0)


@pytest.fixture
def key(db) -> str:
    ratelimit._bucket("k1")
    return "k1"


def test_it_hands_out_up_to_the_limit_then_says_how_long_to_wait(key) -> None:
    assert [ratelimit.try_acquire(key, "alice", f"t{i}", LIMITS) for i in range(3)] == [0] * 3
    wait = ratelimit.try_acquire(key, "alice", "t3", LIMITS)
    assert 59 < wait <= 60
    assert RateLimitSlot.objects.filter(key=key).count() == 3
    assert RateLimitWaiter.objects.filter(ticket="t3").exists()


def test_it_frees_slots_as_the_window_slides(key) -> None:
    for i in range(3):
        ratelimit.try_acquire(key, "alice", f"t{i}", LIMITS)
    RateLimitSlot.objects.filter(key=key).update(taken_at=time.time() - 61)
    assert ratelimit.try_acquire(key, "alice", "t3", LIMITS) == 0
    assert RateLimitSlot.objects.filter(key=key).count() == 1


def test_it_keeps_keys_apart(key) -> None:
    ratelimit._bucket("k2")
    for i in range(3):
        ratelimit.try_acquire(key, "alice", f"t{i}", LIMITS)
    assert ratelimit.try_acquire("k2", "alice", "other", LIMITS) == 0


def test_it_gives_a_freed_slot_to_the_member_who_used_fewest(key) -> None:
    for i in range(3):
        assert ratelimit.try_acquire(key, "alice", f"a{i}", LIMITS) == 0
    # Both wait: alice (queued first, with a big batch) and bob.
    assert ratelimit.try_acquire(key, "alice", "a3", LIMITS) > 0
    assert ratelimit.try_acquire(key, "bob", "b0", LIMITS) > 0
    assert ratelimit.queue_position(key, "alice") == 0
    assert ratelimit.queue_position(key, "bob") == 1
    RateLimitSlot.objects.filter(key=key).order_by("taken_at").first().delete()  # one frees up
    assert ratelimit.try_acquire(key, "alice", "a3", LIMITS) > 0  # alice used 2 of 3 in window
    assert ratelimit.try_acquire(key, "bob", "b0", LIMITS) == 0  # bob used none: his turn


def test_it_forgets_waiters_that_went_away(key) -> None:
    for i in range(3):
        ratelimit.try_acquire(key, "alice", f"a{i}", LIMITS)
    ratelimit.try_acquire(key, "alice", "gone", LIMITS)
    RateLimitWaiter.objects.filter(ticket="gone").update(seen_at=time.time() - 60)
    RateLimitSlot.objects.filter(key=key).delete()
    assert ratelimit.try_acquire(key, "bob", "b0", LIMITS) == 0
    assert not RateLimitWaiter.objects.filter(ticket="gone").exists()


def test_it_times_out_without_taking_a_slot(key, settings) -> None:
    settings.APIINONE_RATE_LIMIT = 1
    ratelimit.acquire(key, "alice")
    with pytest.raises(ratelimit.RateLimitTimeout):
        ratelimit.acquire(key, "alice", timeout=0.3)
    assert RateLimitSlot.objects.filter(key=key).count() == 1
    assert not RateLimitWaiter.objects.exists()


def test_a_free_slot_costs_five_statements_and_leaves_no_waiter(key, settings) -> None:
    """The common case (room, nobody waiting): the lock, expired slots dropped, the count, the
    waiters read, the insert (and the transaction's BEGIN and COMMIT). It took nine before (a
    bucket check, clean-ups of gone waiters, and a waiter row deleted twice for a ticket that
    never waited)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.APIINONE_RATE_LIMIT = 100
    ratelimit.acquire(key, "alice")  # the bucket is known to this process from now on
    with CaptureQueriesContext(connection) as queries:
        ratelimit.acquire(key, "alice")
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]) <= 5, (
        statements
    )
    assert RateLimitSlot.objects.filter(key=key).count() == 2
    assert not RateLimitWaiter.objects.exists()


def test_a_bucket_that_went_is_made_again(key) -> None:
    """A process that knew a key's bucket still takes a slot after the row is gone (an emptied
    database), instead of failing every request of that key."""
    from generations.models import RateLimitBucket

    ratelimit.acquire(key, "alice")
    RateLimitBucket.objects.filter(key=key).delete()
    ratelimit.acquire(key, "alice")
    assert RateLimitBucket.objects.filter(key=key).exists()


WORKER = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from generations import client, ratelimit
    url, member, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    account = client.Account(base_url=url, api_key="aio_shared_team_key",
                             member=member, limiter=ratelimit.acquire)
    kinds = []
    for i in range(count):
        try:
            client.get_task(account, "none")
        except client.UpstreamError as e:
            kinds.append(e.kind)
    print(json.dumps(kinds))
    """
)


def test_it_holds_the_limit_across_three_processes(tmp_path) -> None:
    """Three worker processes share one key: the sandbox never sees more than the limit in any
    window, and so never answers 429."""
    limit, upstream_window = 5, 2.0
    server = SandboxServer(
        SandboxConfig(state_dir=tmp_path / "sbx", rate_limit=limit, rate_window=upstream_window)
    ).start()
    url = databases.create(tmp_path, "ratelimit")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APIINONE_RATE_LIMIT": str(limit),
        "APIINONE_RATE_WINDOW": str(upstream_window),
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "STUDIO_VAR_DIR": str(tmp_path),
    }
    try:
        databases.manage(env, "migrate", "--noinput")
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, server.url, member, "5"],
                cwd=databases.BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for member in ("alice", "bob", "carol")
        ]
        codes = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            codes += json.loads(out)
        accepted = sorted(server.sandbox.limiter.accepted[key_hash("aio_shared_team_key")])
    finally:
        server.stop()
        databases.drop(url)
    assert codes == ["not_found"] * 15
    assert server.sandbox.limiter.rejected == 0  # not one request was refused with 429
    assert len(accepted) == 15
    for i, start in enumerate(accepted):  # no window, wherever it starts, holds more than 5
        assert len([t for t in accepted[i:] if t < start + upstream_window]) <= limit
