from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import replace
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qsl

import pytest
from django.db.models import Sum
from django.utils import dateformat, timezone

from generations.models import Generation
from studio import ledger, usage
from studio.models import Budget, LedgerEntry, Membership, Role, UsageDay
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def job(user, workspace, slug: str, estimate: int, consumed, token: str) -> Generation:
    generation = Generation.objects.create(
        workspace=workspace, user=user, model_slug=slug, kind="image", params={},
        estimate=estimate, token=token,
    )  # fmt: skip
    ledger.hold(generation)
    if consumed is not None:
        ledger.settle(generation, consumed)
    return generation


@pytest.fixture
def team(alice):
    """alice owns the workspace; carol is a member of it."""
    workspace = alice.memberships.get().workspace
    carol = make_user("carol")
    Membership.objects.create(workspace=workspace, user=carol, role=Role.MEMBER)
    Membership.objects.filter(user=carol).exclude(workspace=workspace).update(selected_at=None)
    Membership.objects.filter(user=carol, workspace=workspace).update(selected_at=timezone.now())
    job(alice, workspace, "flux-2", 5, Decimal(5), "a1")
    job(alice, workspace, "kling-3", 300, Decimal("287.5"), "a2")
    job(carol, workspace, "imagen-4", 8, Decimal(16), "c1")  # charged above its hold
    job(carol, workspace, "suno", 10, None, "c2")  # still running: its hold counts
    return workspace, carol


def test_it_reconciles_exactly_with_the_ledger(alice, team) -> None:
    workspace, _ = team
    page = client_for(alice).get("/usage/?group=model")
    report = page.context["report"]
    ledger_total = -LedgerEntry.objects.filter(
        workspace=workspace, kind__in=["hold", "settle", "release"]
    ).aggregate(t=Sum("amount"))["t"]
    assert report.total == ledger_total == Decimal("318.5")
    assert report.by_group == {
        "kling-3": Decimal("287.5"),
        "imagen-4": Decimal(16),
        "suno": Decimal(10),
        "flux-2": Decimal(5),
    }


def test_it_groups_by_member_and_kind(alice, team) -> None:
    by_member = client_for(alice).get("/usage/?group=member").context["report"].by_group
    assert by_member == {"alice": Decimal("292.5"), "carol": Decimal(26)}
    by_kind = client_for(alice).get("/usage/?group=kind").context["report"].by_group
    assert by_kind == {"Video": Decimal("287.5"), "Images": Decimal(21), "Music": Decimal(10)}


def test_it_shows_a_member_their_own_usage_and_the_total(team) -> None:
    _, carol = team
    page = client_for(carol).get("/usage/?group=member")
    assert page.context["report"].by_group == {"carol": Decimal(26)}
    assert page.context["workspace_total"] == Decimal("318.5")
    assert "alice" not in page.context["report"].by_group
    jobs = client_for(carol).get("/usage/jobs?group=member&value=alice")
    assert jobs.context["rows"] == []


def test_it_exports_the_same_rows_as_csv(alice, team) -> None:
    response = client_for(alice).get("/usage/export.csv?group=model&bucket=month")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["month", "model", "credits"]
    month = timezone.now().date().replace(day=1).isoformat()
    assert sorted(rows[1:]) == sorted(
        [[month, "kling-3", "287.5"], [month, "imagen-4", "16"], [month, "suno", "10"],
         [month, "flux-2", "5"]]
    )  # fmt: skip


@pytest.mark.parametrize("name", ["+1+1", "-2+3", "@SUM", "=cmd"])
def test_it_exports_a_formula_like_name_as_text_never_a_formula(alice, team, name) -> None:
    workspace, _ = team
    from django.contrib.auth import get_user_model

    sly = get_user_model().objects.create_user("sly")
    get_user_model().objects.filter(pk=sly.pk).update(
        username=name
    )  # "=" is not allowed at sign-up
    sly.refresh_from_db()
    Membership.objects.create(workspace=workspace, user=sly, role=Role.MEMBER)
    job(sly, workspace, "flux-2", 5, Decimal(-5) + 10, "s1")
    response = client_for(alice).get("/usage/export.csv?group=member&bucket=month")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[1:] for row in rows if row[1].endswith(name)] == [["'" + name, "5"]]


def test_it_lists_the_jobs_behind_a_bar(alice, team) -> None:
    response = client_for(alice).get("/usage/jobs?group=member&value=carol")
    costs = sorted(cost for _, cost in response.context["rows"])
    assert costs == [Decimal(10), Decimal(16)]


def test_it_draws_a_chart_with_links(alice, team) -> None:
    html = client_for(alice).get("/usage/?group=model").content.decode()
    assert "<svg" in html
    assert html.count("<rect") == 4
    assert "/usage/jobs?" in html


