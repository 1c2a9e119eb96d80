from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from generations import tasks
from generations.models import Generation, State
from generations.upstream import studio_account
from studio import audit, ledger
from studio.models import Budget, LedgerEntry, LedgerImmutable, Membership, Role, Workspace
from tests.conftest import make_user, sandbox_tasks

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind


def job(user, estimate: int = 10, **fields) -> Generation:
    workspace = user.memberships.get().workspace
    with transaction.atomic():
        generation = Generation.objects.create(
            workspace=workspace, user=user, model_slug="flux-2", kind="image",
            params={"prompt": "a cat"}, estimate=estimate, token=fields.pop("token", "t"),
            **fields,
        )  # fmt: skip
        ledger.hold(generation)
    return generation


def entries(generation) -> list[tuple[str, Decimal]]:
    return [(e.kind, e.amount) for e in generation.ledger.order_by("pk")]


def balance(user) -> Decimal:
    return Workspace.objects.get(memberships__user=user).pool_balance


@pytest.mark.parametrize(
    ("consumed", "settled", "cost"),
    [
        (Decimal(10), Decimal(0), Decimal(10)),  # exactly the hold
        (Decimal(4), Decimal(6), Decimal(4)),  # below: the rest is released
        (Decimal(25), Decimal(-15), Decimal(25)),  # above: the difference is charged
        (Decimal(0), Decimal(10), Decimal(0)),  # zero: everything is released
        (Decimal("2.5"), Decimal("7.5"), Decimal("2.5")),  # fractions stay exact
        (None, Decimal(0), Decimal(10)),  # missing: the estimate stands
        ("lots", Decimal(0), Decimal(10)),  # malformed: the estimate stands
        (-3, Decimal(0), Decimal(10)),  # negative: malformed
    ],
)
def test_it_settles_a_job_by_the_documented_rules(alice, consumed, settled, cost) -> None:
    generation = job(alice)
    ledger.settle(generation, consumed)
    assert entries(generation) == [(Kind.HOLD, Decimal(-10)), (Kind.SETTLE, settled)]
    assert ledger.job_cost(generation) == cost
    assert balance(alice) == -cost
    if consumed is None or consumed in ("lots", -3):
        assert "estimate stands" in generation.ledger.get(kind=Kind.SETTLE).reason


def test_it_resolves_a_job_once_whatever_runs_twice(alice) -> None:
    generation = job(alice)
    first = ledger.settle(generation, Decimal(8))
    assert ledger.settle(generation, Decimal(8)) == first
    assert ledger.settle(generation, Decimal(99)) == first  # a resolved job never changes
    assert ledger.release(generation) == first
    assert generation.ledger.count() == 2
    assert audit.problems() == []


def test_it_allows_one_hold_per_job(alice) -> None:
    generation = job(alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger.hold(generation)
    assert generation.ledger.count() == 1


def test_it_refuses_to_change_or_delete_an_entry(alice) -> None:
    entry = job(alice).ledger.get()
    entry.amount = Decimal(0)
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()


def test_it_is_refused_by_the_database_on_postgresql(alice) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL (CI's second run)")
    entry = job(alice).ledger.get()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=0)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk)._raw_delete(connection.alias)


def test_it_stops_a_member_over_budget_before_anything_is_spent(
    alice, alice_client, upstream
) -> None:
    membership = Membership.objects.get(user=alice)
    Budget.objects.create(membership=membership, limit=12, period=Budget.Period.WEEK)
    job(alice, estimate=5, token="a")
    response = alice_client.post(
        "/create/imagen-4/",
        {"token": "b", "model": "imagen4", "prompt": "a cat", "num_images": "1"},
    )  # 8 credits: 7 are left
    form = response.context["form"]
    message = " ".join(form.non_field_errors())
    assert "you have 7 of your 12 left this week" in message
    assert "resets" in message
    assert "Ask alice to raise" in message  # the owner of the workspace
    assert Generation.objects.count() == 1
    assert sandbox_tasks(upstream) == 0
    bob = make_user("bob")
    Membership.objects.create(workspace=membership.workspace, user=bob, role=Role.ADMIN)
    response = alice_client.post(
        "/create/imagen-4/",
        {"token": "c", "model": "imagen4", "prompt": "a cat", "num_images": "1"},
    )
    assert "Ask alice or bob to raise" in " ".join(response.context["form"].non_field_errors())


