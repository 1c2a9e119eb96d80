from __future__ import annotations

import html
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from generations.models import Generation, State
from studio.models import AuditEvent, Budget, LedgerEntry, Membership, Role, Workspace
from tests.conftest import client_for, make_user, sandbox_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(alice):
    workspace = alice.memberships.get().workspace
    Workspace.objects.filter(pk=workspace.pk).update(approval_threshold=100)
    carol = make_user("carol")
    Membership.objects.create(
        workspace=workspace, user=carol, role=Role.MEMBER, selected_at=timezone.now()
    )
    return carol


def ask_for_a_video(user, capture, token="v") -> Generation:
    with capture(execute=True):
        client_for(user).post(
            "/create/kling-3/", {"token": token, "prompt": "a dog", "mode": "std", "duration": "3"}
        )  # 120 credits: above the threshold of 100
    return Generation.objects.get(token=token)


def test_it_parks_an_expensive_job_with_its_hold_until_approved(
    alice, carol, upstream, django_capture_on_commit_callbacks
) -> None:
    generation = ask_for_a_video(carol, django_capture_on_commit_callbacks)
    assert generation.state == State.AWAITING_APPROVAL
    assert list(generation.ledger.values_list("kind", "amount")) == [("hold", Decimal(-120))]
    assert sandbox_tasks(upstream) == 0
    card = client_for(carol).get(f"/g/{generation.code}/card").content.decode()
    assert "Waiting for an admin" in card
    assert "Approve" not in card  # a member cannot approve
    assert client_for(carol).post(f"/g/{generation.code}/approve").status_code == 404
    page = client_for(alice).get("/approvals/").content.decode()
    assert "a dog" in page
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post(f"/g/{generation.code}/approve")
    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert sandbox_tasks(upstream) == 1


def test_it_releases_the_hold_of_a_rejected_job(
    alice, carol, upstream, django_capture_on_commit_callbacks
) -> None:
    generation = ask_for_a_video(carol, django_capture_on_commit_callbacks)
    client_for(alice).post(f"/g/{generation.code}/reject")
    generation.refresh_from_db()
    assert generation.state == State.FAILED
    assert generation.error_message == "Rejected by alice."
    kinds = list(LedgerEntry.objects.filter(generation=generation).values_list("kind", flat=True))
    assert kinds == ["hold", "release"]
    assert sandbox_tasks(upstream) == 0


def test_it_lets_admins_and_cheap_jobs_through(
    alice, carol, upstream, django_capture_on_commit_callbacks
) -> None:
    mine = ask_for_a_video(alice, django_capture_on_commit_callbacks, token="owner")
    assert mine.state == State.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        client_for(carol).post("/create/flux-2/", {"token": "cheap", "prompt": "a cat"})
    assert Generation.objects.get(token="cheap").state == State.SUCCEEDED


def test_it_sets_the_threshold_on_the_credits_page(alice) -> None:
    client_for(alice).post("/credits/approval", {"approval_threshold": "250"})
    assert Workspace.objects.get(memberships__user=alice).approval_threshold == 250
    client_for(alice).post("/credits/approval", {"approval_threshold": "-3"})
    assert Workspace.objects.get(memberships__user=alice).approval_threshold == 250
    client_for(alice).post("/credits/approval", {"approval_threshold": ""})
    assert Workspace.objects.get(memberships__user=alice).approval_threshold is None


def test_the_rejecting_admin_gets_no_retry_and_no_message_for_later(
    alice, carol, upstream, django_capture_on_commit_callbacks
) -> None:
    generation = ask_for_a_video(carol, django_capture_on_commit_callbacks)
    admin = client_for(alice)
    card = admin.post(f"/g/{generation.code}/reject", HTTP_HX_REQUEST="true").content.decode()
    assert "Rejected by alice." in card
    assert ">Rejected</span>" in card
    assert ">Failed<" not in card
    assert "Retry" not in card
    assert "Ask again" not in card
    assert admin.post(f"/g/{generation.code}/retry", {"token": uuid.uuid4().hex}).status_code == 404
    assert Generation.objects.count() == 1
    assert "Rejected" not in admin.get("/gallery/").content.decode()  # said on the card only
    # Carol may try again: through the approval, as the first time.
    author = client_for(carol)
    assert ">Ask again</button>" in author.get(f"/g/{generation.code}/card").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        author.post(f"/g/{generation.code}/retry", {"token": uuid.uuid4().hex})
    again = Generation.objects.get(retry_of=generation)
    assert again.state == State.AWAITING_APPROVAL
    with django_capture_on_commit_callbacks(execute=True):
        card = admin.post(f"/g/{again.code}/approve", HTTP_HX_REQUEST="true").content.decode()
    assert "Approved" not in admin.get("/gallery/").content.decode()
    assert "Waiting for an admin" not in card
    assert sandbox_tasks(upstream) == 1


