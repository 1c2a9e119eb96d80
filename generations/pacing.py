"""When to look at a running job again.

The first look comes just before a job done at the model's earliest usual time would be late;
after that the gap grows with the time the job has run (10 %), never below a floor, so that a
finished job is noticed within max(floor, 10 % of its duration) while a long video costs a
handful of look-ups, not one every two seconds.

"Usual time" is learned: once the studio has seen MIN_SAMPLES jobs of a model on an upstream, it
paces from what they really took (`learned`: a low and a high quantile of ModelTiming's samples,
so one odd job does not move it); before that, from the catalog's durations, scaled by the
sandbox's speed when the studio talks to the sandbox (ModelTiming.usual_seconds chooses). This
module is arithmetic only: it reads no table and calls nothing.

A callback is a saving, never a promise: only where callbacks have been seen to arrive for the
key (CallbackRecord) does the first look wait for the moment the callback should have come by
(the latest usual time and its delay target); everywhere else the job is looked up on the normal
schedule and a callback only brings the look forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings

GROWTH = 0.10  # the next look comes after 10 % of the time run so far
MAX_GAP = 60.0
# A look lands a little after its due time (the poller's tick) and keeping results takes a
# moment: looking this much earlier keeps a finished job's detection within its target.
SLACK = 0.25
MIN_SAMPLES = 10  # jobs of a model seen before its learned durations replace the catalog's
LOW_QUANTILE = 0.05  # of the earliest each job could have ended
HIGH_QUANTILE = 0.90  # of the latest each job could have ended


def learned(samples: list) -> tuple[float, float] | None:
    """(low, high) usual seconds from the [earliest, latest] bounds of jobs seen, once there
    are MIN_SAMPLES of them; None before."""
    if not samples or len(samples) < MIN_SAMPLES:
        return None
    low = quantile([earliest for earliest, _ in samples], LOW_QUANTILE)
    high = quantile([latest for _, latest in samples], HIGH_QUANTILE)
    return low, max(low, high)


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank, always leaving out the most extreme value on the side
    it looks at (one odd job in ten does not move it)."""
    ordered = sorted(values)
    n = len(ordered)
    if q >= 0.5:
        return ordered[min(n - 2, math.ceil(q * n) - 1)] if n > 1 else ordered[0]
    return ordered[max(1, math.floor(q * n))] if n > 1 else ordered[0]


@dataclass(frozen=True)
class Plan:
    first_look: float  # seconds after acceptance
    expected: float  # how long it should run
    callback_due: float  # by when its callback should have come


def plan(low: float, high: float, *, count_on_callback: bool = False) -> Plan:
    """The schedule of a job the upstream just accepted, whose model usually takes `low` to
    `high` seconds (ModelTiming.usual_seconds: learned, or the catalog's)."""
    first = callback_due(high) if count_on_callback else max(0.05, low + _gap(low) - SLACK)
    return Plan(first_look=first, expected=(low + high) / 2, callback_due=callback_due(high))


def callback_due(high: float) -> float:
    """A job done at its latest usual time has called back by then, or its callback is lost."""
    return max(0.05, high + _gap(high))


def next_look(running_for: float) -> float:
    """Seconds until the next look, for a job that has run `running_for` seconds."""
    return max(0.05, _gap(running_for) - SLACK)


def _gap(running_for: float) -> float:
    return min(MAX_GAP, max(settings.STUDIO_POLL_FLOOR, GROWTH * running_for))


def deadline(high: float, catalog_high: float) -> float:
    """Seconds after which a job still running is given up on (and ended honestly): never
    sooner than the catalog's guess allows, however fast the model was seen to be."""
    return max(600.0, 6 * max(high, catalog_high))