def test_it_says_what_is_wrong_with_the_filters(alice, team) -> None:
    page = client_for(alice).get("/usage/?start=2026-05-01&end=2026-04-01")
    assert "The start comes after the end." in page.content.decode()
    assert page.context["report"] is None
    assert (
        client_for(alice).get("/usage/export.csv?start=2020-01-01&end=2026-01-01").status_code
        == 400
    )


def test_it_keeps_other_workspaces_out(alice, team, bob) -> None:
    page = client_for(bob).get("/usage/?group=member")
    assert page.context["report"].total == 0
    assert client_for(bob).get("/usage/jobs?group=member&value=alice").context["rows"] == []


def test_a_long_range_of_days_draws_one_link_per_bar(alice, team) -> None:
    """A year by day is hundreds of bars: each colour is one path and each bar one link, so the
    page stays small; the bar's title still gives every piece."""
    workspace, carol = team
    today = timezone.now().date()
    UsageDay.objects.bulk_create(  # carol's earlier days, as the roll-up keeps them
        UsageDay(workspace=workspace, member=carol, model_slug="flux-2",
                 day=today - dt.timedelta(days=back), credits=4)
        for back in range(1, 120)
    )  # fmt: skip
    start = today - dt.timedelta(days=200)
    page = client_for(alice).get(f"/usage/?group=member&bucket=day&start={start}&end={today}")
    html = page.content.decode()
    assert len(page.context["report"].buckets) == 120
    assert len(usage.span(page.context["report"].filters)) == 201  # the axis: empty days too
    assert html.count('class="hit"') == 120  # a link per day with credits; none over empty days
    assert html.count("<path") == 2  # alice and carol
    assert f"{today}: 318.5 credits (carol 26, alice 292.5)" in html  # series order: most first
    assert f"{today - dt.timedelta(days=3)}: 4 credits (carol 4)" in html
    assert len(html) < 100_000


def jobs_links(html: str) -> list[list[tuple[str, str]]]:
    """The query of every link to the jobs page, as (key, value) pairs."""
    hrefs = re.findall(r'href="/usage/jobs\?([^"]*)"', html)
    return [parse_qsl(unescape(href), keep_blank_values=True) for href in hrefs]


def test_it_shows_the_dates_it_used_when_the_address_has_none(alice, team) -> None:
    today = timezone.now().date()
    start = today - dt.timedelta(days=29)
    for address in ("/usage/?group=model", "/usage/?group=model&start=&end=", "/usage/"):
        page = client_for(alice).get(address)
        form = page.context["form"]
        assert (form["start"].value(), form["end"].value()) == (str(start), str(today)), address
        html = page.content.decode()
        assert f'name="start" value="{start}"' in html, address
        assert f'name="end" value="{today}"' in html, address
    # Only an end given: the start is 30 days before it, and shown.
    page = client_for(alice).get("/usage/?group=model&end=2026-03-31")
    assert page.context["form"]["start"].value() == "2026-03-02"
    assert page.context["form"]["group"].value() == "model"  # the other filters stay


def test_it_labels_the_bars_by_their_bucket(alice, team) -> None:
    today = timezone.now().date()
    by_month = client_for(alice).get("/usage/?group=model&bucket=month").content.decode()
    month = today.replace(day=1)
    assert f">{dateformat.format(month, 'M Y')}</text>" in by_month  # "Nov 2026", not "Nov 1"
    assert f">{dateformat.format(month, 'M j')}</text>" not in by_month
    assert f"{dateformat.format(month, 'F Y')} · Kling 3.0: 287.5 credits" in by_month
    by_week = client_for(alice).get("/usage/?group=model&bucket=week").content.decode()
    monday = today - dt.timedelta(days=today.weekday())
    assert f">{dateformat.format(monday, 'M j')}</text>" in by_week  # the week's start
    assert f"week of {monday} · Kling 3.0" in by_week


def test_it_lays_out_every_bucket_of_the_range(alice, team) -> None:
    """Jobs on one day of 30 draw a thin bar at the right end, not one as wide as the chart."""
    page = client_for(alice).get("/usage/?group=model")  # the last 30 days, jobs today only
    chart = page.context["chart"]
    assert len(page.context["report"].buckets) == 1  # the CSV's rows: non-empty buckets only
    assert {bar.width for bar in chart["bars"]} == {round(664 / 30 * 0.7, 1)}
    assert all(bar.x > 650 for bar in chart["bars"])
    html = page.content.decode()
    assert html.count("<rect") == 4  # 30 buckets: still one link per piece, none for empty days
    assert 'class="hit"' not in html
    assert len(chart["labels"]) == 10  # every third day of 30
    # A year by month: every month has its place, though only one has credits.
    today = timezone.now().date()
    start = today.replace(day=1) - dt.timedelta(days=300)
    page = client_for(alice).get(f"/usage/?group=model&bucket=month&start={start}&end={today}")
    assert len(usage.span(page.context["report"].filters)) == 11
    assert all(bar.width < 50 for bar in page.context["chart"]["bars"])


