"""A Hypothesis state machine drives jobs through every path (submit, send, settle with any
charge, fail, cancel before and after sending, bill a canceled job, duplicate deliveries, a
crash in the middle of a step, look-ups, callbacks delivered once or several times, the sweep)
and checks the ledger's invariants after every step.

Sending runs the studio's own worker (`tasks.submit`): the upstream accepts the job, refuses it
(429), takes it but its answer is lost, or the worker is killed before or after the request
left; a person may cancel while the job waits for its rate-limit slot. A late callback may name
a task whose create's answer the studio never got.

Look-ups, callbacks and the sweep run the studio's own code (`tasks.check`, the callback view,
`tasks.sweep`); only the upstream's answer is chosen by Hypothesis: still running, succeeded or
failed with any charge, gone (404) or busy (503)."""

from __future__ import annotations

import itertools
from contextlib import suppress
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from generations import client, tasks
from generations.models import Generation, State
from studio import audit, ledger
from studio.models import Budget, LedgerEntry, Membership, Workspace
from tests.conftest import make_user

# Half of them a charge as the manual shows it; the rest what else a service may send.
CHARGES = st.one_of(
    st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from([None, "not a number", -1, Decimal(0)]),
)
LIMIT = Decimal(200)
BASE_URL = "https://upstream.invalid/api/v1/"
TASK_IDS = itertools.count(1)
OUTCOMES = st.sampled_from(["accepted", "refused", "lost", "killed_before", "killed_after"])
# What the upstream says when the studio looks a task up.
ANSWERS = st.one_of(
    st.just(("running", None)),
    st.tuples(st.sampled_from(["succeeded", "failed"]), CHARGES),
    st.just(("gone", None)),
    st.just(("busy", None)),
)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7"
    b"5\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


class Upstream:
    """The answer the next look-up gets (set by the rule that looks). Like the real service it
    is consistent: a task that has ended (or is gone) answers the same ever after, and what it
    charged for each ended task is kept (`final`) for the ledger to be checked against."""

    answer: tuple = ("running", None)
    final: dict[str, tuple] = {}
    created: dict[str, dict] = {}  # every task the upstream has, by id: the body it was sent
    outcome: str = "accepted"  # what the next create does (set by the rule that sends)

    @classmethod
    def end(cls, task_id: str, word: str, charge=None) -> tuple:
        """The task's end as the upstream has it: the first end said, whatever comes later."""
        return cls.final.setdefault(task_id, (word, charge))

    @classmethod
    def get_task(cls, account, task_id: str) -> client.Task:
        word, charge = cls.final.get(task_id) or cls.answer
        if word in ("succeeded", "failed", "gone"):
            word, charge = cls.end(task_id, word, charge)
        if word == "gone":
            raise client.UpstreamError(client.NOT_FOUND, "No such task.", status=404)
        if word == "busy":
            raise client.UpstreamError(client.SERVER_ERROR, "Busy.", status=503)
        words = {"running": "IN_PROGRESS", "succeeded": "SUCCESS", "failed": "FAILED"}
        urls = ["https://upstream.example/result.png"] if word == "succeeded" else []
        # The task as the client reads it off the wire, whatever the charge looks like.
        body = {"task_id": task_id, "status": words[word], "consumed_credits": charge}
        body["request"] = cls.created.get(task_id, {})
        return client.parse_task({"code": 200, "data": {**body, "response": urls}})

    @classmethod
    def create_task(cls, account, route: str, body: dict) -> client.Task:
        """Takes a slot (as the real client does first), then does what `outcome` says."""
        account.limiter(account.rate_key, account.member)
        if cls.outcome == "killed_before":
            raise Crash  # the worker died before the request left: the upstream has nothing
        if cls.outcome == "refused":
            raise client.UpstreamError(client.RATE_LIMIT, "Slow down.", status=429)
        task_id = f"task-{next(TASK_IDS)}"  # unique over every run (they share a database)
        cls.created[task_id] = dict(body)
        if cls.outcome == "lost":
            raise client.UpstreamError(client.TIMEOUT_ERROR, "No answer.", ambiguous=True)
        if cls.outcome == "killed_after":
            raise Crash  # it left, the upstream has it, and the worker died before recording
        return client.parse_task({"code": 200, "data": {"task_id": task_id, "status": "QUEUED"}})

    @staticmethod
    def download(url: str, **kwargs) -> client.Download:
        return client.Download(PNG, "image/png")


