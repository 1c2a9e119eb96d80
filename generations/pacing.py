"""When to look at a running job again.

The first look comes just before a job done at the model's earliest usual time would be late;
after that the gap grows with the time the job has run (10 %), never below a floor, so that a
finished job is noticed within max(floor, 10 % of its duration) while a long video costs a
handful of look-ups, not one every two seconds. When the upstream will call back, the first look
is only a safety net. Durations come from the catalog, scaled by the sandbox's speed when the
studio talks to the sandbox (its jobs run faster or slower than the real ones by that factor).
"""

from __future__ import annotations

from django.conf import settings

GROWTH = 0.10  # the next look comes after 10 % of the time run so far
MAX_GAP = 60.0
# A look lands a little after its due time (the poller's tick) and keeping results takes a
# moment: looking this much earlier keeps a finished job's detection within its target.
SLACK = 0.25
CALLBACK_SAFETY = 1.5  # with a callback coming, the first look is only a safety net


def speed(workspace=None) -> float:
    from generations.upstream import uses_sandbox

    return float(settings.SANDBOX["speed"]) if uses_sandbox(workspace) else 1.0


def typical_seconds(spec, workspace=None) -> tuple[float, float]:
    low, high = spec.typical_seconds
    factor = speed(workspace)
    return low * factor, high * factor


def expected_seconds(spec, workspace=None) -> float:
    low, high = typical_seconds(spec, workspace)
    return (low + high) / 2


def first_look(spec, workspace=None, *, callback: bool = False) -> float:
    """Seconds after the upstream accepted the job until the first look. Without a callback:
    the latest look that still notices, within its target, a job done at the model's earliest
    usual time. With one: a safety net after its latest usual time (the callback comes first)."""
    low, high = typical_seconds(spec, workspace)
    if callback:
        return max(0.05, CALLBACK_SAFETY * high)
    return max(0.05, low + _gap(low) - SLACK)


def next_look(running_for: float) -> float:
    """Seconds until the next look, for a job that has run `running_for` seconds."""
    return max(0.05, _gap(running_for) - SLACK)


def _gap(running_for: float) -> float:
    return min(MAX_GAP, max(settings.STUDIO_POLL_FLOOR, GROWTH * running_for))


def deadline(spec, workspace=None) -> float:
    """Seconds after which a job still running is given up on (and ended honestly)."""
    return max(600.0, 6 * typical_seconds(spec, workspace)[1])
