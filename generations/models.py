"""The work: what is made, and the bookkeeping for talking to the upstream."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone


def _new_secret() -> str:
    return secrets.token_urlsafe(24)


class RateLimitBucket(models.Model):
    """One row per upstream key; locking it serialises everyone taking a slot for that key."""

    key = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.key


class RateLimitSlot(models.Model):
    """One request sent (or about to be sent) with a key, for the sliding window."""

    key = models.CharField(max_length=64)
    member = models.CharField(max_length=150, blank=True)
    taken_at = models.FloatField()  # seconds since the epoch: sub-second precision matters here

    class Meta:
        indexes = [models.Index(fields=["key", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.key} at {self.taken_at}"


class RateLimitWaiter(models.Model):
    """Someone waiting for a slot; while they wait the limiter hands slots out fairly."""

    key = models.CharField(max_length=64)
    member = models.CharField(max_length=150, blank=True)
    ticket = models.CharField(max_length=32, unique=True)
    since = models.FloatField()
    seen_at = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["key", "since"])]

    def __str__(self) -> str:
        return f"{self.member or 'someone'} waiting on {self.key}"


def _result_path(instance: GenerationFile, filename: str) -> str:
    return f"results/{instance.generation.workspace.code}/{instance.generation.code}/{filename}"


def _upload_path(instance: Upload, filename: str) -> str:
    return f"uploads/{instance.workspace.code}/{instance.code}/{filename}"


class State(models.TextChoices):
    AWAITING_APPROVAL = "awaiting", "Awaiting approval"
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Sending"
    RUNNING = "running", "Running"
    UNKNOWN = "unknown", "Unconfirmed"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


ACTIVE_STATES = (
    State.AWAITING_APPROVAL,
    State.QUEUED,
    State.SUBMITTING,
    State.RUNNING,
    State.UNKNOWN,
)
ENDED_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELED)

# The diagram: every move a job can make, as (from states, to state), by the Generation method
# that makes it. No code moves a state any other way (tests/test_lifecycle.py holds every
# `update(state=…)` to this file). What each move costs:
#   approve, claim_for_submit, requeue, mark_sent, mark_unconfirmed, adopt: nothing yet (the
#     hold taken when the job was made stays);
#   succeed: settles the hold to what the upstream charged;
#   fail: releases it, or settles it to what the upstream charged when it ran the job (a result
#     the studio could not keep), or while nothing was ever sent;
#   cancel: releases it when nothing was sent (awaiting, queued); once the job was or may have
#     been sent it keeps the hold, `billing_open`, until the upstream says what it charged
#     (close_bill settles to that, or releases when it surely never ran).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "approve": ((State.AWAITING_APPROVAL,), State.QUEUED),
    "reject": ((State.AWAITING_APPROVAL,), State.FAILED),
    "claim_for_submit": ((State.QUEUED,), State.SUBMITTING),
    "requeue": ((State.SUBMITTING,), State.QUEUED),
    "mark_sent": ((State.SUBMITTING,), State.RUNNING),
    "mark_unconfirmed": ((State.SUBMITTING,), State.UNKNOWN),
    "adopt": ((State.UNKNOWN, State.SUBMITTING), State.RUNNING),
    "succeed": ((State.RUNNING,), State.SUCCEEDED),
    "fail": (ACTIVE_STATES, State.FAILED),
    "cancel": (ACTIVE_STATES, State.CANCELED),
}
# What a card says of a job in motion (the badge says the state's label).
STATUS_SENTENCES = {
    State.AWAITING_APPROVAL: "Waiting for an admin's approval",
    State.QUEUED: "Waiting to be sent",
    State.SUBMITTING: "Sending to API in One",
    State.UNKNOWN: "Waiting for API in One to confirm",
}
_FREE = object()  # Generation.fail's default: nothing was charged


def needs_approval(membership, estimate) -> bool:
    """A job of `estimate` credits by this member waits for an admin: above the workspace's
    per-job threshold, unless the member is an admin (whose jobs go straight out)."""
    threshold = membership.workspace.approval_threshold
    if threshold is None or estimate <= threshold:
        return False
    return not membership.can_manage


class GenerationQuerySet(models.QuerySet):
    def for_workspace(self, workspace) -> GenerationQuerySet:
        return self.filter(workspace=workspace)

    def visible_to(self, user, membership, *, deleted: bool = False) -> GenerationQuerySet:
        """What a member may see in their workspace: everything there but other people's private
        jobs (admins see those too) and deleted results (`deleted=True`: those too, to restore
        them). No membership: nothing."""
        if not membership:
            return self.none()
        jobs = self.filter(workspace_id=membership.workspace_id)
        if not deleted:
            jobs = jobs.filter(deleted_at=None)
        if membership.can_manage:
            return jobs
        return jobs.filter(models.Q(private=False) | models.Q(user=user))

    def waiting(self) -> GenerationQuerySet:
        """Jobs parked for an admin's approval, oldest first (the order to decide them in)."""
        return self.filter(state=State.AWAITING_APPROVAL).order_by("created_at", "pk")

    def active(self) -> GenerationQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def for_cards(self) -> GenerationQuerySet:
        """With what status cards show read in one go, however many: their files and cost."""
        return self.prefetch_related("files").annotate(ledger_total=models.Sum("ledger__amount"))

    def first_cards(self, count: int) -> list[Generation]:
        """The first `count` of these in their order, read as for_cards: their pks first, then
        the files and costs of those alone. (Annotating before the LIMIT sums the ledger of every
        matching job to keep a few: 279 ms for a member of a 100,000-job workspace.)"""
        order = self.query.order_by or ("-created_at", "-pk")
        pks = list(self.values_list("pk", flat=True)[:count])
        jobs = Generation.objects.filter(pk__in=pks).select_related(*self._cards_related())
        return list(jobs.for_cards().order_by(*order))

    def _cards_related(self) -> tuple[str, ...]:
        related = self.query.select_related
        return tuple(related) if isinstance(related, dict) else ()

    def results(self) -> GenerationQuerySet:
        """Jobs that ended with their results kept, newest first (the gallery): successes, and
        jobs canceled after they were sent that the upstream finished and charged anyway (their
        result was paid for, so it is kept)."""
        paid_after_cancel = models.Q(state=State.CANCELED, has_files=True)
        return self.filter(models.Q(state=State.SUCCEEDED) | paid_after_cancel).order_by(
            "-created_at", "-pk"
        )

    def by_code(self, code: str) -> Generation | None:
        """The one with this code among these, or None (an unknown or malformed code too)."""
        try:
            return self.filter(code=uuid.UUID(str(code))).first()
        except ValueError:
            return None

    def deletable_by(self, user, membership, *, deleted: bool = False) -> GenerationQuerySet:
        """The results this member may delete (or, `deleted=True`, restore): their own, or any
        in the workspace for an admin; nothing for a viewer."""
        jobs = self.visible_to(user, membership, deleted=deleted).results()
        if membership is None or not membership.can_spend:
            return jobs.none()
        return jobs if membership.can_manage else jobs.filter(user=user)

    def soft_delete(self, by) -> int:
        """Deleted now: gone from every page, restorable until the retention period ends (then
        the sweep removes their files). Their cost stays in the ledger and the usage reports."""
        return self.filter(deleted_at=None).update(deleted_at=timezone.now(), deleted_by=by)

    def restore(self) -> int:
        """Deleted ones back where they were, while their files are still kept."""
        return (
            self.exclude(deleted_at=None)
            .filter(files_purged=False)
            .update(deleted_at=None, deleted_by=None)
        )

    def purge_deleted(self, now, limit: int = 200) -> int:
        """Removes from storage the files of results deleted longer ago than the retention
        period (a file another result shares stays). Safe to run twice: each job's files go,
        then it is marked; a crash between leaves it to the next run."""
        cutoff = now - timedelta(days=settings.STUDIO_DELETED_RETENTION_DAYS)
        due = self.filter(deleted_at__lt=cutoff, files_purged=False).order_by("deleted_at")
        purged = 0
        for job in due[:limit]:
            for result in job.files.all():
                for stored in (result.file, result.preview):
                    if not stored:
                        continue
                    shared = GenerationFile.objects.filter(
                        models.Q(file=stored.name) | models.Q(preview=stored.name)
                    ).exclude(generation__deleted_at__lt=cutoff)
                    if not shared.exists():
                        stored.storage.delete(stored.name)
            purged += Generation.objects.filter(pk=job.pk).update(files_purged=True)
        return purged

    def older_than(self, job: Generation | None) -> GenerationQuerySet:
        """Those after `job` in newest-first order (created_at, then pk): the keyset of a "Load
        more", as fast on page 500 as on page 1 (no OFFSET). The `<=` bound lets the
        (workspace, -created_at) index start at the job instead of filtering every row."""
        if job is None:
            return self
        return self.filter(created_at__lte=job.created_at).filter(
            models.Q(created_at__lt=job.created_at) | models.Q(pk__lt=job.pk)
        )

    def search(self, text: str) -> GenerationQuerySet:
        """Jobs whose prompt holds every word of `text` (any case, any order)."""
        jobs = self
        for word in text.split()[:10]:
            jobs = jobs.filter(prompt__icontains=word)
        return jobs

    def followed(self) -> GenerationQuerySet:
        """Jobs the poller follows: upstream has them and they have not ended (or were canceled
        after the upstream took them, and are followed only to learn what they cost)."""
        return self.filter(
            models.Q(state=State.RUNNING) | models.Q(billing_open=True),
            upstream_task_id__isnull=False,
        )

    def due(self, now) -> GenerationQuerySet:
        return self.followed().filter(next_check_at__lte=now)