class Crash(Exception):
    pass


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.count = getattr(LedgerMachine, "_runs", 0) + 1
        LedgerMachine._runs = self.count
        self.user = make_user(f"m{self.count}")
        self.workspace = self.user.memberships.get().workspace
        Budget.objects.create(
            membership=Membership.objects.get(user=self.user), limit=LIMIT, period="month"
        )
        self.jobs: list[Generation] = []
        self.resolved: dict[int, list[tuple]] = {}
        Upstream.final, Upstream.created = {}, {}  # each run its own upstream

    def _job(self, index: int) -> Generation | None:
        if not self.jobs:
            return None
        job = self.jobs[index % len(self.jobs)]
        job.refresh_from_db()
        return job

    @rule(estimate=st.integers(min_value=1, max_value=60))
    def submit(self, estimate: int) -> None:
        before = ledger.spent(self.workspace.pk, self.user.pk)
        try:
            with transaction.atomic():
                job = Generation.objects.create(
                    workspace=self.workspace, user=self.user, model_slug="flux-2",
                    kind="image", params={"prompt": f"job {len(self.jobs)}"},
                    estimate=estimate, token=f"t{len(self.jobs)}",
                )  # fmt: skip
                ledger.hold(job)
        except ledger.BudgetExceeded:
            assert before + estimate > LIMIT  # refused only when it truly did not fit
            return
        assert before + estimate <= LIMIT  # a hold never overspends the budget
        self.jobs.append(job)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), outcome=OUTCOMES, cancel_in_wait=st.booleans())
    def send(self, index: int, outcome: str, cancel_in_wait: bool) -> None:
        """A worker sends a queued job (the studio's `tasks.submit`); perhaps the person cancels
        while it waits for its rate-limit slot, perhaps the worker is killed on either side of
        the request."""
        queued = list(
            Generation.objects.filter(pk__in=[job.pk for job in self.jobs], state=State.QUEUED)
        )
        if not queued:
            return
        job = queued[index % len(queued)]
        Upstream.outcome = outcome

        def wait_for_slot(rate_key: str, member) -> None:
            if cancel_in_wait:
                Generation.objects.get(pk=job.pk).cancel()

        account = client.Account(base_url=BASE_URL, api_key="aio_machine", limiter=wait_for_slot)
        # Crash: the worker is gone; the sweep finds what it left.
        with mock.patch.object(tasks, "_account", return_value=account), suppress(Crash):
            tasks.submit(job.pk)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), answer=ANSWERS)
    def late_callback(self, index: int, answer: tuple) -> None:
        """The upstream calls back about a task whose create's answer the studio never got:
        the callback names it (the studio checks it with the upstream before believing it)."""
        unnamed = Generation.objects.filter(
            pk__in=[job.pk for job in self.jobs], upstream_task_id__isnull=True
        ).exclude(request_body__isnull=True)
        candidates = [
            (job, task_id)
            for job in unnamed.order_by("pk")
            for task_id, body in Upstream.created.items()
            if body == job.request_body
        ]
        if not candidates:
            return
        job, task_id = candidates[index % len(candidates)]
        # The task calls back, so it is not gone; the service may be too busy to be asked.
        Upstream.answer = ("running", None) if answer[0] == "gone" else answer
        url = reverse("callback", args=[job.code, job.callback_token])
        response = Client().post(
            url, {"task_id": task_id, "status": "SUCCESS"}, content_type="application/json"
        )
        assert response.status_code == 204
        job.refresh_from_db()
        if (job.active or job.billing_open) and answer[0] != "busy":
            # Still waited for, or followed for its bill: the task is the job's from now on, so
            # what the upstream charges for it is the job's bill, whenever it ends.
            assert job.upstream_task_id == task_id, (job.state, job.billing_open)
        tasks.check(job.pk)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), charge=CHARGES)
    def succeed(self, index: int, charge) -> None:
        """The studio learns the upstream finished it (the upstream's own end wins)."""
        job = self._job(index)
        if job.upstream_task_id:
            word, charge = Upstream.end(job.upstream_task_id, "succeeded", charge)
            if word != "succeeded":
                return
        job.succeed(charge)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0))
    def fail(self, index: int) -> None:
        """The studio learns the upstream failed it (unless the upstream says otherwise)."""
        job = self._job(index)
        if job.upstream_task_id and Upstream.end(job.upstream_task_id, "failed")[0] != "failed":
            return
        job.fail("upstream_failed", "it failed")

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0))
    def cancel(self, index: int) -> None:
        self._job(index).cancel()

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), ran=st.booleans(), charge=CHARGES)
    def bill_canceled(self, index: int, ran: bool, charge) -> None:
        job = self._job(index)
        if not (job.billing_open and job.upstream_task_id):
            return  # only what the upstream has is billed by what it says
        word, charge = Upstream.end(job.upstream_task_id, "succeeded" if ran else "failed", charge)
        job.close_bill(word == "succeeded", charge)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), charge=CHARGES)
    def duplicate_delivery(self, index: int, charge) -> None:
        job = self._job(index)
        if job.upstream_task_id:
            word, charge = Upstream.end(job.upstream_task_id, "succeeded", charge)
            if word != "succeeded":
                return
        job.succeed(charge)
        job.succeed(charge)
        job.fail("x", "twice")

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), charge=CHARGES)
    def crash_mid_step(self, index: int, charge) -> None:
        job = self._job(index)
        snapshot = self._entries(job), job.state

        def step_then_crash() -> None:
            with transaction.atomic():
                job.succeed(charge)
                raise Crash

        with pytest.raises(Crash):
            step_then_crash()
        job.refresh_from_db()
        assert (self._entries(job), job.state) == snapshot  # a crash leaves no half-step

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), answer=ANSWERS, lookers=st.integers(1, 2))
    def look_up(self, index: int, answer: tuple, lookers: int) -> None:
        """The poller looks a due job up (sometimes twice in a row: a duplicate delivery)."""
        job = self._job(index)
        Upstream.answer = answer
        Generation.objects.followed().filter(pk=job.pk).update(
            next_check_at=timezone.now() - timedelta(seconds=1)
        )
        for _ in range(lookers):
            tasks.check(job.pk)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), answer=ANSWERS, times=st.integers(1, 3))
    def callback(self, index: int, answer: tuple, times: int) -> None:
        """The upstream calls back, perhaps several times; each makes the job due, then the
        poller looks it up (the callback's body is never believed)."""
        job = self._job(index)
        Upstream.answer = answer
        url = reverse("callback", args=[job.code, job.callback_token])
        for _ in range(times):
            response = Client().post(url, {"task_id": "forged", "status": "SUCCESS"})
            assert response.status_code == 204
            tasks.check(job.pk)

    @precondition(lambda self: self.jobs)
    @rule(index=st.integers(min_value=0), answer=ANSWERS)
    def sweep(self, index: int, answer: tuple) -> None:
        """A job outlives its deadline; the sweep ends it, then a late look-up comes."""
        job = self._job(index)
        Upstream.answer = answer
        long_ago = timezone.now() - timedelta(hours=3)
        Generation.objects.filter(pk=job.pk).update(accepted_at=long_ago, submitted_at=long_ago)
        Generation.objects.filter(pk=job.pk, next_check_at__isnull=False).exclude(
            state=State.RUNNING
        ).update(next_check_at=long_ago)  # an unconfirmed job past its wait
        # Followed for its bill past the day it waits for the upstream to say.
        Generation.objects.filter(pk=job.pk, billing_open=True).update(finished_at=long_ago)
        tasks.sweep()
        if job.upstream_task_id and answer[0] in ("succeeded", "failed"):
            # The upstream ends it later, asked or not (and charges what it ends).
            Upstream.end(job.upstream_task_id, *answer)
        Generation.objects.followed().filter(pk=job.pk).update(next_check_at=timezone.now())
        tasks.check(job.pk)

    def _entries(self, job) -> list[tuple]:
        return list(LedgerEntry.objects.filter(generation=job).order_by("pk").values_list(
            "pk", "kind", "amount"))  # fmt: skip

    @invariant()
    def ledger_agrees_with_itself(self) -> None:
        assert audit.problems(self.workspace) == []
        workspace = Workspace.objects.get(pk=self.workspace.pk)
        costs = sum((ledger.job_cost(j) for j in self.jobs), Decimal(0))
        assert workspace.pool_balance == -costs
        assert ledger.spent(self.workspace.pk, self.user.pk) == costs

    @invariant()
    def ledger_agrees_with_the_upstream(self) -> None:
        """Not only with itself: every job whose bill is closed cost exactly what the upstream
        charged for it (nothing when it never had it, failed it or lost it; a success's
        reported charge; the hold when it reported no usable number, as documented)."""
        for job in self.jobs:
            job.refresh_from_db()
            if job.active or job.billing_open:
                continue
            cost = ledger.job_cost(job)
            end = Upstream.final.get(job.upstream_task_id or "")
            if end is None:
                # Ended without the upstream ever saying it finished: never sent, refused, or
                # given up on while followed for its bill: nothing may have been charged.
                assert cost == 0, (job.state, job.error_kind, cost)
                continue
            word, charge = end
            if word != "succeeded":
                assert cost == 0, (word, job.state, cost)
            elif ledger.as_credits(charge) is not None:
                assert cost == ledger.exact(ledger.as_credits(charge)), (charge, cost)
            else:
                assert cost == job.estimate, (charge, cost)

    @invariant()
    def resolved_jobs_never_change(self) -> None:
        for job in self.jobs:
            entries = self._entries(job)
            if job.pk in self.resolved:
                assert entries == self.resolved[job.pk]
            elif len(entries) == 2:
                self.resolved[job.pk] = entries


@pytest.mark.django_db
def test_it_keeps_the_ledger_sound_whatever_happens(monkeypatch) -> None:
    monkeypatch.setattr(client, "get_task", Upstream.get_task)
    monkeypatch.setattr(client, "download", Upstream.download)
    monkeypatch.setattr(tasks, "kick_poller", lambda: None)  # the rules play the poller
    monkeypatch.setattr(client, "create_task", Upstream.create_task)
    monkeypatch.setattr(tasks, "async_task", lambda *args, **kwargs: None)  # rules are workers
    monkeypatch.setattr(tasks.time, "sleep", lambda seconds: None)
    LedgerMachine.TestCase.settings = settings(
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    test = LedgerMachine.TestCase("runTest")
    test.runTest()
