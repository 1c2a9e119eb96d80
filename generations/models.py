"""The work: what is made, and the bookkeeping for talking to the upstream."""

from __future__ import annotations

from django.db import models


class RateLimitBucket(models.Model):
    """One row per upstream key; locking it serialises everyone taking a slot for that key."""

    key = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.key


class RateLimitSlot(models.Model):
    """One request sent (or about to be sent) with a key, for the sliding window."""

    key = models.CharField(max_length=64)
    member = models.CharField(max_length=150, blank=True)
    taken_at = models.FloatField()  # seconds since the epoch: sub-second precision matters here

    class Meta:
        indexes = [models.Index(fields=["key", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.key} at {self.taken_at}"


class RateLimitWaiter(models.Model):
    """Someone waiting for a slot; while they wait the limiter hands slots out fairly."""

    key = models.CharField(max_length=64)
    member = models.CharField(max_length=150, blank=True)
    ticket = models.CharField(max_length=32, unique=True)
    since = models.FloatField()
    seen_at = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["key", "since"])]

    def __str__(self) -> str:
        return f"{self.member or 'someone'} waiting on {self.key}"