def prompt_of(params: dict) -> str:
    """The words a person wrote for a job (its prompt, description, lines or shots), one line."""
    params = params or {}
    text = params.get("prompt") or params.get("gpt_description_prompt") or ""
    if not text and isinstance(params.get("dialogue"), list):
        text = " / ".join(str(line.get("text", "")) for line in params["dialogue"])
    if not text and isinstance(params.get("multi_prompt"), list):
        text = " / ".join(str(shot.get("prompt", "")) for shot in params["multi_prompt"])
    return " ".join(str(text).split())


class Generation(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("studio.Workspace", models.PROTECT, related_name="generations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="generations"
    )
    model_slug = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    params = models.JSONField(default=dict)  # what the person chose, inputs as references
    prompt = models.TextField(blank=True, default="")  # the words in params, for searching
    request_body = models.JSONField(null=True, blank=True)  # what was sent upstream
    estimate = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    # The form's one-time token: a resent form or a double click finds the same Generation.
    token = models.CharField(max_length=64)
    private = models.BooleanField(default=False)
    retry_of = models.ForeignKey("self", models.SET_NULL, null=True, blank=True)
    batch = models.UUIDField(null=True, blank=True, db_index=True)  # sent together by Run ×N
    starred = models.BooleanField(default=False)  # the team's pick: starred for the workspace
    # Whether any result file was kept (set as one is saved): the gallery's test for a canceled
    # job the upstream finished and charged anyway, read from the row and not from a subquery
    # (PostgreSQL hashed every file of the database for it: 37 ms a page at 100,000).
    has_files = models.BooleanField(default=False)
    # Deleted from the gallery (soft: restorable until STUDIO_DELETED_RETENTION_DAYS, when the
    # sweep removes its files and sets files_purged). The ledger keeps what it cost.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    files_purged = models.BooleanField(default=False)

    upstream_task_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    status_word = models.CharField(max_length=64, blank=True)
    consumed_credits = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    waiting_note = models.CharField(max_length=200, blank=True)  # "waiting for the service"
    billing_open = models.BooleanField(default=False)  # canceled, but the upstream may charge

    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)  # the upstream gave a task id
    upstream_done_at = models.DateTimeField(null=True, blank=True)  # first seen finished
    finished_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    checks = models.PositiveIntegerField(default=0)  # upstream look-ups made
    keep_attempts = models.PositiveSmallIntegerField(default=0)  # tries to keep its results
    # What the field taught the pacing (see pacing.py): the key it ran on (hashed), when it
    # was last seen still running, how long it was expected to run, and its callback: "" (none
    # offered), offered, arrived or missed; a callback should have come by callback_due_at.
    rate_key = models.CharField(max_length=64, blank=True)
    seen_running_at = models.DateTimeField(null=True, blank=True)
    expected_run_seconds = models.FloatField(null=True, blank=True)
    callback_state = models.CharField(max_length=8, blank=True)
    callback_due_at = models.DateTimeField(null=True, blank=True)
    submit_attempts = models.PositiveIntegerField(default=0)
    callback_token = models.CharField(max_length=64, default=_new_secret)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user", "token"], name="one_generation_per_form_token"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["state", "next_check_at"]),
            models.Index(  # the gallery's Starred filter, fast however many results there are
                fields=["workspace", "-created_at"],
                condition=models.Q(starred=True),
                name="starred_by_workspace",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_slug} {self.code}"

    def save(self, *args, **kwargs) -> None:
        if not self.prompt:
            self.prompt = prompt_of(self.params)
        super().save(*args, **kwargs)

    @property
    def spec(self):
        from generations import catalog

        return catalog.get(self.model_slug)

    @property
    def model_name(self) -> str:
        """The model's name ("Kling 3.0"); its slug when the catalog no longer has it."""
        from generations import catalog

        return catalog.name_of(self.model_slug)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def queued_seconds(self) -> float | None:
        """How long it waited before the upstream started on it (approval, our queue, theirs)."""
        started = self.seen_running_at or self.accepted_at
        return (started - self.created_at).total_seconds() if started else None

    @property
    def ran_seconds(self) -> float | None:
        """How long the upstream worked on it, from when it was seen running (or accepted)."""
        started = self.seen_running_at or self.accepted_at
        if not (started and self.upstream_done_at):
            return None
        return max(0.0, (self.upstream_done_at - started).total_seconds())

    @property
    def cost(self):
        """Credits this job has taken so far: its hold while open, then what it was charged."""
        from studio.ledger import exact, job_cost

        if hasattr(self, "ledger_total"):  # read with the job (for_cards)
            return -exact(self.ledger_total)
        return job_cost(self)

    @property
    def prompt_excerpt(self) -> str:
        text = self.prompt or prompt_of(self.params)
        return text[:140] + ("…" if len(text) > 140 else "")

    # What a status card shows that the server decides. Its seconds and its progress bar are
    # counted by the page itself (static/js/studio.js) from the times the card carries.
    CARD_FIELDS = (
        "state", "status_word", "waiting_note", "error_kind", "error_message",
        "consumed_credits", "billing_open", "accepted_at", "upstream_done_at", "finished_at",
        "expected_run_seconds", "has_files", "deleted_at", "private",
    )  # fmt: skip

    def card_version(self) -> str:
        """Changes whenever this job's status card would read differently (for one viewer: the
        view adds who looks, and how): what its ETag is made of."""
        parts = [str(getattr(self, name)) for name in self.CARD_FIELDS]
        if self.state in (State.QUEUED, State.SUBMITTING):
            parts.append(str(self.queue_position()))
        return hashlib.blake2b("|".join(parts).encode(), digest_size=10).hexdigest()

    def elapsed(self, now=None) -> float:
        end = self.finished_at or now or timezone.now()
        return max(0.0, (end - self.created_at).total_seconds())

    def progress(self, now=None) -> int:
        """A percentage from the model's typical duration: honest about being an estimate, so it
        stops short of 100 until the job has really ended."""
        if self.state == State.SUCCEEDED:
            return 100
        if not self.accepted_at:
            return 2
        expected = max(1.0, self.expected_seconds())
        running = ((now or timezone.now()) - self.accepted_at).total_seconds()
        return max(3, min(95, round(100 * running / expected)))

    def queue_position(self) -> int:
        """Jobs of this workspace (one upstream key, one rate limit) waiting to be sent before
        this one: how far back the rate limit holds it."""
        if self.state not in (State.QUEUED, State.SUBMITTING):
            return 0
        return Generation.objects.filter(
            workspace_id=self.workspace_id,
            state__in=[State.QUEUED, State.SUBMITTING],
            created_at__lt=self.created_at,
        ).count()

    def expected_seconds(self) -> float:
        """How long it should run: as expected when it was sent (learned durations), else the
        catalog's guess."""
        if self.expected_run_seconds:
            return self.expected_run_seconds
        low, high = self.usual_seconds()
        return (low + high) / 2

    @staticmethod
    def share_timings(jobs) -> None:
        """Reads each model's usual durations once for a list of one workspace's cards."""
        seen: dict[str, tuple[float, float]] = {}
        for job in jobs:
            if job.model_slug in seen:
                job._usual_seconds = seen[job.model_slug]
            else:
                seen[job.model_slug] = job.usual_seconds()

    def usual_seconds(self) -> tuple[float, float]:
        """ModelTiming.usual_seconds for this job's model, read once per instance (a status
        card asks for it twice: for the progress and for the deadline)."""
        if not hasattr(self, "_usual_seconds"):
            self._usual_seconds = ModelTiming.usual_seconds(self.spec, self.workspace)
        return self._usual_seconds

    # -- state changes: conditional updates, so that a task run twice changes nothing twice --

    # What the ledger needs of a chargeable thing (see studio/ledger.py).
    @property
    def ledger_cause(self) -> dict:
        return {"generation": self}

    @property
    def member_id(self):
        return self.user_id

    @property
    def hold_amount(self) -> int:
        return self.estimate

    @property
    def kept_after_cancel(self) -> bool:
        """Canceled, yet the upstream finished it, charged it, and its result was kept."""
        return self.state == State.CANCELED and not self.billing_open and bool(self.files.all())

    @property
    def status_sentence(self) -> str:
        return STATUS_SENTENCES.get(self.state) or f"Running: usually {self.spec.typical_label}"

    def _move(self, from_states, **changes) -> bool:
        updated = Generation.objects.filter(pk=self.pk, state__in=from_states).update(**changes)
        if updated:
            for name, value in changes.items():
                setattr(self, name, value)
        return bool(updated)

    def _transition(self, name: str, from_states=None, **changes) -> bool:
        """Makes move `name` of TRANSITIONS (from a narrower set of its states if given)."""
        allowed, to = TRANSITIONS[name]
        if from_states is not None:
            assert set(from_states) <= set(allowed), (name, from_states)
        return self._move(from_states or allowed, state=to, **changes)

    @classmethod
    def claim_for_submit(cls, pk: int) -> bool:
        """queued → submitting: only one worker sends a job; a second delivery finds nothing."""
        return bool(
            cls.objects.filter(pk=pk, state__in=TRANSITIONS["claim_for_submit"][0]).update(
                state=TRANSITIONS["claim_for_submit"][1],
                submitted_at=timezone.now(),
                submit_attempts=models.F("submit_attempts") + 1,
            )
        )

    def requeue(self, note: str) -> bool:
        """submitting → queued: it surely was not sent (connection refused, rate limit)."""
        return self._transition("requeue", waiting_note=note)

    def mark_sent(self, status_word: str = "", **followed) -> bool:
        """submitting → running, with the upstream's task id and its schedule (`followed`). A
        job canceled while it was being sent is not moved, but the upstream has it and may
        charge it: it is followed for its bill (billing_open) with the same schedule."""
        if self._transition("mark_sent", status_word=status_word, waiting_note="", **followed):
            return True
        Generation.objects.filter(pk=self.pk, billing_open=True).update(**followed)
        return False

    def mark_unconfirmed(self, note: str, give_up_at, kind: str = "") -> bool:
        """submitting → unknown: it may have reached the upstream without an answer. Never sent
        again; it waits (until `give_up_at`) for the upstream to confirm it."""
        changes = {"error_kind": kind} if kind else {}
        return self._transition(
            "mark_unconfirmed", waiting_note=note, next_check_at=give_up_at, **changes
        )

    def adopt(self, task_id: str) -> bool:
        """unknown (or still sending) → running: the upstream showed this task is this job's.
        Paced from now, when it was confirmed."""
        now = timezone.now()
        return self._transition(
            "adopt", upstream_task_id=task_id, accepted_at=now, next_check_at=now, waiting_note=""
        )

    def follow_bill_of(self, task_id: str) -> bool:
        """A job canceled while it may have been sent, whose create's answer never came: the
        upstream showed `task_id` is its request, so its bill is that task's (looked up now).
        The state stays canceled; only what it is followed for is known at last."""
        return bool(
            Generation.objects.filter(
                pk=self.pk, state=State.CANCELED, billing_open=True, upstream_task_id__isnull=True
            ).update(upstream_task_id=task_id, next_check_at=timezone.now())
        )

    def schedule_look(self, at, **seen) -> bool:
        """When to look it up next (and what the last look saw), while it is still followed."""
        return bool(
            Generation.objects.followed().filter(pk=self.pk).update(next_check_at=at, **seen)
        )

    def cancel(self) -> bool:
        """Stop following it for its result. A job not yet sent gives its hold back. One that
        was or may have been sent (being sent, running, unconfirmed) keeps it: the upstream may
        still run and charge it, so it is followed, quietly, for its bill (`billing_open`)."""
        from studio import ledger

        now = timezone.now()
        ended = {"finished_at": now, "waiting_note": ""}
        with transaction.atomic():
            # Two conditional moves, so a submit claiming the job at this instant cannot slip
            # between "is it sent?" and the move: the one that matches the state now wins.
            unsent = [State.AWAITING_APPROVAL, State.QUEUED]
            if self._transition("cancel", unsent, **ended, next_check_at=None):
                ledger.release(self, "Canceled before it was sent.")
                return True
            sent = bool(
                Generation.objects.filter(pk=self.pk).values_list("upstream_task_id", flat=True)[0]
            )
            # Sent: looked up now for its bill. Maybe sent (no task id yet): the submit that is
            # sending it records the id, or the sweep releases it once it can no longer appear.
            check_at = now if sent else now + timedelta(seconds=self.deadline_seconds())
            return self._transition(
                "cancel",
                [State.SUBMITTING, State.RUNNING, State.UNKNOWN],
                **ended,
                next_check_at=check_at,
                billing_open=True,
            )

    def deadline_seconds(self) -> float:
        """Seconds after which a job still running or unconfirmed is given up on."""
        from generations import pacing

        spec = self.spec
        catalog_high = ModelTiming.catalog_seconds(spec, self.workspace)[1]
        return pacing.deadline(self.usual_seconds()[1], catalog_high)

    def fail(
        self, kind: str, message: str, from_states=None, charged=_FREE, keep_bill: bool = False
    ) -> bool:
        """Ends a job as failed and gives its hold back (the upstream charges successes only);
        with `charged` (what the upstream reported for a job it ran but whose result the studio
        could not keep), settles to that instead. With `keep_bill` (the studio stops waiting
        for a job the upstream still has, which may yet finish and charge), the hold stays and
        the job is followed for its bill (billing_open) until the upstream says."""
        from studio import ledger

        follow = keep_bill and bool(self.upstream_task_id)
        with transaction.atomic():
            moved = self._transition(
                "fail",
                from_states,
                error_kind=kind,
                error_message=message,
                finished_at=timezone.now(),
                next_check_at=timezone.now() if follow else None,
                billing_open=follow,
                waiting_note="",
            )
            # Followed for its bill: close_bill settles or releases it once the upstream says.
            if moved and not follow:
                if charged is _FREE:
                    ledger.release(self, message[:300])
                else:
                    ledger.settle(self, charged)
        return moved

    def needs_approval(self) -> bool:
        """Above the workspace's per-job threshold, a member's job waits for an admin."""
        from studio.models import Membership

        threshold = self.workspace.approval_threshold
        if threshold is None or self.estimate <= threshold:
            return False
        membership = Membership.objects.filter(workspace=self.workspace, user=self.user).first()
        return membership is None or needs_approval(membership, self.estimate)

    def approve(self, by) -> bool:
        """awaiting → queued, said in the audit log (who, what, what it holds)."""
        from studio.models import AuditEvent

        with transaction.atomic():
            moved = self._transition("approve", waiting_note="")
            if moved:
                AuditEvent.record(self.workspace, by, "job approved", self.audit_words())
        return moved

    def reject(self, by, reason: str = "") -> bool:
        """awaiting → failed as "rejected" (its hold released), with who and why, in the audit
        log too."""
        from studio.models import AuditEvent

        reason = " ".join(reason.split())[:200]
        message = f"Rejected by {by.username}" + (f": {reason}" if reason else ".")
        with transaction.atomic():
            moved = self.fail("rejected", message, TRANSITIONS["reject"][0])
            if moved:
                detail = self.audit_words() + (f"; reason: {reason}" if reason else "")
                AuditEvent.record(self.workspace, by, "job rejected", detail)
        return moved

    def audit_words(self) -> str:
        """The job as the audit log names it: model, author, estimate, and its code."""
        author = self.user.username if self.user else "a deleted user"
        return f"{self.spec.name} by {author}, estimated {self.estimate} credits, job {self.code}"

    def decision(self):
        """The approval or rejection of this job, from the audit log (None when it had none)."""
        from studio.models import AuditEvent

        return (
            AuditEvent.objects.filter(
                workspace_id=self.workspace_id,
                action__in=["job approved", "job rejected"],
                detail__contains=f"job {self.code}",
            )
            .select_related("actor")
            .first()
        )

    def set_starred(self, starred: bool) -> None:
        """Stars or unstars it for its workspace (one conditional update: a double click is
        one star)."""
        Generation.objects.filter(pk=self.pk).update(starred=starred)
        self.starred = starred

    @property
    def badge_label(self) -> str:
        """The word on the card's badge: the state's, but a rejection is not a failure."""
        if self.state == State.FAILED and self.error_kind == "rejected":
            return "Rejected"
        return self.get_state_display()

    def succeed(self, consumed) -> bool:
        """Marks a running job done and settles its hold with what the upstream charged."""
        from studio import ledger

        with transaction.atomic():
            moved = self._transition(
                "succeed",
                finished_at=timezone.now(),
                next_check_at=None,
                waiting_note="",
            )
            if moved:
                ledger.settle(self, consumed)
        return moved

    def close_bill(
        self,
        succeeded: bool,
        consumed,
        reason: str = "Canceled, and the service did not finish it.",
    ) -> None:
        """A canceled job the upstream finished anyway: settle (it ran) or release (it failed,
        or it surely never reached the upstream)."""
        from studio import ledger

        with transaction.atomic():
            closed = Generation.objects.filter(pk=self.pk, billing_open=True).update(
                billing_open=False, next_check_at=None
            )
            if not closed:
                return
            if succeeded:
                ledger.settle(self, consumed)
            else:
                ledger.release(self, reason)


