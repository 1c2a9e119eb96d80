"""The shared rate limiter every upstream call goes through.

The upstream allows a key 60 requests per minute. Every worker process on every host takes a
slot here, in the database, before it sends anything, so together they never exceed the limit.
A sliding log (one row per request) rather than a fixed window: no 60-second span, wherever it
starts, ever holds more than `limit` requests. The window is a little longer than the
upstream's to absorb the time between taking a slot and the request arriving.

When a queue builds up, slots go to the waiting member who has used the fewest in the current
window (then to whoever waited longest), so one member's batch cannot starve the others.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count

from generations.models import RateLimitBucket, RateLimitSlot, RateLimitWaiter

WINDOW_MARGIN = 1.0  # seconds added to the upstream's window
WAITER_TTL = 5.0  # a waiter not seen for this long has gone away
POLL_CAP = 1.0  # longest single sleep while waiting


class RateLimitTimeout(TimeoutError):
    """No slot came free in time; nothing was sent."""


class KeyBusy(Exception):
    """The key has no free slot now (take_now): nothing was sent; one frees in about `wait` s."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"No free slot for this key for {wait:.2f} s.")
        self.wait = wait


@dataclass(frozen=True)
class Limits:
    limit: int
    window: float

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(settings.APIINONE_RATE_LIMIT, settings.APIINONE_RATE_WINDOW + WINDOW_MARGIN)


_buckets_seen: set[str] = set()  # keys this process knows have their row


def _bucket(key: str) -> None:
    if key in _buckets_seen:
        return
    if not RateLimitBucket.objects.filter(key=key).exists():
        try:
            with transaction.atomic():
                RateLimitBucket.objects.create(key=key)
        except IntegrityError:
            pass  # another process created it first
    _buckets_seen.add(key)


def try_acquire(
    key: str,
    member: str | None,
    ticket: str,
    limits: Limits,
    *,
    waiting: bool = True,
    queue: bool = True,
) -> float:
    """Takes a slot and returns 0, or returns how many seconds to wait before asking again.

    Five statements when the key has room and nobody waits (the common case): the lock, the
    window's expired slots dropped, the count, the waiters read, the slot's insert. A ticket
    that has never waited (`waiting=False`) has no waiter row to clear; one that will not wait
    (`queue=False`) does not join the queue either."""
    member = member or ""
    try:
        return _try_acquire(key, member, ticket, limits, waiting, queue)
    except RateLimitBucket.DoesNotExist:  # the row went (a database emptied under this process)
        _buckets_seen.discard(key)
        _bucket(key)
        return _try_acquire(key, member, ticket, limits, waiting, queue)


def _try_acquire(
    key: str, member: str, ticket: str, limits: Limits, waiting: bool, queue: bool
) -> float:
    with transaction.atomic():
        # The lock on the bucket row serialises slot-taking per key (SQLite: the IMMEDIATE
        # transaction does the same for the whole database).
        RateLimitBucket.objects.select_for_update().get(key=key)
        now = time.time()
        RateLimitSlot.objects.filter(key=key, taken_at__lte=now - limits.window).delete()
        slots = RateLimitSlot.objects.filter(key=key)
        used = slots.count()
        others = list(RateLimitWaiter.objects.filter(key=key).exclude(ticket=ticket))
        gone = [w.pk for w in others if w.seen_at < now - WAITER_TTL]
        if gone:
            RateLimitWaiter.objects.filter(pk__in=gone).delete()
            others = [w for w in others if w.pk not in gone]
        if used < limits.limit:
            if not others or _fairest(key, member, ticket, others) == ticket:
                RateLimitSlot.objects.create(key=key, member=member, taken_at=now)
                if waiting:
                    RateLimitWaiter.objects.filter(ticket=ticket).delete()
                return 0.0
            wait = 0.05
        else:
            oldest = slots.order_by("taken_at").values_list("taken_at", flat=True).first()
            wait = max(0.01, oldest + limits.window - now)
        if not queue:
            return wait
        updated = waiting and RateLimitWaiter.objects.filter(ticket=ticket).update(seen_at=now)
        if not updated:
            RateLimitWaiter.objects.create(
                key=key, member=member, ticket=ticket, since=now, seen_at=now
            )
    return wait


def _fairest(key: str, member: str, ticket: str, others: list[RateLimitWaiter]) -> str:
    mine = RateLimitWaiter.objects.filter(ticket=ticket).values_list("since", flat=True).first()
    used = dict(
        RateLimitSlot.objects.filter(key=key)
        .values_list("member")
        .annotate(n=Count("id"))
        .values_list("member", "n")
    )
    candidates = [(used.get(w.member, 0), w.since, w.ticket) for w in others]
    candidates.append((used.get(member, 0), mine if mine is not None else time.time(), ticket))
    return min(candidates)[2]


def acquire(key: str, member: str | None = None, *, timeout: float = 120.0) -> None:
    """Blocks until `key` may send one more request, or raises RateLimitTimeout."""
    limits = Limits.from_settings()
    _bucket(key)
    ticket = uuid.uuid4().hex
    deadline = time.monotonic() + timeout
    waiting = False  # a waiter row exists for this ticket once a try came back with a wait
    try:
        while True:
            wait = try_acquire(key, member, ticket, limits, waiting=waiting)
            if wait == 0:
                return
            waiting = True
            if time.monotonic() + min(wait, POLL_CAP) > deadline:
                raise RateLimitTimeout(f"No request slot came free within {timeout:g} s.")
            time.sleep(min(wait, POLL_CAP) * random.uniform(0.8, 1.0))
    finally:
        if waiting:
            RateLimitWaiter.objects.filter(ticket=ticket).delete()


def take_now(key: str, member: str | None = None) -> None:
    """Takes a slot if the key has one free now, else raises KeyBusy at once: never waits and
    never queues (the poller: a look-up that cannot go now is put back, and the poller looks up
    other keys' jobs meanwhile)."""
    _bucket(key)
    limits = Limits.from_settings()
    wait = try_acquire(key, member, uuid.uuid4().hex, limits, waiting=False, queue=False)
    if wait:
        raise KeyBusy(wait)


def queue_position(key: str, member: str | None) -> int | None:
    """How many are waiting ahead of this member's oldest waiter; None when not waiting."""
    mine = (
        RateLimitWaiter.objects.filter(key=key, member=member or "")
        .order_by("since")
        .values_list("since", flat=True)
        .first()
    )
    if mine is None:
        return None
    return RateLimitWaiter.objects.filter(key=key, since__lt=mine).count()
