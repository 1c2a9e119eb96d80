"""Limits on how often someone may try a thing: `hit(scope, key, limit, window)` counts one
attempt and says how long to wait when the limit is reached (nothing is counted then).

Used for what Django leaves open: sign-ups per address, password reset requests per address and
per email, and key checks per workspace and per user (each is a request to API in One). Logins
are throttled by django-axes (settings.AXES_*).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from studio.ledger import Allowance
from studio.models import ThrottleHit


def hit(scope: str, key: str, limit: int, window: timedelta) -> timedelta | None:
    """Counts an attempt under `scope`/`key`. None: allowed (and counted). Otherwise how long
    until the oldest attempt in the window drops out and a new one is allowed."""
    now = timezone.now()
    key = key[:200]
    recent = ThrottleHit.objects.filter(scope=scope, key=key)
    recent.filter(at__lte=now - window).delete()
    times = list(recent.order_by("at").values_list("at", flat=True)[:limit])
    if len(times) >= limit:
        return max(timedelta(seconds=1), times[0] + window - now)
    ThrottleHit.objects.create(scope=scope, key=key, at=now)
    return None


def wait_words(wait: timedelta) -> str:
    """How long, as the rest of the studio says it ("12 minutes", "2 hours")."""
    return Allowance.duration(wait.total_seconds())
