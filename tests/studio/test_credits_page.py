from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from generations.models import Generation
from studio import ledger
from studio.models import Budget, LedgerEntry, Membership, Role, Workspace
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def carol(alice):
    workspace = alice.memberships.get().workspace
    carol = make_user("carol")
    Membership.objects.create(
        workspace=workspace, user=carol, role=Role.MEMBER, selected_at=timezone.now()
    )
    return carol


def test_it_lets_an_owner_grant_adjust_and_set_budgets(alice, carol) -> None:
    client = client_for(alice)
    assert client.post("/credits/pool", {"pool_enabled": "on"}).status_code == 302
    client.post("/credits/grant", {"amount": "500", "reason": "Order 1234 upstream"})
    client.post("/credits/adjust", {"amount": "-20", "reason": "Invoice correction"})
    member = Membership.objects.get(user=carol, workspace__memberships__user=alice)
    client.post(
        f"/credits/budget/{member.pk}",
        {f"m{member.pk}-limit": "50", f"m{member.pk}-period": "week"},
    )
    workspace = Workspace.objects.get(pk=member.workspace_id)
    assert workspace.pool_enabled
    assert workspace.pool_balance == Decimal(480)
    assert member.budget.limit == 50
    assert member.budget.period == "week"
    kinds = list(
        LedgerEntry.objects.filter(workspace=workspace).values_list(
            "kind", "created_by__username", "reason"
        )
    )
    assert kinds == [
        ("grant", "alice", "Order 1234 upstream"),
        ("adjust", "alice", "Invoice correction"),
    ]
    page = client.get("/credits/").content.decode()
    assert "Order 1234 upstream" in page
    assert ledger.problems() == []


def test_it_refuses_bad_amounts_with_a_message(alice) -> None:
    client = client_for(alice)
    response = client.post("/credits/grant", {"amount": "-5", "reason": "x"})
    assert response.status_code == 200
    assert response.context["grant_form"].errors["amount"]
    response = client.post("/credits/adjust", {"amount": "0", "reason": "x"})
    assert "non-zero" in " ".join(response.context["adjust_form"].errors["amount"])
    assert not LedgerEntry.objects.exists()


def test_it_does_not_exist_for_members_and_strangers(alice, carol, bob) -> None:
    member = Membership.objects.get(user=carol, workspace__memberships__user=alice)
    client = client_for(carol)
    assert client.get("/credits/").status_code == 404
    assert client.post("/credits/grant", {"amount": "5", "reason": "x"}).status_code == 404
    assert client.post(f"/credits/budget/{member.pk}", {}).status_code == 404
    assert "Credits</a>" not in client.get("/").content.decode()
    stranger = client_for(bob)  # owns a workspace of his own, not alice's
    assert stranger.post(f"/credits/budget/{member.pk}", {}).status_code == 404
    assert "carol" not in stranger.get("/credits/").content.decode()
    assert not LedgerEntry.objects.exists()
    assert not Budget.objects.exists()


def test_it_warns_a_member_near_their_limit_with_a_forecast(alice, carol) -> None:
    member = Membership.objects.get(user=carol, workspace__memberships__user=alice)
    Budget.objects.create(membership=member, limit=100, period=Budget.Period.MONTH)
    generation = Generation.objects.create(
        workspace=member.workspace, user=carol, model_slug="flux-2", kind="image",
        params={}, estimate=85, token="big",
    )  # fmt: skip
    ledger.hold(generation)
    page = client_for(carol).get("/").content.decode()
    assert "You have used 85 of your 100 credits this month" in page
    assert "At this pace it runs out in" in page
    assert "You have used" not in client_for(alice).get("/").content.decode()


def test_it_notes_members_near_their_limit_for_admins(alice, carol) -> None:
    member = Membership.objects.get(user=carol, workspace__memberships__user=alice)
    Budget.objects.create(membership=member, limit=100, period=Budget.Period.MONTH)
    page = client_for(alice).get("/credits/").content.decode()
    assert "near its limit" not in page
    generation = Generation.objects.create(
        workspace=member.workspace, user=carol, model_slug="flux-2", kind="image",
        params={}, estimate=90, token="near",
    )  # fmt: skip
    ledger.hold(generation)
    page = client_for(alice).get("/credits/").content.decode()
    assert "near its limit" in page
