"""`manage.py seed_gallery` (issue 15): anyone can make the 100,000-result workspace the gallery
figures are measured on; its jobs are booked in the ledger as the studio books real ones."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import Sum

from generations.models import Generation, State
from studio import audit
from studio.models import LedgerEntry, Role, UsageDay, Workspace
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_it_makes_a_team_a_year_of_results_and_their_ledger(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path
    out = io.StringIO()
    call_command("seed_gallery", count=600, workspace="Big Agency", owner="boss", stdout=out)
    assert "600 jobs in “Big Agency”" in out.getvalue()
    space = Workspace.objects.get(name="Big Agency")
    assert space.memberships.count() == 20
    assert space.memberships.get(user__username="boss").role == Role.OWNER
    jobs = Generation.objects.filter(workspace=space)
    assert jobs.count() == 600
    assert jobs.values("model_slug").distinct().count() >= 8
    assert jobs.values("user").distinct().count() >= 15
    days = jobs.dates("created_at", "day").count()
    assert days > 150  # over a year, not one moment
    done = jobs.filter(state=State.SUCCEEDED)
    assert done.count() > 500
    assert not done.filter(files=None).exists()
    assert not jobs.filter(state=State.FAILED).exclude(files=None).exists()
    # The ledger: a hold and a resolution each; what the jobs cost, the pool and the roll-up agree.
    assert LedgerEntry.objects.filter(workspace=space).count() == 1200
    cost = sum(job.consumed_credits for job in done)
    assert -LedgerEntry.objects.filter(workspace=space).aggregate(t=Sum("amount"))["t"] == cost
    space.refresh_from_db()
    assert space.pool_balance == -cost
    assert UsageDay.objects.filter(workspace=space).aggregate(t=Sum("credits"))["t"] == cost
    assert audit.problems(space) == []

    # Run again: the same workspace and people, more jobs.
    call_command("seed_gallery", count=10, workspace="Big Agency", owner="boss", stdout=out)
    assert Generation.objects.filter(workspace=space).count() == 610
    assert space.memberships.count() == 20

    # What it made is what the pages show: the gallery and a result's file.
    boss = space.memberships.get(user__username="boss")
    boss.selected_at = boss.created_at
    boss.save()
    client = client_for(boss.user)
    page = client.get("/gallery/", {"q": "a"})
    assert page.status_code == 200
    assert page.content.count(b'class="gallery-item"') == 24
    picture = done.filter(kind="image").first()
    assert client.get(f"/g/{picture.code}/files/0").status_code == 200