def test_it_counts_only_this_period(alice) -> None:
    Budget.objects.create(
        membership=Membership.objects.get(user=alice), limit=10, period=Budget.Period.DAY
    )
    job(alice, estimate=10, token="old")
    room = ledger.allowance(alice.memberships.get().workspace, alice.pk)
    assert room.left == 0
    tomorrow = timezone.now() + timezone.timedelta(days=1)
    assert ledger.allowance(alice.memberships.get().workspace, alice.pk, tomorrow).left == 10


def test_it_keeps_a_pool_from_going_below_zero(alice) -> None:
    workspace = alice.memberships.get().workspace
    Workspace.objects.filter(pk=workspace.pk).update(pool_enabled=True)
    ledger.grant(workspace, 15, by=alice, reason="Bought 15 upstream")
    job(alice, estimate=10, token="a")
    with pytest.raises(ledger.BudgetExceeded, match="pool has 5 left"):
        job(alice, estimate=10, token="b")
    assert balance(alice) == 5
    assert audit.problems() == []


def test_it_needs_a_reason_for_grants_and_adjustments(alice) -> None:
    workspace = alice.memberships.get().workspace
    with pytest.raises(ValueError, match="why"):
        ledger.adjust(workspace, 5, by=alice, reason=" ")
    with pytest.raises(ValueError, match="positive"):
        ledger.grant(workspace, -5, by=alice, reason="refund")
    ledger.adjust(workspace, -2, by=alice, reason="Upstream invoice correction")
    assert balance(alice) == -2


