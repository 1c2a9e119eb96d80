"""Run ×N (issue 15): one click sends N jobs, one hold each, all or none, each its own card,
sharing a batch; a fixed seed moves on by one a copy."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest

from generations.models import Generation, State
from studio.models import Budget, LedgerEntry
from tests.test_generate import post_form

pytestmark = pytest.mark.django_db
KITE = {"token": "k", "prompt": "a kite", "type": "pro", "resolution": "1K"}  # 5 credits


def test_three_copies_are_three_jobs_with_a_hold_each_and_three_cards(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    response = post_form(
        alice_client, "flux-2", {**KITE, "copies": "3"}, django_capture_on_commit_callbacks,
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="model-panel",
    )  # fmt: skip
    jobs = list(Generation.objects.order_by("pk"))
    assert len(jobs) == 3
    assert len({job.batch for job in jobs}) == 1
    assert jobs[0].batch is not None
    assert [job.token for job in jobs] == ["k", "k.2", "k.3"]
    holds = LedgerEntry.objects.filter(kind="hold").values_list("amount", flat=True)
    assert sorted(holds) == [Decimal(-5)] * 3
    body = response.content.decode()
    assert sum(f'id="job-{job.code}"' in body for job in jobs) == 3
    assert all(job.state == State.SUCCEEDED for job in Generation.objects.all())
    # The same form sent again (a double click): the same three, nothing more.
    post_form(alice_client, "flux-2", {**KITE, "copies": "3"}, django_capture_on_commit_callbacks)
    assert Generation.objects.count() == 3


def test_copies_that_do_not_all_fit_the_budget_start_none(
    alice, alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    Budget.objects.create(membership=alice.memberships.get(), limit=12, period="day")
    response = post_form(
        alice_client, "flux-2", {**KITE, "copies": "3"}, django_capture_on_commit_callbacks
    )
    assert "These 3 jobs need 15 credits but you have 12" in html.unescape(
        response.content.decode()
    )
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0
    shown = alice_client.post("/create/flux-2/estimate", {**KITE, "copies": "3"})
    said = html.unescape(shown.content.decode())
    assert "× 3 = " in said
    assert "15 credits" in said
    assert "These 3 jobs need 15 credits" in said  # said before Run, too


def test_a_fixed_seed_moves_on_by_one_a_copy(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    form = {"token": "s", "model": "imagen4-fast", "prompt": "a fox", "seed": "42", "copies": "3"}
    said = html.unescape(alice_client.post("/create/imagen-4/estimate", form).content.decode())
    assert "Each copy takes the next seed (42, 43, 44)" in said
    post_form(alice_client, "imagen-4", form, django_capture_on_commit_callbacks)
    seeds = sorted(job.params["seed"] for job in Generation.objects.all())
    assert seeds == [42, 43, 44]


@pytest.mark.parametrize("copies", ["0", "9", "many"])
def test_copies_out_of_range_are_refused_with_a_message(
    alice_client, upstream, django_capture_on_commit_callbacks, copies
) -> None:
    response = post_form(
        alice_client, "flux-2", {**KITE, "copies": copies}, django_capture_on_commit_callbacks
    )
    assert Generation.objects.count() == 0
    assert "Copies: a whole number from 1 to 8." in response.content.decode()
