"""The ledger against what API in One charged: `ledger_check --upstream`, its nightly schedule and
what the Credits page shows of it."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from generations.models import Generation, RateLimitSlot, State
from studio import audit
from studio.models import UpstreamCheck
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def run_job(client, prompt: str, capture) -> Generation:
    with capture(execute=True):
        client.post("/create/flux-2/", {"token": prompt, "prompt": prompt})
    return Generation.objects.get(token=prompt)


def upstream_says(sandbox, generation: Generation, credits) -> None:
    """The upstream's own record of what it charged, changed behind the studio's back."""
    sandbox.sandbox.state._execute(
        "UPDATE tasks SET credits = ? WHERE id = ?",
        (json.dumps(credits), generation.upstream_task_id),
    )


def test_a_ledger_that_agrees_with_the_upstream_passes(
    alice_client, upstream, django_capture_on_commit_callbacks, capsys
) -> None:
    for prompt in ("a fox", "a hen"):
        assert run_job(alice_client, prompt, django_capture_on_commit_callbacks).state == (
            State.SUCCEEDED
        )
    slots = RateLimitSlot.objects.count()
    call_command("ledger_check", "--upstream", "--days", "1")
    out = capsys.readouterr().out
    assert "2 job(s) of the last 1 day(s) compared with API in One; 0 differ" in out
    assert RateLimitSlot.objects.count() >= slots + 2  # each look-up took a rate-limit slot
    check = UpstreamCheck.objects.get()
    assert (check.checked, check.drift) == (2, [])


def test_every_job_charged_differently_is_reported_by_workspace_and_model(
    alice, alice_client, upstream, django_capture_on_commit_callbacks, capsys
) -> None:
    agrees = run_job(alice_client, "a fox", django_capture_on_commit_callbacks)
    differs = run_job(alice_client, "a hen", django_capture_on_commit_callbacks)
    upstream_says(upstream, differs, 300)  # e.g. a lost result released, though it was charged
    with pytest.raises(SystemExit) as exited:
        call_command("ledger_check", "--upstream")
    assert exited.value.code == 1
    err = capsys.readouterr().err
    workspace = alice.memberships.get().workspace
    assert f"{workspace.name} / flux-2: 1 job(s) charged 5.0000 in the studio, 300" in err
    assert f"job {differs.code} (flux-2): studio 5.0000, API in One 300" in err
    assert str(agrees.code) not in err
    (item,) = UpstreamCheck.objects.get().drift
    assert item["code"] == str(differs.code)


def test_a_task_the_upstream_failed_charged_nothing_unless_it_says_so(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    failed = run_job(alice_client, "a cow [sandbox:fail]", django_capture_on_commit_callbacks)
    assert failed.state == State.FAILED
    assert failed.cost == 0
    upstream_says(upstream, failed, None)
    check = audit.check_upstream(days=1)
    assert (check.checked, check.drift) == (1, [])
    # A failure the upstream says it charged for is drift: the studio charged nothing.
    upstream_says(upstream, failed, 5)
    (item,) = audit.check_upstream(days=1).drift
    assert (item["studio"], item["upstream"]) == ("0.0000", "5.0000")


def test_the_check_runs_every_night() -> None:
    schedule = Schedule.objects.get(name="studio.ledger_check_upstream")
    assert schedule.func == "studio.audit.nightly"
    assert schedule.schedule_type == Schedule.DAILY


def test_the_credits_page_shows_drift_to_its_workspace_s_admins_only(
    alice, alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    differs = run_job(alice_client, "a hen", django_capture_on_commit_callbacks)
    assert "Checked against API in One" not in alice_client.get("/credits/").content.decode()
    audit.check_upstream(days=1)
    page = alice_client.get("/credits/").content.decode()
    assert "charged here exactly as API in One charged it" in page
    upstream_says(upstream, differs, 300)
    audit.check_upstream(days=1)
    page = alice_client.get("/credits/").content.decode()
    assert "1 job of this workspace was charged differently by API in One" in page
    assert f"/g/{differs.code}/" in page
    # Another workspace's admin sees nothing of it.
    bob = make_user("bob")
    other = client_for(bob).get("/credits/").content.decode()
    assert str(differs.code) not in other
    assert "charged differently" not in other