class GenerationFile(models.Model):
    """One result, copied into the studio's storage (upstream URLs expire)."""

    generation = models.ForeignKey(Generation, models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=8)  # image | video | audio
    file = models.FileField(upload_to=_result_path, max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    preview = models.FileField(upload_to=_result_path, max_length=300, blank=True)  # thumb/poster
    source_url = models.TextField(blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "position"], name="one_file_per_position")
        ]

    def __str__(self) -> str:
        return self.file.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        Generation.objects.filter(pk=self.generation_id, has_files=False).update(has_files=True)

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1]

    @property
    def download_name(self) -> str:
        """The name it downloads under, alone or in a zip: date, model, prompt words, code."""
        from generations.downloads import filename_for  # (downloads reads these models)

        return filename_for(self.generation, self)


class Upload(models.Model):
    """A file a member uploaded as an input (an image to edit, a video to key)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("studio.Workspace", models.PROTECT, related_name="uploads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True)
    file = models.FileField(upload_to=_upload_path, max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.file.name


class GenerationInput(models.Model):
    """An earlier result a job was made from (a gallery pick in its params): lineage, both ways
    — what a result was made from, and what was made from it."""

    generation = models.ForeignKey(Generation, models.CASCADE, related_name="inputs_used")
    file = models.ForeignKey(GenerationFile, models.CASCADE, related_name="used_by")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["generation", "file"], name="one_row_per_input_file")
        ]

    def __str__(self) -> str:
        return f"{self.generation_id} made from file {self.file_id}"

    @classmethod
    def record(cls, generation: Generation) -> None:
        """Notes the gallery files in a job's params (those of its own workspace only)."""
        ids = set(file_refs(generation.params))
        if not ids:
            return
        found = GenerationFile.objects.filter(
            pk__in=ids, generation__workspace_id=generation.workspace_id
        ).values_list("pk", flat=True)
        cls.objects.bulk_create(
            [cls(generation=generation, file_id=pk) for pk in found], ignore_conflicts=True
        )


