from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from generations.models import Generation
from studio import ledger
from studio.models import LedgerEntry, Membership, Role, UsageDay
from tests.conftest import make_user

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


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


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
    assert html.count('class="hit"') == 120
    assert html.count("<path") == 2  # alice and carol
    assert f"{today}: 318.5 credits (carol 26, alice 292.5)" in html  # series order: most first
    assert f"{today - dt.timedelta(days=3)}: 4 credits (carol 4)" in html
    assert len(html) < 100_000
