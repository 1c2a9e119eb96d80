"""Who spent which credits on what: the numbers behind the Usage page and its CSV.

Every figure is minus the sum of job ledger entries (holds, settles, releases), grouped by when
the entry was written. So the report reconciles exactly with the ledger: a job still running
counts its hold; once settled, its real cost.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote_plus

from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import dateformat
from django.utils.html import escape

from generations import catalog
from studio.ledger import exact
from studio.models import LedgerEntry, Membership, UsageDay

GROUPS = {"member": "Member", "model": "Model", "kind": "Kind"}
BUCKETS = ("day", "week", "month")
JOB_KINDS = (LedgerEntry.Kind.HOLD, LedgerEntry.Kind.SETTLE, LedgerEntry.Kind.RELEASE)
ZERO = Decimal(0)
MAX_SERIES = 8  # more groups than this are summed into "others" in the chart
DENSE = 92  # more buckets than this: one link per bar, not per piece (see _bar_markup)


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date  # inclusive
    group: str = "member"
    bucket: str = "day"
    member: str = ""  # a username, or everyone the viewer may see
    model: str = ""

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


@dataclass
class Report:
    filters: Filters
    buckets: list[dt.date] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    cells: dict[tuple[dt.date, str], Decimal] = field(default_factory=dict)
    by_group: dict[str, Decimal] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # what each group is called on the page
    total: Decimal = Decimal(0)

    def rows(self) -> list[tuple[dt.date, str, Decimal]]:
        return [(b, g, self.cells[(b, g)]) for b in self.buckets for g in self.groups
                if (b, g) in self.cells]  # fmt: skip

    def table(self) -> list[tuple[str, str, Decimal]]:
        """(value for links, name to show, credits) per group, most credits first."""
        return [(g, self.labels.get(g, g), value) for g, value in self.by_group.items()]


def entries(workspace, filters: Filters, *, only_member_id: int | None = None):
    qs = LedgerEntry.objects.filter(
        workspace=workspace,
        kind__in=JOB_KINDS,
        created_at__gte=filters.start_at,
        created_at__lt=filters.end_at,
    )
    if only_member_id is not None:
        qs = qs.filter(member_id=only_member_id)
    if filters.member:
        qs = qs.filter(member__username=filters.member)
    if filters.model:
        qs = qs.filter(model_slug=filters.model)
    return qs


def build(workspace, filters: Filters, *, only_member_id: int | None = None) -> Report:
    """Reads the daily roll-up (exactly the ledger's job entries, summed per day)."""
    rows = UsageDay.objects.filter(
        workspace=workspace, day__gte=filters.start, day__lte=filters.end
    )
    if only_member_id is not None:
        rows = rows.filter(member_id=only_member_id)
    if filters.member:
        rows = rows.filter(member__username=filters.member)
    if filters.model:
        rows = rows.filter(model_slug=filters.model)
    # Grouped by the member's id, not their name: no join over a year of rows (names after).
    key = "member_id" if filters.group == "member" else "model_slug"
    report = Report(filters)
    sums = list(rows.values_list("day", key).annotate(total=Sum("credits")))
    names = _names(filters.group, {value for _, value, _ in sums})
    cells: dict[tuple[dt.date, str], Decimal] = defaultdict(Decimal)
    bucket_of = _bucketer(filters.bucket)
    for day, value, credits in sums:
        cells[(bucket_of(day), names[value])] += credits
    cells = {k: exact(v) for k, v in cells.items()}  # SQLite sums drift in float digits
    report.cells = {k: v for k, v in cells.items() if v}
    report.buckets = sorted({b for b, _ in report.cells})
    by_group: dict[str, Decimal] = defaultdict(Decimal)
    for (_, name), value in report.cells.items():
        by_group[name] += value
    report.labels = {group: group_label(filters.group, group) for group in by_group}
    report.by_group = dict(
        sorted(by_group.items(), key=lambda item: (-item[1], report.labels[item[0]]))
    )
    report.groups = list(report.by_group)
    report.total = sum(by_group.values(), Decimal(0))
    return report


def total(workspace, filters: Filters) -> Decimal:
    """Everyone's credits in the range (what a member sees beside their own)."""
    rows = UsageDay.objects.filter(
        workspace=workspace, day__gte=filters.start, day__lte=filters.end
    )
    return exact(rows.aggregate(total=Sum("credits"))["total"])


def _names(group: str, values: set) -> dict:
    """What each group value of the rows (member ids or model slugs) is called in the report."""
    if group == "member":
        users = get_user_model().objects.filter(pk__in=values - {None})
        usernames = dict(users.values_list("pk", "username"))
        return {pk: usernames.get(pk) or "(deleted)" for pk in values}
    if group == "kind":
        return {slug: _kind_of(slug or "") for slug in values}
    return {slug: slug or "(deleted)" for slug in values}


def group_label(group: str, value: str) -> str:
    """The name shown for a group's value: a model's name rather than its slug (which stays the
    value in links and the CSV). Unknown slugs show as they are."""
    return catalog.name_of(value) if group == "model" else value


def _kind_of(slug: str) -> str:
    try:
        return catalog.get(slug).kind_label
    except KeyError:
        return slug or "other"


def _bucketer(bucket: str) -> Callable[[dt.date], dt.date]:
    if bucket == "week":
        return lambda day: day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return lambda day: day.replace(day=1)
    return lambda day: day


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str
    value: Decimal
    bucket: dt.date
    group: str
    query: str  # the jobs behind this piece of the bar


def _bar_markup(
    bars: list[Bar], buckets: list[tuple[float, float, float, str, str]], jobs: str
) -> str:
    """The bars as SVG, built here rather than in a template loop: a year of days by eight
    groups is thousands of elements, which the template engine renders ten times slower.

    With few buckets every piece of a bar is its own link (that member's jobs that day). With
    many (`DENSE`), a piece is a sliver a pointer cannot hit: each colour is then one path, and
    each bucket one see-through link over its whole bar, titled with its pieces.

    `jobs` is the jobs page's URL with the page's other filters, ending in "?" or "&"; each
    bar's query adds its own dates (and group), so no key appears twice."""
    jobs = escape(jobs)
    if not buckets:
        return "".join(
            f'<a href="{jobs}{escape(bar.query)}"><rect x="{bar.x}" y="{bar.y}" '
            f'width="{bar.width}" height="{bar.height}" fill="{bar.color}">'
            f"<title>{escape(bar.label)}</title></rect></a>"
            for bar in bars
        )
    paths: dict[str, list[str]] = defaultdict(list)
    for bar in bars:
        paths[bar.color].append(f"M{bar.x} {bar.y}h{bar.width}v{bar.height}h-{bar.width}z")
    shapes = [f'<path fill="{color}" d="{"".join(d)}"/>' for color, d in paths.items()]
    links = [
        f'<a href="{jobs}{escape(query)}"><rect class="hit" x="{x}" y="8" '
        f'width="{width}" height="{height}"><title>{escape(label)}</title></rect></a>'
        for x, width, height, query, label in buckets
    ]
    return "".join(shapes) + "".join(links)


def span(filters: Filters) -> list[dt.date]:
    """Every bucket from the range's start to its end, with credits or not: the chart's time
    axis, so that one busy day in a year is a thin bar in its place."""
    bucket_of = _bucketer(filters.bucket)
    first, last = bucket_of(filters.start), bucket_of(filters.end)
    buckets = []
    while first <= last:
        buckets.append(first)
        first = bucket_end(first, filters.bucket) + dt.timedelta(days=1)
    return buckets


def bucket_end(start: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return start + dt.timedelta(days=6)
    if bucket == "month":
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return following - dt.timedelta(days=1)
    return start


def axis_label(start: dt.date, bucket: str) -> str:
    """Under a bar: the month ("Nov 2026"), or the day a day or week starts ("Nov 16")."""
    return dateformat.format(start, "M Y" if bucket == "month" else "M j")


def _when(start: dt.date, bucket: str) -> str:
    """A bucket in a bar's title."""
    if bucket == "month":
        return dateformat.format(start, "F Y")
    if bucket == "week":
        return f"week of {start}"
    return str(start)


PALETTE = ("#4338ca", "#0e9f6e", "#d97706", "#dc2626", "#0891b2", "#7c3aed", "#65a30d",
           "#db2777", "#94a3b8")  # fmt: skip


def chart(report: Report, jobs: str = "?", width: int = 720, height: int = 260) -> dict:
    """Stacked bars as SVG geometry: one slot per bucket of the range (empty ones too, so the
    time axis is true), one colour per group."""
    filters = report.filters
    series = report.groups[:MAX_SERIES]
    others = set(report.groups[MAX_SERIES:])
    colors = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(series)}
    if others:
        colors["others"] = PALETTE[-1]
    names = {**report.labels, "others": "others"}
    totals = defaultdict(Decimal)
    for (bucket, _), value in report.cells.items():
        totals[bucket] += value
    peak = max([*totals.values(), Decimal(1)])
    left, bottom = 48, 24
    plot_w, plot_h = width - left - 8, height - bottom - 8
    axis = span(filters)
    n = max(1, len(axis))
    slot = plot_w / n
    bar_w = min(slot, max(2.0, slot * 0.7))
    others_by_bucket: dict[dt.date, Decimal] = defaultdict(Decimal)
    for (bucket, group), value in report.cells.items():
        if group in others:
            others_by_bucket[bucket] += value
    quoted = {group: quote_plus(group) for group in series}
    dense = n > DENSE
    bars: list[Bar] = []
    links: list[tuple[float, float, float, str, str]] = []
    for i, bucket in enumerate(axis):
        if bucket not in totals:
            continue  # an empty slot: no bar, and no link to no jobs
        y = float(plot_h) + 8
        x = round(left + i * slot + (slot - bar_w) / 2, 1)
        # The jobs behind the bar: its bucket, within the report's range (a week or month can
        # start before the range or end after it).
        first, last = (
            max(bucket, filters.start),
            min(bucket_end(bucket, filters.bucket), filters.end),
        )
        dates = f"start={first}&end={last}&bucket=day"
        when = _when(bucket, filters.bucket)
        stacks = [(g, report.cells.get((bucket, g), ZERO)) for g in series]
        if others:
            stacks.append(("others", others_by_bucket[bucket]))
        stacks = [(group, value) for group, value in stacks if value > 0]
        for group, value in stacks:
            h = float(value / peak) * plot_h
            y -= h
            query = f"{dates}&value={quoted[group]}" if group in quoted else dates
            label = "" if dense else f"{when} · {names[group]}: {value.normalize():f} credits"
            bars.append(
                Bar(x, round(y, 1), round(bar_w, 1), round(h, 1), colors[group], label, value,
                    bucket, group, query)
            )  # fmt: skip
        if dense:
            pieces = ", ".join(f"{names[group]} {value.normalize():f}" for group, value in stacks)
            label = f"{when}: {totals[bucket].normalize():f} credits ({pieces})"
            links.append((round(left + i * slot, 1), round(slot, 2), plot_h, dates, label))
    ticks = [
        (8 + plot_h - plot_h * f, (peak * Decimal(str(f))).quantize(Decimal(1)))
        for f in (0, 0.5, 1)
    ]
    # Room for a label at up to 12px (narrow screens) and a gap: "Nov 2026" or "Nov 16".
    label_w = (8 if filters.bucket == "month" else 6) * 7.4 + 6
    labels_every = max(1, math.ceil(label_w / slot))
    labels = [
        (round(left + i * slot + slot / 2, 1), axis_label(b, filters.bucket))
        for i, b in enumerate(axis)
        if i % labels_every == 0 and left + i * slot + slot / 2 + label_w / 2 - 4 <= width
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "bar_markup": _bar_markup(bars, links, jobs),
        "ticks": ticks,
        "left": left,
        "labels": labels,
        "baseline": 8 + plot_h,
        "legend": [(names[group], color) for group, color in colors.items()],
    }


def member_names(workspace) -> list[str]:
    """Who the Usage page can be filtered by: today's members and anyone who spent here before
    (a member who left still has their spending in the report), by name."""
    names = set(
        Membership.objects.filter(workspace=workspace).values_list("user__username", flat=True)
    )
    names.update(
        UsageDay.objects.filter(workspace=workspace, member__isnull=False)
        .values_list("member__username", flat=True)
        .distinct()
    )
    return sorted(names, key=str.lower)