def file_refs(params: dict | None) -> list[int]:
    """The ids of the gallery files a job's params point at (`{"file": <id>}` references)."""
    ids = []
    for value in (params or {}).values():
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, dict) and isinstance(ref.get("file"), int):
                ids.append(ref["file"])
    return ids


class PollerHeartbeat(models.Model):
    """One row: when a poller last showed it was alive, so that no second one is started."""

    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"poller seen {self.seen_at}"


class ConversationQuerySet(models.QuerySet):
    def visible_to(self, user, membership) -> ConversationQuerySet:
        """A person's own chats in the workspace they work in, not deleted. Chats are private:
        nobody else sees them, admins neither. No membership: nothing."""
        if not membership:
            return self.none()
        return self.filter(workspace_id=membership.workspace_id, user=user, deleted_at=None)

    def matching(self, text: str) -> ConversationQuerySet:
        """Those whose title or any message holds `text` (case-insensitive); all for none."""
        text = text.strip()
        if not text:
            return self
        in_messages = Message.objects.filter(
            conversation=models.OuterRef("pk"), content__icontains=text
        )
        return self.filter(models.Q(title__icontains=text) | models.Exists(in_messages))

    def newest_first(self) -> ConversationQuerySet:
        return self.order_by("-created_at", "-pk")


