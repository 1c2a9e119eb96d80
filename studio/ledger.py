"""The credit ledger: the only code that writes LedgerEntry.

Every job has exactly one hold (its estimate, taken when it is submitted) and at most one
resolution: a settle (the real `consumed_credits` replaces the hold) or a release (a failed,
canceled-before-sending or never-confirmed job gives its hold back). Grants and adjustments are
an admin's, with a reason. Entries are never changed; corrections are new entries.

Money rules when a job is settled:
- consumed above the hold: the difference is charged too (a job already run is a fact);
- below: the rest is released; exactly zero: everything is released;
- missing, negative or malformed: the estimate is charged, and the entry says why.

Holds are taken with the workspace row locked (`select_for_update`: a real lock on PostgreSQL;
on SQLite the IMMEDIATE transaction already serialises writers), so concurrent submissions
cannot together overspend a budget.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from studio.models import MANAGERS, Budget, LedgerEntry, Membership, UsageDay, Workspace

Kind = LedgerEntry.Kind
ZERO = Decimal(0)
JOB_KINDS = (Kind.HOLD, Kind.SETTLE, Kind.RELEASE)


class BudgetExceeded(Exception):
    """The estimate does not fit; the message says how much is left and whom to ask."""


def as_credits(value) -> Decimal | None:
    """A credit amount as an exact Decimal, or None when it is missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() and result >= 0 else None


CENT = Decimal("0.0001")  # credits are kept to four decimal places


def exact(value) -> Decimal:
    """A sum read back from the database, to the ledger's four places. PostgreSQL sums NUMERIC
    exactly; SQLite keeps decimals as REAL and its SUM drifts in the last float digits, which
    rounding to the stored precision removes."""
    return Decimal(value or 0).quantize(CENT)


def fmt(value: Decimal) -> str:
    """Credits without trailing zeros: 7, 2.5."""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _append(workspace_id: int, **fields) -> LedgerEntry:
    entry = LedgerEntry.objects.create(workspace_id=workspace_id, **fields)
    Workspace.objects.filter(pk=workspace_id).update(pool_balance=F("pool_balance") + entry.amount)
    if entry.kind in JOB_KINDS:
        _add_usage(entry)
    return entry


def _add_usage(entry: LedgerEntry) -> None:
    """Keeps the daily roll-up in step with the entry, in the same transaction."""
    key = {
        "workspace_id": entry.workspace_id,
        "member_id": entry.member_id,
        "model_slug": entry.model_slug,
        "day": entry.created_at.astimezone(UTC).date(),
    }
    cost = -entry.amount
    if UsageDay.objects.filter(**key).update(credits=F("credits") + cost):
        return
    try:
        with transaction.atomic():
            UsageDay.objects.create(**key, credits=cost)
    except IntegrityError:  # created concurrently: add to it
        UsageDay.objects.filter(**key).update(credits=F("credits") + cost)


# -- periods and budgets -------------------------------------------------------------------------


