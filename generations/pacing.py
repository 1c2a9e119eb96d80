"""When to look at a running job again.

The first look comes just before a job done at the model's earliest usual time would be late;
after that the gap grows with the time the job has run (10 %), never below a floor, so that a
finished job is noticed within max(floor, 10 % of its duration) while a long video costs a
handful of look-ups, not one every two seconds.

"Usual time" is learned: once the studio has seen MIN_SAMPLES jobs of a model on an upstream, it
paces from what they really took (ModelTiming: a low and a high quantile, so one odd job does not
move it); before that, from the catalog's durations, scaled by the sandbox's speed when the
studio talks to the sandbox.

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


def speed(workspace=None) -> float:
    from generations.upstream import uses_sandbox

    return float(settings.SANDBOX["speed"]) if uses_sandbox(workspace) else 1.0


def scope(workspace=None) -> str:
    """Which upstream durations are learned for: the sandbox at its speed, or the API's URL."""
    from generations.upstream import uses_sandbox

    if uses_sandbox(workspace):
        return f"sandbox x{speed(workspace):g}"
    return settings.APIINONE_BASE_URL


def catalog_seconds(spec, workspace=None) -> tuple[float, float]:
    low, high = spec.typical_seconds
    factor = speed(workspace)
    return low * factor, high * factor


def learned_seconds(spec, workspace=None) -> tuple[float, float] | None:
    from generations.models import ModelTiming

    samples = (
        ModelTiming.objects.filter(model_slug=spec.slug, upstream=scope(workspace))
        .values_list("samples", flat=True)
        .first()
    )
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


def typical_seconds(spec, workspace=None) -> tuple[float, float]:
    return learned_seconds(spec, workspace) or catalog_seconds(spec, workspace)


def expected_seconds(spec, workspace=None) -> float:
    low, high = typical_seconds(spec, workspace)
    return (low + high) / 2


def first_look(spec, workspace=None, *, callback: bool = False) -> float:
    """Seconds after the upstream accepted the job until the first look. Normally: the latest
    look that still notices, within its target, a job done at the model's earliest usual time.
    With a callback that can be counted on: when it should have come (`callback_due`)."""
    return plan(spec, workspace, count_on_callback=callback).first_look


def callback_due(high: float) -> float:
    """A job done at its latest usual time has called back by then, or its callback is lost."""
    return max(0.05, high + _gap(high))


@dataclass(frozen=True)
class Plan:
    first_look: float  # seconds after acceptance
    expected: float  # how long it should run
    callback_due: float  # by when its callback should have come


def plan(spec, workspace=None, *, count_on_callback: bool = False) -> Plan:
    """The schedule of a job the upstream just accepted (one read of the learned durations)."""
    low, high = typical_seconds(spec, workspace)
    first = callback_due(high) if count_on_callback else max(0.05, low + _gap(low) - SLACK)
    return Plan(first_look=first, expected=(low + high) / 2, callback_due=callback_due(high))


def next_look(running_for: float) -> float:
    """Seconds until the next look, for a job that has run `running_for` seconds."""
    return max(0.05, _gap(running_for) - SLACK)


def _gap(running_for: float) -> float:
    return min(MAX_GAP, max(settings.STUDIO_POLL_FLOOR, GROWTH * running_for))


def deadline(spec, workspace=None) -> float:
    """Seconds after which a job still running is given up on (and ended honestly)."""
    high = max(catalog_seconds(spec, workspace)[1], typical_seconds(spec, workspace)[1])
    return max(600.0, 6 * high)