def test_it_follows_a_job_through_the_ledger(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/create/flux-2/", {"token": "ok", "prompt": "a cat", "type": "flex"})
        alice_client.post("/create/flux-2/", {"token": "ko", "prompt": "a dog [sandbox:fail]"})
        alice_client.post(
            "/create/flux-2/", {"token": "up", "prompt": "a cow [sandbox:credits=30]"}
        )
    ok, ko, up = (Generation.objects.get(token=t) for t in ("ok", "ko", "up"))
    assert entries(ok) == [(Kind.HOLD, Decimal(-14)), (Kind.SETTLE, Decimal(0))]
    assert entries(ko) == [(Kind.HOLD, Decimal(-5)), (Kind.RELEASE, Decimal(5))]
    assert entries(up) == [(Kind.HOLD, Decimal(-5)), (Kind.SETTLE, Decimal(-25))]
    assert audit.problems() == []
    call_command("ledger_check")


def test_it_releases_a_job_canceled_before_it_was_sent(alice) -> None:
    generation = job(alice)
    assert generation.cancel()
    assert entries(generation) == [(Kind.HOLD, Decimal(-10)), (Kind.RELEASE, Decimal(10))]


def test_it_bills_a_job_canceled_after_the_upstream_took_it(alice, upstream, settings) -> None:
    from generations import client

    generation = job(alice, estimate=5)
    task = client.create_image(studio_account(), {"model": "flux-2", "prompt": "a cat"})
    Generation.objects.filter(pk=generation.pk).update(
        state=State.RUNNING, upstream_task_id=task.task_id, accepted_at=timezone.now()
    )
    generation.refresh_from_db()
    assert generation.cancel()
    assert generation.ledger.count() == 1  # still open: the upstream may charge it
    assert audit.problems() == []
    tasks.poll()
    generation.refresh_from_db()
    assert generation.state == State.CANCELED
    assert not generation.billing_open
    assert generation.files.count() == 1  # it ran and was charged: its result is kept
    assert entries(generation) == [(Kind.HOLD, Decimal(-5)), (Kind.SETTLE, Decimal(0))]


def test_it_reports_problems_and_fails_the_command(alice) -> None:
    generation = job(alice)
    Workspace.objects.filter(pk=generation.workspace_id).update(pool_balance=7)
    Generation.objects.filter(pk=generation.pk).update(state=State.FAILED)
    found = audit.problems()
    assert any("entries sum to -10" in p for p in found)
    assert any("unresolved" in p for p in found)
    with pytest.raises(SystemExit):
        call_command("ledger_check")


@pytest.mark.django_db(transaction=True)
def test_it_serialises_concurrent_holds_against_a_budget() -> None:
    """20 submissions at once against a budget that fits 10: exactly 10 holds."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite's in-memory test database is one connection; CI runs this on PostgreSQL"
        )
    user = make_user("racer")
    Budget.objects.create(
        membership=Membership.objects.get(user=user), limit=10, period=Budget.Period.MONTH
    )
    workspace = user.memberships.get().workspace
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def submit(i: int) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                generation = Generation.objects.create(
                    workspace=workspace, user=user, model_slug="flux-2", kind="image",
                    params={}, estimate=1, token=f"race-{i}",
                )  # fmt: skip
                ledger.hold(generation)
            outcomes.append("held")
        except ledger.BudgetExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held"] * 10 + ["refused"] * 10
    assert Generation.objects.count() == 10
    assert ledger.spent(workspace.pk, user.pk) == 10
    assert audit.problems() == []


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (20, "1 minute"),
        (40 * 60, "40 minutes"),
        (3590, "1 hour"),
        (5 * 3600 + 10 * 60, "5 hours"),
        (23.6 * 3600, "1 day"),
        (3 * 86400 - 600, "3 days"),
    ],
)
def test_it_says_durations_as_people_do(seconds, said) -> None:
    assert ledger.Allowance.duration(seconds) == said


def test_it_says_hours_for_a_daily_budget_everywhere(alice) -> None:
    workspace = alice.memberships.get().workspace
    Budget.objects.create(
        membership=Membership.objects.get(user=alice), limit=10, period=Budget.Period.DAY
    )
    held = job(alice, estimate=8, token="a").ledger.get()
    evening = held.created_at.replace(hour=19, minute=0, second=0, microsecond=0)
    room = ledger.allowance(workspace, alice.pk, evening)
    assert room.resets_in == "5 hours"
    assert room.this_period == "today"
    text = ledger.alert(workspace, alice.pk, evening)
    assert text == (
        "You have used 8 of your 10 credits today; it resets in 5 hours. "
        "At this pace it runs out in about 5 hours."  # 2 left at 8 credits in 19 hours
    )
    with pytest.raises(ledger.BudgetExceeded) as refused:
        job(alice, estimate=5, token="b")
    message = str(refused.value)
    assert "you have 2 of your 10 left today" in message
    resets = r"it resets in (\d+ (minute|hour)s?|1 day) \(\d{4}-\d\d-\d\d 00:00 UTC\)"
    assert re.search(resets, message)  # not "0 days", nor "tomorrow" at five to midnight


def test_it_says_days_for_a_longer_wait(alice) -> None:
    workspace = alice.memberships.get().workspace
    Budget.objects.create(
        membership=Membership.objects.get(user=alice), limit=100, period=Budget.Period.WEEK
    )
    monday = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timezone.timedelta(days=monday.weekday())
    friday_noon = monday + timezone.timedelta(days=4, hours=12)
    assert ledger.allowance(workspace, alice.pk, friday_noon).resets_in == "3 days"
    sunday_evening = monday + timezone.timedelta(days=6, hours=21)
    assert ledger.allowance(workspace, alice.pk, sunday_evening).resets_in == "3 hours"


def test_a_forecast_past_the_reset_says_the_budget_lasts(alice) -> None:
    workspace = alice.memberships.get().workspace
    Budget.objects.create(
        membership=Membership.objects.get(user=alice), limit=100, period=Budget.Period.WEEK
    )
    job(alice, estimate=85, token="a")
    monday = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timezone.timedelta(days=monday.weekday())
    sunday_evening = monday + timezone.timedelta(days=6, hours=21)
    text = ledger.alert(workspace, alice.pk, sunday_evening)
    # 15 left at 85 a week runs out in about a day, but the week ends in 3 hours.
    assert text.endswith("it resets in 3 hours. At this pace it lasts until then.")