def period_bounds(period: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The current period's start and the moment it resets (UTC calendar periods)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == Budget.Period.DAY:
        return day, day + timedelta(days=1)
    if period == Budget.Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == Budget.Period.MONTH:
        start = day.replace(day=1)
        days = calendar.monthrange(start.year, start.month)[1]
        return start, start + timedelta(days=days)
    return None, None


def spent(workspace_id: int, member_id: int | None, since: datetime | None = None) -> Decimal:
    """Credits a member's jobs have taken (holds still open count in full)."""
    entries = LedgerEntry.objects.filter(workspace_id=workspace_id, kind__in=JOB_KINDS)
    if member_id is not None:
        entries = entries.filter(member_id=member_id)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    return -exact(entries.aggregate(total=Sum("amount"))["total"])


@dataclass(frozen=True)
class Allowance:
    """What a member may still spend now: None means no limit."""

    left: Decimal | None
    limit: Decimal | None
    period: str
    resets_at: datetime | None
    pool_left: Decimal | None
    at: datetime | None = None  # the moment it was worked out: `resets_in` counts from here

    @property
    def alert_floor(self) -> Decimal | None:
        """Below this much left, the member is warned (and admins see a note)."""
        return None if self.limit is None else self.limit * (1 - ALERT_SHARE)

    @property
    def spendable(self) -> Decimal | None:
        values = [v for v in (self.left, self.pool_left) if v is not None]
        return min(values) if values else None

    @property
    def this_period(self) -> str:
        """The budget's period as a sentence says it: "today", "this week"."""
        return "today" if self.period == Budget.Period.DAY else f"this {self.period}"

    @property
    def resets_in(self) -> str | None:
        """How long until the budget resets, as people say it: "5 hours", "3 days"."""
        if self.resets_at is None:
            return None
        return self.duration((self.resets_at - (self.at or timezone.now())).total_seconds())

    @staticmethod
    def duration(seconds: float) -> str:
        """Minutes under an hour, hours under a day, days after that, to the nearest one (a
        daily budget never "resets in 0 days")."""
        minutes = max(1, int(seconds / 60 + 0.5))
        if minutes < 60:
            return f"{minutes} minute{'s' if minutes != 1 else ''}"
        hours = int(seconds / 3600 + 0.5)
        if hours < 24:
            return f"{hours} hour{'s' if hours != 1 else ''}"
        days = int(seconds / 86400 + 0.5)
        return f"{days} day{'s' if days != 1 else ''}"


ALERT_SHARE = Decimal("0.8")  # warn when this share of a budget is used


def alert(workspace: Workspace, member_id: int, now: datetime | None = None) -> str | None:
    """A sentence for a member near (or over) their limit, with a forecast at the current pace."""
    now = now or timezone.now()
    room = allowance(workspace, member_id, now)
    if room.limit is None or room.limit <= 0 or room.left is None:
        return None
    used = room.limit - room.left
    if used < room.limit * ALERT_SHARE:
        return None
    start, _ = period_bounds(room.period, now)
    text = (
        f"You have used {fmt(used)} of your {fmt(room.limit)} credits {room.this_period}; "
        f"it resets in {room.resets_in}."
    )
    elapsed = max((now - start).total_seconds(), 3600.0)
    pace = used / Decimal(str(elapsed))  # credits a second
    if room.left > 0 and pace > 0:
        runs_out = float(room.left / pace)
        if room.resets_at and runs_out >= (room.resets_at - now).total_seconds():
            text += " At this pace it lasts until then."
        else:
            text += f" At this pace it runs out in about {Allowance.duration(runs_out)}."
    elif room.left <= 0:
        text += " New jobs wait until then, or ask an admin to raise it."
    return text


def allowance(workspace: Workspace, member_id: int, now: datetime | None = None) -> Allowance:
    now = now or timezone.now()
    budget = Budget.objects.filter(
        membership__workspace=workspace, membership__user_id=member_id
    ).first()
    left = limit = resets_at = None
    period = Budget.Period.NONE
    if budget is not None and budget.period != Budget.Period.NONE:
        period = budget.period
        start, resets_at = period_bounds(budget.period, now)
        limit = budget.limit
        left = budget.limit - spent(workspace.pk, member_id, since=start)
    pool_left = workspace.pool_balance if workspace.pool_enabled else None
    return Allowance(left, limit, period, resets_at, pool_left, at=now)


def _admins(workspace: Workspace) -> str:
    names = list(
        Membership.objects.filter(workspace=workspace, role__in=MANAGERS)
        .order_by("user__username")
        .values_list("user__username", flat=True)[:3]
    )
    if len(names) > 1:
        return f"{', '.join(names[:-1])} or {names[-1]}"
    return names[0] if names else "an admin"


def refusal(workspace: Workspace, member_id: int, amount: Decimal | int) -> str:
    """The sentence a hold of `amount` would be refused with now ("" when it fits): the Create
    form shows it before Run, the hold raises it."""
    try:
        _check_fits(workspace, member_id, Decimal(amount))
    except BudgetExceeded as e:
        return str(e)
    return ""


def _check_fits(workspace: Workspace, member_id: int, amount: Decimal) -> None:
    now = timezone.now()
    room = allowance(workspace, member_id, now)
    if room.pool_left is not None and amount > room.pool_left:
        raise BudgetExceeded(
            f"This job needs {fmt(amount)} credits but the workspace's pool has "
            f"{fmt(max(room.pool_left, ZERO))} left. Ask {_admins(workspace)} to add credits."
        )
    if room.left is not None and amount > room.left:
        raise BudgetExceeded(
            f"This job needs {fmt(amount)} credits but you have {fmt(max(room.left, ZERO))} of "
            f"your {fmt(room.limit)} left {room.this_period}; it resets in {room.resets_in} "
            f"({room.resets_at:%Y-%m-%d %H:%M} UTC). Ask {_admins(workspace)} to raise your limit."
        )


# -- jobs -----------------------------------------------------------------------------------------


# A chargeable thing (a Generation, a chat reply's Message) exposes `ledger_cause` (the entry
# field naming it), `workspace_id`, `member_id`, `model_slug` and `hold_amount`: one API holds,
# settles and releases both.


def hold(item) -> LedgerEntry:
    """Takes an item's hold (a job's estimate, a reply's pre-deduction) if it fits the pool and
    the member's budget (BudgetExceeded otherwise). Call inside the transaction that creates a
    job."""
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().get(pk=item.workspace_id)
        amount = Decimal(item.hold_amount)
        _check_fits(workspace, item.member_id, amount)
        return _append(
            workspace.pk,
            member_id=item.member_id,
            kind=Kind.HOLD,
            amount=-amount,
            model_slug=item.model_slug,
            **item.ledger_cause,
        )


def _resolve(
    cause: dict, workspace_id: int, member_id, model_slug: str, make
) -> LedgerEntry | None:
    """Adds a job's one resolution; a second attempt (a task run twice) finds the first."""
    existing = LedgerEntry.objects.filter(**cause, kind__in=[Kind.SETTLE, Kind.RELEASE]).first()
    if existing is not None:
        return existing
    held = LedgerEntry.objects.filter(**cause, kind=Kind.HOLD).first()
    if held is None:
        return None  # nothing was held (a job from before the ledger): nothing to resolve
    kind, amount, reason = make(-held.amount)
    try:
        with transaction.atomic():
            return _append(
                workspace_id,
                member_id=member_id,
                kind=kind,
                amount=amount,
                model_slug=model_slug,
                reason=reason,
                **cause,
            )
    except IntegrityError:  # resolved concurrently: the unique constraint kept it to one
        return LedgerEntry.objects.get(**cause, kind__in=[Kind.SETTLE, Kind.RELEASE])


def settle_amount(held: Decimal, consumed) -> tuple[Decimal, str]:
    """(settle entry amount, reason) for a job that held `held` and reported `consumed`."""
    charge = as_credits(consumed)
    if charge is None:
        return (
            ZERO,
            f"The service did not report a usable charge ({consumed!r}); the estimate stands.",
        )
    return held - charge, ""


def _settling(consumed):
    """The resolution of a hold by what the service charged (see settle_amount)."""

    def make(held: Decimal) -> tuple[str, Decimal, str]:
        amount, reason = settle_amount(held, consumed)
        return Kind.SETTLE, amount, reason

    return make


def _releasing(reason: str):
    """The resolution that gives the whole hold back."""
    return lambda held: (Kind.RELEASE, held, reason)


def settle(item, consumed) -> LedgerEntry | None:
    """Closes an item's hold at what the upstream charged (`consumed`; the hold stands when it
    is not a usable number, and the entry says so)."""
    return _resolve(
        item.ledger_cause, item.workspace_id, item.member_id, item.model_slug, _settling(consumed)
    )


def release(item, reason: str = "") -> LedgerEntry | None:
    """Gives an item's whole hold back: the upstream surely did not run (or charge) it."""
    return _resolve(
        item.ledger_cause, item.workspace_id, item.member_id, item.model_slug, _releasing(reason)
    )


def job_cost(generation) -> Decimal:
    return -exact(generation.ledger.aggregate(total=Sum("amount"))["total"])


# -- an admin's entries ----------------------------------------------------------------------


def grant(workspace: Workspace, amount, *, by, reason: str) -> LedgerEntry:
    """Credits bought upstream, added to the workspace's pool."""
    value = as_credits(amount)
    if value is None or value == 0:
        raise ValueError("A grant is a positive number of credits.")
    if not reason.strip():
        raise ValueError("Say why (e.g. the upstream order it mirrors).")
    with transaction.atomic():
        return _append(workspace.pk, kind=Kind.GRANT, amount=value, created_by=by, reason=reason)


def adjust(workspace: Workspace, amount, *, by, reason: str, member=None) -> LedgerEntry:
    """A correction, positive or negative, always with a reason."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise ValueError("An adjustment is a number of credits.") from None
    if not value.is_finite() or value == 0:
        raise ValueError("An adjustment is a non-zero number of credits.")
    if not reason.strip():
        raise ValueError("Say why the ledger is adjusted.")
    with transaction.atomic():
        return _append(
            workspace.pk, kind=Kind.ADJUST, amount=value, created_by=by, reason=reason,
            member=member,
        )  # fmt: skip


# -- history made in bulk (seed_gallery) ---------------------------------------------------------


def record_past_jobs(workspace: Workspace, jobs) -> int:
    """Books jobs that already ended (made by `seed_gallery`, not run here) as the ledger would
    have: each a hold of its estimate and a resolution (a settle at its `consumed_credits`, or a
    release when it failed), with the pool and the daily roll-up in step. In bulk: one insert per
    thousand entries, not one transaction per job. Returns the credits taken."""
    entries: list[LedgerEntry] = []
    days: dict[tuple, Decimal] = {}
    for job in jobs:
        held = Decimal(job.estimate)
        charged = as_credits(job.consumed_credits)
        common = {
            "workspace_id": workspace.pk,
            "member_id": job.user_id,
            "model_slug": job.model_slug,
            "generation_id": job.pk,
        }
        hold = LedgerEntry(kind=Kind.HOLD, amount=-held, created_at=job.created_at, **common)
        if charged is None:  # failed: the hold goes back
            end = LedgerEntry(kind=Kind.RELEASE, amount=held, created_at=job.finished_at, **common)
        else:
            end = LedgerEntry(
                kind=Kind.SETTLE, amount=held - charged, created_at=job.finished_at, **common
            )
        for entry in (hold, end):  # as _add_usage would: each entry on its own day
            entries.append(entry)
            key = (job.user_id, job.model_slug, entry.created_at.astimezone(UTC).date())
            days[key] = days.get(key, ZERO) - entry.amount
    with transaction.atomic():
        LedgerEntry.objects.bulk_create(entries, batch_size=1000)
        taken = sum((e.amount for e in entries), ZERO)
        Workspace.objects.filter(pk=workspace.pk).update(pool_balance=F("pool_balance") + taken)
        for (member_id, model_slug, day), credits in days.items():
            key = {"workspace_id": workspace.pk, "member_id": member_id, "model_slug": model_slug}
            if not UsageDay.objects.filter(**key, day=day).update(credits=F("credits") + credits):
                UsageDay.objects.create(**key, day=day, credits=credits)
    return int(-taken)
