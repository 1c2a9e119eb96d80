from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from generations.models import Generation
from studio import audit, ledger
from studio.models import AuditEvent, Budget, LedgerEntry, Membership, Role, Workspace
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


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
    assert audit.problems() == []


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
    assert ledger.alert(member.workspace, carol.pk) in page  # its forecast: see test_ledger
    assert "You have used" not in client_for(alice).get("/").content.decode()
    ledger_page = client_for(alice).get("/credits/").content.decode()
    assert f'<a href="/g/{generation.code}/">Flux 2</a>' in ledger_page  # names, as Usage has


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


def test_it_says_what_was_spent_while_the_pool_is_off(alice) -> None:
    workspace = alice.memberships.get().workspace
    generation = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={}, estimate=323, token="spent",
    )  # fmt: skip
    ledger.hold(generation)  # a fresh workspace: no credits added, the pool off
    client = client_for(alice)
    page = client.get("/credits/").content.decode()
    assert "Pool off: jobs are not checked against a pool." in page
    assert "<strong>323</strong> credits spent so far" in page
    assert "-323" not in page.split("Recent ledger entries")[0]  # no negative balance shown
    client.post("/credits/pool", {"pool_enabled": "on"})
    page = client.get("/credits/").content.decode()
    assert "The pool is overdrawn by 323 credits." in page
    assert "credits spent so far" not in page
    client.post("/credits/grant", {"amount": "500", "reason": "Order 1"})
    page = client.get("/credits/").content.decode()
    assert "<strong>177</strong> credits in the pool" in page
    assert "overdrawn" not in page


def test_it_shows_no_limit_as_an_empty_limit(alice, carol) -> None:
    member = Membership.objects.get(user=carol, workspace__memberships__user=alice)
    client = client_for(alice)
    limit = f"m{member.pk}-limit"
    period = f"m{member.pk}-period"

    def limit_input() -> str:
        page = client.get("/credits/").content.decode()
        return re.search(rf'<input[^>]*name="{limit}"[^>]*>', page).group(0)

    assert "value=" not in limit_input()
    assert 'placeholder="No limit"' in limit_input()
    client.post(f"/credits/budget/{member.pk}", {limit: "", period: "week"})
    assert Budget.objects.get(membership=member).period == Budget.Period.NONE
    assert "value=" not in limit_input()

    # a limit typed for a member without one, the period left at "No limit": asked for a period
    response = client.post(
        f"/credits/budget/{member.pk}", {limit: "50", period: "none"}, follow=True
    )
    assert "A limit of 50 credits needs a period" in response.content.decode()
    assert Budget.objects.get(membership=member).period == Budget.Period.NONE

    client.post(f"/credits/budget/{member.pk}", {limit: "50", period: "week"})
    assert 'value="50"' in limit_input()
    client.post(f"/credits/budget/{member.pk}", {limit: "50", period: "none"})  # picked No limit
    budget = Budget.objects.get(membership=member)
    assert (budget.period, budget.limit) == (Budget.Period.NONE, 0)
    assert "value=" not in limit_input()
    event = AuditEvent.objects.filter(action="budget changed").latest("pk")
    assert event.detail == "carol: no limit"


def test_it_keeps_each_entrys_amount_in_a_column_narrow_screens_show(alice) -> None:
    workspace = alice.memberships.get().workspace
    ledger.grant(workspace, 40, by=alice, reason="Order 7")
    page = client_for(alice).get("/credits/").content.decode()
    ledger_table = page.split("Recent ledger entries")[1]
    header = re.search(r"<thead>.*?</thead>", ledger_table, re.S).group(0)
    narrow = [th for th in re.findall(r"<th[^>]*>.*?</th>", header) if "credits-wide" not in th]
    assert [re.sub(r"<[^>]+>", "", th) for th in narrow] == ["Entry", "Credits"]
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", ledger_table, re.S).group(1)
    assert re.search(r'<td class="num credits-amount">40</td>', row)
    assert "Grant · alice" in row


def test_the_credits_page_has_no_element_id_twice(alice, alice_client) -> None:
    ids = re.findall(r'\bid="([^"]+)"', alice_client.get("/credits/").content.decode())
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
