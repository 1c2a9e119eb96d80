"""A cancel at any moment of sending: never free once the upstream may have the job, never
charged when it surely does not. The ledger is checked against what the sandbox charged."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from generations import client, ratelimit, tasks
from generations.models import Generation, RateLimitSlot, State
from generations.upstream import studio_account
from studio import ledger
from studio.models import LedgerEntry
from tests.conftest import client_for, sandbox_tasks

pytestmark = pytest.mark.django_db(transaction=True)  # submit runs in a thread of its own


def new_job(alice, prompt: str) -> Generation:
    generation = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": prompt, "type": "pro", "resolution": "1K"}, estimate=5,
        token=prompt,
    )  # fmt: skip
    ledger.hold(generation)
    return generation


def submit_in_thread(generation: Generation) -> threading.Thread:
    def run() -> None:
        try:
            tasks.submit(generation.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for(state: str, generation: Generation) -> None:
    for _ in range(100):
        if Generation.objects.filter(pk=generation.pk, state=state).exists():
            return
        time.sleep(0.02)
    raise AssertionError(f"never {state}")


def charged_upstream(upstream) -> Decimal:
    rows = upstream.sandbox.state._execute("SELECT credits FROM tasks").fetchall()
    return sum((Decimal(str(row[0] or 0)) for row in rows), Decimal(0))


def test_a_cancel_while_waiting_for_a_rate_slot_sends_nothing_and_costs_nothing(
    alice, upstream, settings
) -> None:
    settings.APIINONE_RATE_LIMIT = 1
    settings.APIINONE_RATE_WINDOW = 1.0
    generation = new_job(alice, "a kite")
    key = studio_account(None, generation.workspace).rate_key
    ratelimit.acquire(key, "someone else")  # the key's one slot this second is taken
    thread = submit_in_thread(generation)
    wait_for(State.SUBMITTING, generation)  # "Sending": waiting for the slot
    assert generation.cancel()
    thread.join(timeout=10)
    generation.refresh_from_db()
    assert generation.state == State.CANCELED
    assert not generation.billing_open
    assert sandbox_tasks(upstream) == 0  # never sent
    kinds = list(LedgerEntry.objects.filter(generation=generation).values_list("kind", "reason"))
    assert kinds == [("hold", ""), ("release", "Canceled while waiting to be sent: never sent.")]
    assert ledger.job_cost(generation) == 0


def test_a_cancel_while_the_create_is_on_its_way_follows_the_bill_to_what_was_charged(
    alice, upstream
) -> None:
    generation = new_job(alice, "a kite [sandbox:slow=1.5,credits=7]")
    thread = submit_in_thread(generation)
    wait_for(State.SUBMITTING, generation)
    for _ in range(200):  # the limiter handed out its slot: the create goes out right after
        if RateLimitSlot.objects.exists():
            break
        time.sleep(0.01)
    time.sleep(0.3)  # the create is at the upstream now (which takes 1.5 s to answer)
    assert generation.cancel()
    generation.refresh_from_db()
    assert generation.billing_open  # its hold stays: the upstream may run it
    assert ledger.job_cost(generation) == 5
    thread.join(timeout=30)  # the submit records the task; the poller follows its bill
    generation.refresh_from_db()
    assert sandbox_tasks(upstream) == 1
    assert generation.upstream_task_id
    assert not generation.billing_open
    assert generation.state == State.CANCELED
    assert ledger.job_cost(generation) == charged_upstream(upstream) == 7  # was released: 0
    # It was paid for, so its result is kept: on its card and in the gallery.
    assert generation.files.count() == 1
    assert Generation.objects.results().filter(pk=generation.pk).exists()
    card = client_for(alice).get(f"/g/{generation.code}/card").content.decode()
    assert ">Canceled<" in card
    assert "finished it anyway and charged for it, so its result is kept" in card
    assert f"/g/{generation.code}/files/0" in card
    gallery = client_for(alice).get("/gallery/").content.decode()
    assert f"/g/{generation.code}/" in gallery


def test_a_canceled_unconfirmed_job_keeps_its_hold_until_its_deadline(alice, upstream) -> None:
    generation = new_job(alice, "a kite [sandbox:lost]")
    tasks.submit(generation.pk)  # the create reached the upstream; its answer was lost
    generation.refresh_from_db()
    assert generation.state == State.UNKNOWN
    assert generation.cancel()
    generation.refresh_from_db()
    assert generation.billing_open  # it may exist upstream: the hold stays
    assert ledger.job_cost(generation) == 5
    tasks.sweep()
    generation.refresh_from_db()
    assert generation.billing_open  # not before its deadline
    Generation.objects.filter(pk=generation.pk).update(
        next_check_at=timezone.now() - timedelta(seconds=1)
    )
    tasks.sweep()
    generation.refresh_from_db()
    assert not generation.billing_open
    assert ledger.job_cost(generation) == 0


def test_a_canceled_unconfirmed_job_named_by_a_late_callback_is_billed_what_was_charged(
    alice, upstream
) -> None:
    """Its create's answer was lost, it was canceled, then the upstream calls back naming its
    task: the studio checks the task is this job's and settles to what the upstream charged
    (before, the callback was ignored for a canceled job and its hold came back, while the
    upstream charged it; found by the ledger state machine)."""
    generation = new_job(alice, "a kite [sandbox:lost,credits=7]")
    tasks.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.state == State.UNKNOWN
    assert generation.cancel()
    (task_id,) = upstream.sandbox.state._execute("SELECT id FROM tasks").fetchone()
    hook = f"/callbacks/{generation.code}/{generation.callback_token}"
    response = Client().post(
        hook, {"code": 200, "data": {"task_id": task_id}}, content_type="application/json"
    )
    assert response.status_code == 204
    generation.refresh_from_db()
    assert generation.upstream_task_id == task_id
    for _ in range(300):  # the poller follows its bill until the upstream has finished it
        generation.refresh_from_db()
        if not generation.billing_open:
            break
        Generation.objects.filter(pk=generation.pk).update(next_check_at=timezone.now())
        tasks.check(generation.pk)
        time.sleep(0.05)
    assert generation.state == State.CANCELED
    assert not generation.billing_open
    assert ledger.job_cost(generation) == charged_upstream(upstream) == 7  # was released: 0


def test_a_queued_cancel_releases_at_once(alice, upstream) -> None:
    generation = new_job(alice, "a kite")
    assert generation.cancel()
    generation.refresh_from_db()
    assert not generation.billing_open
    assert ledger.job_cost(generation) == 0
    tasks.submit(generation.pk)  # a late delivery of its submit sends nothing
    assert sandbox_tasks(upstream) == 0
    assert settings.Q_CLUSTER.get("sync")


def test_a_job_the_studio_stopped_trying_to_send_says_so_and_not_that_it_keeps_trying(
    alice, upstream, monkeypatch
) -> None:
    """A 429 on every try: while it retries the card says "keeps trying"; once it gives up the
    badge says Failed and the sentence beside it says why, never "the studio keeps trying"."""

    def refuse(account, route, body):
        raise client.UpstreamError(client.RATE_LIMIT, "Too many requests.", status=429)

    monkeypatch.setattr(client, "create_task", refuse)
    monkeypatch.setattr(tasks, "async_task", lambda *args, **kwargs: None)
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)
    generation = new_job(alice, "a kite")
    tasks.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.state == State.QUEUED
    card = client_for(alice).get(f"/g/{generation.code}/card").content.decode()
    assert "keeps trying" in card
    for _ in range(tasks.SUBMIT_RETRIES - 1):
        tasks.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.state == State.FAILED
    card = client_for(alice).get(f"/g/{generation.code}/card").content.decode()
    assert ">Failed<" in card
    assert "keeps trying" not in card
    assert "kept refusing it for its rate limit through 6 tries" in card
    assert "nothing was charged" in card
    assert ledger.job_cost(generation) == 0