def test_span_covers_the_range_in_whole_buckets() -> None:
    def span(start: str, end: str, bucket: str) -> list[str]:
        filters = usage.Filters(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
        return [str(b) for b in usage.span(replace(filters, bucket=bucket))]

    assert span("2026-02-27", "2026-03-02", "day") == [
        "2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02",
    ]  # fmt: skip
    assert span("2026-11-18", "2026-12-01", "week") == ["2026-11-16", "2026-11-23", "2026-11-30"]
    assert span("2026-11-18", "2027-01-01", "month") == ["2026-11-01", "2026-12-01", "2027-01-01"]


def test_a_week_bar_links_to_its_jobs_within_the_range(alice, team) -> None:
    """A week that starts before the range links to the range's part of it, as its bar counts."""
    today = timezone.now().date()
    page = client_for(alice).get(f"/usage/?group=model&bucket=week&start={today}&end={today}")
    for query in jobs_links(page.content.decode()):
        assert dict(query)["start"] == dict(query)["end"] == str(today)


def test_it_shows_model_names_but_links_by_slug(alice, team) -> None:
    page = client_for(alice).get("/usage/?group=model")
    html = page.content.decode()
    assert "<td>Kling 3.0</td>" in html  # the table
    assert "</svg>Kling 3.0</li>" in html  # the legend
    assert f"{timezone.now().date()} · Kling 3.0: 287.5 credits" in html  # a bar's title
    assert ">kling-3<" not in html
    values = {dict(query).get("value") for query in jobs_links(html)}
    assert values == {"kling-3", "imagen-4", "suno", "flux-2"}
    jobs = client_for(alice).get("/usage/jobs?group=model&value=kling-3")
    assert "<h1>Jobs: Kling 3.0</h1>" in jobs.content.decode()
    assert [cost for _, cost in jobs.context["rows"]] == [Decimal("287.5")]
    unknown = client_for(alice).get("/usage/jobs?group=model&value=gone-model")
    assert "<h1>Jobs: gone-model</h1>" in unknown.content.decode()


def test_its_links_to_jobs_name_each_key_once(alice, team) -> None:
    today = timezone.now().date()
    start = today - dt.timedelta(days=6)
    address = f"/usage/?group=model&bucket=week&start={start}&end={today}&model=&value=x"
    links = jobs_links(client_for(alice).get(address).content.decode())
    assert len(links) == 4 + 4  # the bars' pieces and the table's rows
    for query in links:
        keys = [key for key, _ in query]
        assert len(keys) == len(set(keys)), query
        assert dict(query)["group"] == "model"
        assert dict(query)["value"] != "x"
    # Without other filters, a bar's link is still a plain query.
    html = client_for(alice).get(f"/usage/?start={start}&end={today}").content.decode()
    assert "/usage/jobs?&" not in html
    assert all(len({k for k, _ in q}) == len(q) for q in jobs_links(html))


def test_it_says_when_a_members_budget_resets(team) -> None:
    _, carol = team
    Budget.objects.create(
        membership=carol.memberships.get(role=Role.MEMBER), limit=Decimal(100), period="day"
    )
    html = client_for(carol).get("/usage/").content.decode()
    assert re.search(r"of your 100 left today; resets in (\d+ (minute|hour)s?|1 day)<", html)


def test_the_member_filter_is_a_choice_of_who_spent_here(alice, team) -> None:
    """The member filter lists the workspace's members and anyone who spent here and left; a name
    that is neither gets a message, not an empty report."""
    workspace, carol = team
    Membership.objects.filter(workspace=workspace, user=carol).delete()  # carol left
    make_user("dave")  # never in this workspace
    page = client_for(alice).get("/usage/?group=model")
    field = page.context["form"]["member"]
    assert [value for value, _ in field.field.choices] == ["", "alice", "carol"]
    assert '<select name="member"' in page.content.decode()
    only_carol = client_for(alice).get("/usage/?group=model&member=carol").context["report"]
    assert only_carol.by_group == {"imagen-4": Decimal(16), "suno": Decimal(10)}
    stranger = client_for(alice).get("/usage/?member=dave")
    assert stranger.context["report"] is None
    assert "Select a valid choice" in stranger.content.decode()