class Conversation(models.Model):
    """A chat with the `gemini` model: synchronous upstream, so no Generation/task."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("studio.Workspace", models.PROTECT, related_name="conversations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True)
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # How its replies are asked for (the gemini parameters the manual documents).
    system_prompt = models.TextField(blank=True)
    reasoning_effort = models.CharField(max_length=8, default="high")
    include_thoughts = models.BooleanField(default=True)
    json_output = models.BooleanField(default=False)  # response_format {"type": "json_object"}
    # Deleted by its owner: gone from every page, kept for the ledger (its replies were billed).
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or str(self.code)

    def rename(self, title: str) -> None:
        self.title = title
        Conversation.objects.filter(pk=self.pk).update(title=title)

    def change_settings(self, **values) -> None:
        """system_prompt, reasoning_effort, include_thoughts, json_output: from the next reply."""
        for name, value in values.items():
            setattr(self, name, value)
        self.save(update_fields=list(values))

    def remove(self) -> None:
        """Gone for its owner; its messages stay, since the ledger names the billed replies."""
        Conversation.objects.filter(pk=self.pk, deleted_at=None).update(deleted_at=timezone.now())

    def current_messages(self) -> models.QuerySet[Message]:
        """The conversation as it stands: without the replies regenerated and the questions
        edited since."""
        return self.messages.filter(replaced_at=None)

    def history(self, before: Message) -> list[dict]:
        """What is sent upstream to answer `before`: the system prompt, then every current
        message before it that has words, in the upstream's {role, content} shape."""
        earlier = (
            self.current_messages()
            .filter(pk__lt=before.pk)
            .exclude(content="")
            .order_by("created_at", "pk")
        )
        system = [{"role": Message.Role.SYSTEM, "content": self.system_prompt}]
        return (system if self.system_prompt.strip() else []) + [
            {"role": m.role, "content": m.content} for m in earlier
        ]

    def last_turn(self) -> tuple[Message | None, Message | None]:
        """The last question and its reply, when the conversation ends with a finished one."""
        last = list(self.current_messages().order_by("-created_at", "-pk")[:2])
        if len(last) < 2 or last[0].role != Message.Role.ASSISTANT or not last[0].complete:
            return None, None
        if last[1].role != Message.Role.USER:
            return None, last[0]
        return last[1], last[0]

    def regenerate(self, reply: Message) -> Message | None:
        """A new reply, waiting to be answered, to the last question, in place of `reply`,
        which is kept (it was billed) but leaves the conversation. None unless `reply` is the
        last message and finished (not still arriving, not regenerated already)."""
        if self.last_turn()[1] != reply:
            return None
        with transaction.atomic():
            if not reply.replace():
                return None  # a second click, or another tab, got there first
            return Message.objects.create(
                conversation=self, role=Message.Role.ASSISTANT, complete=False
            )

    def edit_last_question(self, question: Message, text: str) -> tuple[Message, Message] | None:
        """`question` asked again in other words: it and its finished reply leave the
        conversation (kept for the ledger), the new question and a reply waiting to be
        answered take their place. None unless `question` is the last one and its reply has
        finished."""
        last_question, reply = self.last_turn()
        if last_question is None or last_question != question or reply is None:
            return None
        with transaction.atomic():
            if not reply.replace():
                return None
            question.replace()
            new_question = Message.objects.create(
                conversation=self, role=Message.Role.USER, content=text
            )
            new_reply = Message.objects.create(
                conversation=self, role=Message.Role.ASSISTANT, complete=False
            )
        return new_question, new_reply


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "You"
        ASSISTANT = "assistant", "Gemini"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(Conversation, models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    thoughts = models.TextField(blank=True)
    usage = models.JSONField(null=True, blank=True)
    credits_consumed = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    error_message = models.TextField(blank=True)
    complete = models.BooleanField(default=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # a request took it to answer
    created_at = models.DateTimeField(default=timezone.now)
    # Regenerated or edited: kept (a reply was billed) but no longer part of the conversation.
    replaced_at = models.DateTimeField(null=True, blank=True)
    stop_requested_at = models.DateTimeField(null=True, blank=True)  # Stop was pressed

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"

    @property
    def content_html(self) -> str:
        """A reply's Markdown as sanitised HTML (generations/chat.py says what it may hold)."""
        from generations.chat import render_markdown

        return render_markdown(self.content)

    def replace(self) -> bool:
        """Takes a finished message out of its conversation, once (a conditional update: two
        clicks or two tabs replace it once)."""
        return bool(
            Message.objects.filter(pk=self.pk, complete=True, replaced_at=None).update(
                replaced_at=timezone.now()
            )
        )

    def request_stop(self) -> bool:
        """Stop pressed. A reply nobody took to answer yet ends here, never sent nor held; one
        being streamed is marked, and the stream that answers it ends at its next look
        (generations/views/chat.py), billed as the service bills it. False once it ended."""
        from generations.chat import STOPPED_BEFORE

        now = timezone.now()
        unsent = Message.objects.filter(
            pk=self.pk, role=Message.Role.ASSISTANT, complete=False, claimed_at=None
        ).update(claimed_at=now, complete=True, error_message=STOPPED_BEFORE)
        if unsent:
            return True
        return bool(
            Message.objects.filter(
                pk=self.pk, role=Message.Role.ASSISTANT, complete=False, stop_requested_at=None
            ).update(stop_requested_at=now)
        )

    def stop_requested(self) -> bool:
        return Message.objects.filter(pk=self.pk, stop_requested_at__isnull=False).exists()

    # -- a reply's bill: claimed once, held, then settled or released (studio/ledger.py) --

    model_slug = "gemini"

    @property
    def ledger_cause(self) -> dict:
        return {"message": self}

    @property
    def workspace_id(self) -> int:
        return self._conversation_ids()[0]

    @property
    def member_id(self):
        return self._conversation_ids()[1]

    @property
    def hold_amount(self) -> int:
        from generations.catalog import CHAT_HOLD_CREDITS

        return CHAT_HOLD_CREDITS

    def _conversation_ids(self) -> tuple[int, int | None]:
        if not hasattr(self, "_ids") and Message.conversation.is_cached(self):
            self._ids = (self.conversation.workspace_id, self.conversation.user_id)
        if not hasattr(self, "_ids"):
            self._ids = tuple(
                Conversation.objects.filter(pk=self.conversation_id)
                .values_list("workspace_id", "user_id")
                .get()
            )
        return self._ids

    def claim(self) -> bool:
        """Only one request answers a reply: a second stream, a reload or a resent form finds
        it taken and sends (and pays for) nothing."""
        return bool(
            Message.objects.filter(
                pk=self.pk, role=Message.Role.ASSISTANT, complete=False, claimed_at__isnull=True
            ).update(claimed_at=timezone.now())
        )

    def hold(self) -> str | None:
        """Takes the documented pre-deduction; when it does not fit the budget, ends the reply
        with the budget's sentence (returned) and nothing is sent."""
        from studio import ledger

        try:
            ledger.hold(self)
        except ledger.BudgetExceeded as e:
            Message.objects.filter(pk=self.pk, complete=False).update(
                error_message=str(e), complete=True
            )
            return str(e)
        return None

    def finish(
        self,
        *,
        content: str = "",
        thoughts: str = "",
        usage: dict | None = None,
        credits_consumed=None,
        error: str = "",
        ran: bool = True,
    ) -> None:
        """Stores the reply and closes its bill in one transaction. The pre-deduction becomes
        the reply's real charge; without one (a stream cut off before its last chunk, by the
        browser or the network) the pre-deduction itself, which the service keeps; it comes
        back only when the service surely did not run it (`ran=False`: it refused, or was
        never asked)."""
        from studio import ledger

        changes = {
            "content": content,
            "thoughts": thoughts,
            "credits_consumed": credits_consumed,
            "error_message": error,
            "complete": True,
        }
        if usage is not None:
            changes["usage"] = usage
        with transaction.atomic():
            Message.objects.filter(pk=self.pk, complete=False).update(**changes)
            if error and credits_consumed is None and not ran:
                ledger.release(self, error[:300])
            else:  # None: the hold (the documented pre-deduction) is charged; the entry says why
                ledger.settle(self, credits_consumed)


class ModelTiming(models.Model):
    """How long one model's jobs really took on one upstream, the last SAMPLES of them: each as
    [earliest, latest] seconds after it was accepted (it was seen running at the first, seen
    done at the second; a callback makes them close). Pacing learns from these (pacing.py)."""

    SAMPLES = 50

    model_slug = models.CharField(max_length=64)
    upstream = models.CharField(max_length=200)  # the sandbox at its speed, or the API's URL
    samples = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_slug", "upstream"], name="one_timing_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.model_slug} on {self.upstream}: {len(self.samples)} samples"

    @staticmethod
    def scope(workspace=None) -> str:
        """Which upstream durations are learned for: the sandbox at its speed, or the API."""
        if _on_sandbox(workspace):
            return f"sandbox x{float(settings.SANDBOX['speed']):g}"
        return settings.APIINONE_BASE_URL

    @staticmethod
    def catalog_seconds(spec, workspace=None) -> tuple[float, float]:
        """The catalog's usual durations, scaled by the sandbox's speed when on the sandbox."""
        factor = float(settings.SANDBOX["speed"]) if _on_sandbox(workspace) else 1.0
        low, high = spec.typical_seconds
        return low * factor, high * factor

    @classmethod
    def usual_seconds(cls, spec, workspace=None) -> tuple[float, float]:
        """(low, high) seconds a job of this model usually runs on the workspace's upstream:
        learned from the jobs seen there (pacing.learned), else the catalog's."""
        from generations import pacing

        samples = (
            cls.objects.filter(model_slug=spec.slug, upstream=cls.scope(workspace))
            .values_list("samples", flat=True)
            .first()
        )
        return pacing.learned(samples or []) or cls.catalog_seconds(spec, workspace)

    @classmethod
    def observe(cls, model_slug: str, upstream: str, earliest: float, latest: float) -> None:
        with transaction.atomic():
            cls.objects.get_or_create(model_slug=model_slug, upstream=upstream)
            timing = cls.objects.select_for_update().get(model_slug=model_slug, upstream=upstream)
            sample = [round(max(0.0, earliest), 3), round(max(earliest, latest), 3)]
            timing.samples = [*timing.samples, sample][-cls.SAMPLES :]
            timing.save(update_fields=["samples", "updated_at"])


def _on_sandbox(workspace) -> bool:
    if workspace is not None:
        return workspace.uses_sandbox
    return not settings.APIINONE_API_KEY


class CallbackRecord(models.Model):
    """Whether the upstream's callbacks reach the studio, per key (hashed): learned from the jobs
    that offered one. Callbacks are counted on (looked up late, as a safety net) only once one
    has arrived, and no longer after MISSES in a row did not."""

    MISSES = 2

    key = models.CharField(max_length=64, unique=True)
    arrived = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    missed_in_a_row = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"callbacks for {self.key[:8]}: {self.arrived} arrived, {self.missed} missed"

    @classmethod
    def trusted(cls, key: str) -> bool:
        record = cls.objects.filter(key=key).values_list("arrived", "missed_in_a_row").first()
        return bool(record) and record[0] > 0 and record[1] < cls.MISSES

    @classmethod
    def note(cls, key: str, *, arrived: bool) -> bool:
        """Counts one callback that arrived or was missed; whether trust changed."""
        with transaction.atomic():
            cls.objects.get_or_create(key=key)
            before = cls.trusted(key)
            if arrived:
                cls.objects.filter(key=key).update(
                    arrived=models.F("arrived") + 1, missed_in_a_row=0
                )
            else:
                cls.objects.filter(key=key).update(
                    missed=models.F("missed") + 1, missed_in_a_row=models.F("missed_in_a_row") + 1
                )
            return cls.trusted(key) != before


# -- boards and share links ----------------------------------------------------------------------


def _share_token() -> str:
    return secrets.token_urlsafe(24)


class BoardQuerySet(models.QuerySet):
    def for_membership(self, membership) -> BoardQuerySet:
        """The boards of the member's workspace (every member sees them all; what each shows
        is still only what that member may see)."""
        if not membership:
            return self.none()
        return self.filter(workspace_id=membership.workspace_id)


class Board(models.Model):
    """A named collection the workspace shares; a result may be on several."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("studio.Workspace", models.CASCADE, related_name="boards")
    name = models.CharField(max_length=80)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    results = models.ManyToManyField(Generation, through="BoardItem", related_name="boards")

    objects = BoardQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="one_board_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def add(self, jobs, by) -> int:
        """Puts these results on the board (those already on it stay once); how many were new."""
        have = set(self.items.values_list("generation_id", flat=True))
        new = [
            BoardItem(board=self, generation_id=pk, added_by=by)
            for pk in jobs.values_list("pk", flat=True)
            if pk not in have
        ]
        BoardItem.objects.bulk_create(new, ignore_conflicts=True)
        return len(new)

    def remove(self, jobs) -> int:
        return self.items.filter(generation__in=jobs).delete()[0]

    def shared_results(self) -> GenerationQuerySet:
        """What a share link of the board shows: its kept results that are not private and not
        deleted, newest first."""
        return (
            Generation.objects.results()
            .filter(boards=self, private=False, deleted_at=None)
            .order_by("-created_at", "-pk")
        )


class BoardItem(models.Model):
    board = models.ForeignKey(Board, models.CASCADE, related_name="items")
    generation = models.ForeignKey(Generation, models.CASCADE, related_name="board_items")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "generation"], name="once_per_board")
        ]

    def __str__(self) -> str:
        return f"{self.generation_id} on {self.board_id}"


class ShareLink(models.Model):
    """A read-only, expiring link to a board for someone without an account (a client): only
    the board's results, never the workspace, its members or costs. Revocable."""

    board = models.ForeignKey(Board, models.CASCADE, related_name="share_links")
    token = models.CharField(max_length=64, unique=True, default=_share_token)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"share of {self.board_id} until {self.expires_at:%Y-%m-%d}"

    @property
    def live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @classmethod
    def open(cls, token: str) -> ShareLink | None:
        """The live link with this token, or None (unknown, expired or revoked alike)."""
        link = cls.objects.filter(token=token).select_related("board").first()
        return link if link is not None and link.live else None


# -- tags ----------------------------------------------------------------------------------------

TAG_MAX = 40  # characters of a tag


class Tag(models.Model):
    """A free-form word a team puts on results ("hero shot", "approved", "v2"); one spelling per
    workspace whatever its case."""

    workspace = models.ForeignKey("studio.Workspace", models.CASCADE, related_name="tags")
    name = models.CharField(max_length=TAG_MAX)
    results = models.ManyToManyField(Generation, related_name="tags")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("name"), "workspace", name="one_tag_spelling_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def named(cls, workspace, names: list[str]) -> list[Tag]:
        """The workspace's tags of these names, made when missing (an existing one keeps its
        first spelling)."""
        tags = []
        for name in names:
            tag = cls.objects.filter(workspace=workspace, name__iexact=name).first()
            if tag is None:
                try:
                    with transaction.atomic():
                        tag = cls.objects.create(workspace=workspace, name=name)
                except IntegrityError:  # made meanwhile by someone else
                    tag = cls.objects.get(workspace=workspace, name__iexact=name)
            tags.append(tag)
        return tags


def tag_names(text: str) -> list[str]:
    """The tags typed in one box: comma-separated, spaces tidied, empty ones and repeats gone."""
    names: list[str] = []
    for part in text.split(","):
        name = " ".join(part.split())
        if name and name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return names