def test_a_rejection_says_who_and_why_and_both_decisions_are_in_the_audit_log(
    alice, carol, upstream, django_capture_on_commit_callbacks
) -> None:
    rejected = ask_for_a_video(carol, django_capture_on_commit_callbacks, token="r")
    client_for(alice).post(f"/g/{rejected.code}/reject", {"reason": "  too long,   make it 3 s "})
    rejected.refresh_from_db()
    assert rejected.error_message == "Rejected by alice: too long, make it 3 s"
    page = client_for(carol).get(f"/g/{rejected.code}/").content.decode()
    assert "Rejected by alice: too long, make it 3 s" in page
    assert "<dt>Rejected by</dt><dd>alice," in page
    approved = ask_for_a_video(carol, django_capture_on_commit_callbacks, token="a")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post(f"/g/{approved.code}/approve")
    page = client_for(carol).get(f"/g/{approved.code}/").content.decode()
    assert "<dt>Approved by</dt><dd>alice," in page
    events = list(
        AuditEvent.objects.filter(action__startswith="job ").values_list(
            "actor__username", "action", "detail"
        )
    )
    assert events == [
        (
            "alice",
            "job approved",
            f"Kling 3.0 by carol, estimated 120 credits, job {approved.code}",
        ),
        (
            "alice",
            "job rejected",
            f"Kling 3.0 by carol, estimated 120 credits, job {rejected.code}; "
            "reason: too long, make it 3 s",
        ),
    ]
    audit = client_for(alice).get("/workspace/audit").content.decode()
    assert "job rejected" in audit
    assert "job approved" in audit


# -- admins are told what waits for them; members are told before Run (issue 14, item 8) ------


def test_the_header_counts_the_jobs_waiting_for_an_admin(
    alice, carol, upstream, django_capture_on_commit_callbacks
) -> None:
    page = client_for(alice).get("/gallery/").content.decode()
    assert 'id="nav-approvals"' in page
    assert "count-badge" not in page
    ask_for_a_video(carol, django_capture_on_commit_callbacks, token="a")
    ask_for_a_video(carol, django_capture_on_commit_callbacks, token="b")
    page = client_for(alice).get("/gallery/").content.decode()
    assert '<span class="count-badge" title="2 jobs waiting for approval">2' in page
    assert "Menu (2 waiting for approval)" in page  # on a phone the menu is closed
    assert 'id="nav-approvals"' not in client_for(carol).get("/gallery/").content.decode()


def test_an_admins_create_page_lists_the_jobs_waiting_with_approve_and_reject(
    alice, carol, upstream, django_capture_on_commit_callbacks
) -> None:
    generation = ask_for_a_video(carol, django_capture_on_commit_callbacks)
    page = client_for(alice).get("/").content.decode()
    assert "Waiting for your approval" in page
    assert f'id="approve-{generation.code}"' in page
    assert f'id="reject-{generation.code}"' in page
    assert "By carol" in page
    mine = client_for(carol).get("/").content.decode()
    assert "Waiting for your approval" not in mine
    assert f"approve-{generation.code}" not in mine
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post(f"/g/{generation.code}/approve")
    assert "Waiting for your approval" not in client_for(alice).get("/").content.decode()


def _said(response) -> str:
    return html.unescape(response.content.decode())


def test_a_member_sees_before_run_that_a_job_will_need_approval(alice, carol) -> None:
    expensive = {"mode": "std", "duration": "3", "prompt": "a dog"}  # 120 credits
    note = "needs an admin's approval"
    assert note in _said(client_for(carol).post("/create/kling-3/estimate", expensive))
    cheap = client_for(carol).post("/create/flux-2/estimate", {"prompt": "a dog"})
    assert note not in _said(cheap)
    assert note not in _said(client_for(alice).post("/create/kling-3/estimate", expensive))
    assert note in _said(client_for(carol).get("/?model=kling-3"))  # first page


def test_a_member_sees_before_run_that_a_job_would_go_over_budget(alice, carol) -> None:
    membership = Membership.objects.get(user=carol, workspace=alice.memberships.get().workspace)
    Budget.objects.create(membership=membership, limit=50, period="day")
    expensive = {"mode": "std", "duration": "3", "prompt": "a dog"}  # 120 credits
    shown = _said(client_for(carol).post("/create/kling-3/estimate", expensive))
    assert "This job needs 120 credits but you have 50 of your 50 left today" in shown
    assert "approval" not in shown  # it would be refused first: one sentence, the true one
    workspace = membership.workspace
    Workspace.objects.filter(pk=workspace.pk).update(pool_enabled=True, pool_balance=10)
    Budget.objects.filter(membership=membership).delete()
    cheap = client_for(carol).post("/create/flux-2/estimate", {"prompt": "a dog"})
    assert "the workspace's pool has 10 left" not in _said(cheap)  # 8 fits in 10
    shown = _said(client_for(carol).post("/create/kling-3/estimate", expensive))
    assert "This job needs 120 credits but the workspace's pool has 10 left" in shown


@pytest.mark.parametrize("configured", [True, False])
def test_admins_get_an_email_when_email_is_configured(
    alice, carol, upstream, django_capture_on_commit_callbacks, settings, mailoutbox, configured
) -> None:
    settings.STUDIO_APPROVAL_EMAILS = configured
    settings.STUDIO_PUBLIC_URL = "https://studio.example.com"
    alice.email = "alice@example.com"
    alice.save()
    ask_for_a_video(carol, django_capture_on_commit_callbacks)
    if not configured:
        assert mailoutbox == []
        return
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert "120 credits waits for your approval" in message.subject
    assert "carol asked Kling 3" in message.body
    assert "a dog" in message.body
    assert "https://studio.example.com/approvals/" in message.body


def test_no_email_for_a_job_already_decided(
    alice, carol, upstream, settings, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    from generations import tasks

    settings.STUDIO_APPROVAL_EMAILS = True
    alice.email = "alice@example.com"
    alice.save()
    with django_capture_on_commit_callbacks(execute=False):  # its task waits in the queue
        client_for(carol).post(
            "/create/kling-3/", {"token": "v", "prompt": "a dog", "mode": "std", "duration": "3"}
        )
    generation = Generation.objects.get(token="v")
    generation.reject(alice, "")
    tasks.ask_approvers(generation.pk)  # a late or second delivery of the task
    assert mailoutbox == []
