"""django-q2 tasks: send a job upstream, follow it to its end, keep its results, sweep.

Delivery is at least once and a worker may die at any line, so every step claims its work with a
conditional update (`filter(state=…).update(…)` and a check of the count) and reads state back
from the database. Nothing here trusts memory across steps.

- `submit(id)`: queued → submitting → running (with the upstream task id), or failed, or
  unknown when the create may have reached the upstream without an answer (never resent).
- `poll()`: a long-running follower of the running jobs (poller.py: up to STUDIO_POLLERS at once,
  look-ups side by side, a key at its rate limit never holding up another). It looks each job up
  when it is due (see pacing.py), hands a job that ended to one of its keeper threads
  (STUDIO_RESULT_KEEPERS) to download its results, and hands over to a fresh `poll` before the
  worker's timeout.
- `sweep()`: every minute, ends honestly what got stuck (lost enqueues, dead submits, jobs past
  their deadline) and restarts the poller if it died.
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from generations import client, inputs, pacing, poller, previews, ratelimit, upstream
from generations.client import UpstreamError
from generations.filetypes import sniff
from generations.models import (
    TRANSITIONS,
    CallbackRecord,
    Generation,
    GenerationFile,
    ModelTiming,
    State,
)
from studio import ledger, logs

logger = logging.getLogger(__name__)

LOOKUP_LEASE = timedelta(seconds=60)  # a claimed look-up not finished by then is done again
KEEP_LEASE = timedelta(minutes=10)  # results being kept by a keeper thread: not looked up again
SUBMIT_RETRIES = 6
BILL_WAIT = timedelta(days=1)  # a job followed only for its bill: the longest it is followed
CALLBACK_GRACE = timedelta(seconds=30)  # after the job was seen done, its callback is missed
KEEP_ATTEMPTS = 5  # tries to keep a finished job's results (each after a fresh look-up)
OUTPUT_TYPES = {
    "image": ("image/",),
    "video": ("video/",),
    "audio": ("audio/",),
}


def describe(error: UpstreamError, *, gave_up: bool = False) -> str:
    """A sentence a person can act on. `gave_up`: the studio stopped trying to send the job (the
    card then says it failed, so the sentence must not say the studio keeps trying)."""
    if error.kind == client.INSUFFICIENT_CREDITS:
        return (
            "The workspace's API in One account is out of credits. Ask an admin to top it up, "
            "then retry."
        )
    if error.kind == client.AUTHENTICATION:
        return "The workspace's API in One key was refused as invalid. Tell an admin to check it."
    if error.kind == client.INVALID_REQUEST:
        return f"API in One refused the job: {error.message}"
    if error.kind == client.NOT_FOUND:
        return "API in One no longer knows this job."
    if gave_up:
        why = (
            "kept refusing it for its rate limit"
            if error.kind == client.RATE_LIMIT
            else "stayed busy or unreachable"
        )
        return (
            f"API in One {why} through {SUBMIT_RETRIES} tries, so the studio stopped: the job "
            "was never sent and nothing was charged. Retry it later."
        )
    return "Waiting for the service: it is busy or unreachable, and the studio keeps trying."


def _account(generation: Generation) -> client.Account:
    return upstream.studio_account(str(generation.user_id or ""), generation.workspace)


# -- submit -------------------------------------------------------------------------------------


def enqueue_submit(generation: Generation) -> None:
    """Send it once the transaction that created it has committed."""
    pk = generation.pk
    transaction.on_commit(lambda: async_task("generations.tasks.submit", pk))


def enqueue_approval_request(generation: Generation) -> None:
    """Tell the workspace's approvers (by email, when configured) once the job is saved."""
    pk = generation.pk
    transaction.on_commit(lambda: async_task("generations.tasks.ask_approvers", pk))


def ask_approvers(generation_id: int) -> None:
    """Safe to run twice in effect: a job already decided sends nothing."""
    from generations import notify

    generation = Generation.objects.filter(pk=generation_id).select_related("workspace").first()
    if generation is not None:
        notify.approval_needed(generation)


def submit(generation_id: int) -> None:
    if not Generation.claim_for_submit(generation_id):
        return  # a second delivery, or no longer queued
    generation = Generation.objects.get(pk=generation_id)
    with logs.about(generation.code):
        _submit(generation)


def _submit(generation: Generation) -> None:
    try:
        body = inputs.request_body(generation)
    except inputs.InputError as e:
        generation.fail("invalid_input", str(e), from_states=[State.SUBMITTING])
        return
    account = _sending_account(generation)
    offered = "callback_url" in body
    # Before it is sent: a callback may come back before the create's answer does.
    Generation.objects.filter(pk=generation.pk).update(
        request_body=body, rate_key=account.rate_key, callback_state="offered" if offered else ""
    )
    try:
        task = client.create_task(account, generation.spec.route, body)
    except CanceledBeforeSending:
        generation.close_bill(False, None, "Canceled while waiting to be sent: never sent.")
        return
    except UpstreamError as e:
        _submit_failed(generation, e)
        return
    accepted = timezone.now()
    plan = pacing.plan(
        *ModelTiming.usual_seconds(generation.spec, generation.workspace),
        count_on_callback=offered and CallbackRecord.trusted(account.rate_key),
    )
    followed = {
        "upstream_task_id": task.task_id,
        "accepted_at": accepted,
        "next_check_at": accepted + timedelta(seconds=plan.first_look),
        "expected_run_seconds": plan.expected,
        "callback_due_at": accepted + timedelta(seconds=plan.callback_due) if offered else None,
    }
    generation.mark_sent(task.status_word, **followed)  # or, canceled meanwhile, its bill
    kick_poller()


class CanceledBeforeSending(Exception):
    """The job was canceled while it waited for a rate-limit slot: nothing was sent."""


def _sending_account(generation: Generation) -> client.Account:
    """The job's account, whose limiter, once it hands out a slot, checks the job was not
    canceled while it waited (a cancel in "Sending" then costs nothing: it is never sent)."""
    account = _account(generation)
    wait_for_slot = account.limiter

    def limiter(rate_key: str, member: str | None) -> None:
        if wait_for_slot is not None:
            wait_for_slot(rate_key, member)
        if Generation.objects.filter(pk=generation.pk, state=State.CANCELED).exists():
            raise CanceledBeforeSending

    return dataclasses.replace(account, limiter=limiter)


def _submit_failed(generation: Generation, error: UpstreamError) -> None:
    generation.refresh_from_db(fields=["state", "billing_open"])
    if generation.state == State.CANCELED and not error.ambiguous:
        # Canceled while being sent, and surely not sent: nothing can be charged.
        generation.close_bill(False, None, "Canceled while it was being sent: never sent.")
        return
    if error.ambiguous:
        generation.mark_unconfirmed(
            "The service may have received this job but its answer was lost. The studio "
            "will not send it twice; it waits for the service to confirm it.",
            _give_up_at(generation),
            kind=error.kind,
        )
        return
    if error.permanent or generation.submit_attempts >= SUBMIT_RETRIES:
        gave_up = not error.permanent
        generation.fail(
            error.kind, describe(error, gave_up=gave_up), from_states=[State.SUBMITTING]
        )
        return
    # Surely not sent (refused connection, rate limit): back in the queue, tried again soon.
    generation.requeue(describe(error))
    time.sleep(client.backoff(generation.submit_attempts, error.retry_after))
    async_task("generations.tasks.submit", generation.pk)


# -- follow -------------------------------------------------------------------------------------


def kick_poller() -> None:
    """Start a poller unless enough are alive (a heartbeat in the last few seconds each)."""
    if poller.alive() < settings.STUDIO_POLLERS:
        async_task("generations.tasks.poll")


POLLER_LATE = timedelta(seconds=60)  # a job due this long with no poller alive: it is stuck
SWEEP_LATE = timedelta(minutes=5)  # the every-minute sweep not run for this long


def poller_state() -> str:
    """For /healthz: "ok" (a poller is alive), "idle" (none needed: nothing is due), or "late"
    (jobs have waited past their check with no poller: no qcluster is taking tasks)."""
    if poller.alive():
        return "ok"
    overdue = Generation.objects.due(timezone.now() - POLLER_LATE).exists()
    return "late" if overdue else "idle"


def sweep_state() -> str:
    """For /healthz: "ok" while qcluster's scheduler runs the sweep on time, else "late"."""
    from django_q.models import Schedule

    next_run = Schedule.objects.filter(name="generations.sweep").values_list("next_run", flat=True)
    due = next_run.first()
    return "ok" if due is not None and due > timezone.now() - SWEEP_LATE else "late"


def poll() -> None:
    keepers = _Keepers(settings.STUDIO_RESULT_KEEPERS)
    try:
        more = poller.run(keepers.keep)
    finally:
        keepers.close()  # waits for the results being kept
    if more:
        async_task("generations.tasks.poll")


class _Keepers:
    """The poller's threads that keep finished jobs' results, so that one slow download does not
    delay every other job's look-up. A job being kept stays claimed (KEEP_LEASE): if this
    process dies, the lease runs out and the next poller looks it up and keeps it again."""

    def __init__(self, threads: int) -> None:
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="keep") if threads else None

    def keep(self, generation: Generation, task: client.Task) -> None:
        if self.pool is None:
            collect(generation, task)
            return
        # A long download must not outlive the look-up's lease (a second keeper would start).
        Generation.objects.followed().filter(pk=generation.pk).update(
            next_check_at=timezone.now() + KEEP_LEASE
        )
        self.pool.submit(self._collect, generation, task)

    @staticmethod
    def _collect(generation: Generation, task: client.Task) -> None:
        try:
            with logs.about(generation.code):
                collect(generation, task)
        except Exception:  # the lease runs out and the job is looked up again
            logger.exception("Keeping the results of %s failed", generation.code)
        finally:
            connection.close()  # this thread's own connection

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


def check(generation_id: int, keep: Callable | None = None, *, wait_for_slot: bool = True) -> float:
    """Look one followed job up, if it is (still) due; safe to run twice or concurrently.
    `keep(generation, task)` keeps the results of a job that succeeded (default: `collect`).

    With `wait_for_slot=False` (the poller) it never waits for the key's rate limit: when the
    key has no free slot the job is put back as it was, still due, and the seconds until a slot
    frees are returned (0 otherwise)."""
    now = timezone.now()
    # Due now: a job another poller claimed a moment ago is due only when its lease runs out.
    generation = Generation.objects.due(now).filter(pk=generation_id).first()
    if generation is None or not generation.next_check_at:
        return 0.0
    due_at, leased_to = generation.next_check_at, now + LOOKUP_LEASE
    # Claim this look-up by moving its due time: a second poller finds it no longer due.
    claimed = (
        Generation.objects.followed()
        .filter(pk=generation_id, next_check_at=due_at)
        .update(next_check_at=leased_to, checks=F("checks") + 1)
    )
    if not claimed:
        return 0.0
    account = _account(generation)
    if not wait_for_slot:
        account = dataclasses.replace(account, limiter=ratelimit.take_now)
    with logs.about(generation.code):
        try:
            _look_up(generation, keep, account)
        except ratelimit.KeyBusy as busy:  # not looked up: back as it was, for when a slot frees
            Generation.objects.followed().filter(pk=generation_id, next_check_at=leased_to).update(
                next_check_at=due_at, checks=F("checks") - 1
            )
            return busy.wait
    return 0.0


def _look_up(generation: Generation, keep: Callable | None, account: client.Account) -> None:
    try:
        task = client.get_task(account, generation.upstream_task_id)
    except UpstreamError as e:
        if not e.permanent:
            wait = timedelta(seconds=client.backoff(2, e.retry_after))
            generation.schedule_look(timezone.now() + wait, waiting_note=describe(e))
        elif generation.billing_open:
            generation.close_bill(False, None)
        else:
            generation.fail(e.kind, describe(e), from_states=[State.RUNNING])
        return
    record(generation, task, keep)


def record(generation: Generation, task: client.Task, keep: Callable | None = None) -> None:
    """Store what a look-up found: still running (when to look next), failed, or done."""
    now = timezone.now()
    if not task.finished:
        running_for = (now - (generation.accepted_at or now)).total_seconds()
        generation.schedule_look(
            now + timedelta(seconds=pacing.next_look(running_for)),
            status_word=task.status_word,
            waiting_note="",
            seen_running_at=now,
        )
        return
    first_seen_done = Generation.objects.filter(
        pk=generation.pk, upstream_done_at__isnull=True
    ).update(upstream_done_at=now)
    if first_seen_done and task.state == client.SUCCEEDED and generation.accepted_at:
        # It ended between the last look that saw it running and now: what pacing learns from.
        ModelTiming.observe(
            generation.model_slug,
            ModelTiming.scope(generation.workspace),
            earliest=(
                (generation.seen_running_at or generation.accepted_at) - generation.accepted_at
            ).total_seconds(),
            latest=(now - generation.accepted_at).total_seconds(),
        )
    Generation.objects.filter(pk=generation.pk).update(
        status_word=task.status_word, consumed_credits=task.consumed_credits
    )
    generation.refresh_from_db()
    if generation.billing_open:  # canceled after it was sent: followed for its bill
        if task.state == client.SUCCEEDED:
            keep_paid_result(generation, task)
        generation.close_bill(task.state == client.SUCCEEDED, task.consumed_credits)
        return
    if task.state == client.FAILED:
        message = task.error_message or "The model could not generate this."
        generation.fail("upstream_failed", f"API in One: {message}", from_states=[State.RUNNING])
        return
    (keep or collect)(generation, task)


def collect(generation: Generation, task: client.Task) -> None:
    """Copy every result into the studio's storage now (upstream URLs expire), then mark the job
    done and settle its credits. Files already kept (a second run) are not fetched again."""
    spec = generation.spec
    kept = set(generation.files.values_list("position", flat=True))
    try:
        for position, url in enumerate(task.result_urls):
            if position in kept:
                continue
            generation.refresh_from_db(fields=["state"])
            if generation.state != State.RUNNING:
                return  # canceled meanwhile: the result is dropped
            _keep(generation, position, url, spec.output)
    except UpstreamError as e:
        _collect_failed(generation, e)
        return
    if not task.result_urls:
        generation.fail("no_results", "API in One reported success but sent no result.")
        return
    generation.succeed(task.consumed_credits)


def keep_paid_result(generation: Generation, task: client.Task) -> None:
    """A job canceled after it was sent that the upstream finished and charges for: its result
    was paid for, so it is kept (one try each; a result that cannot be kept leaves the bill
    as it is: what the upstream charged)."""
    kept = set(generation.files.values_list("position", flat=True))
    for position, url in enumerate(task.result_urls):
        if position in kept:
            continue
        try:
            _keep(generation, position, url, generation.spec.output)
        except UpstreamError as e:
            logger.warning("result of canceled job %s not kept: %s", generation.code, e)
            return


def _keep(generation: Generation, position: int, url: str, output: str) -> None:
    download = client.download(
        url,
        trusted_hosts=upstream.result_hosts(generation.workspace),
        max_bytes=settings.MAX_RESULT_BYTES,
    )
    # What the bytes are, never what the upstream says they are: only raster images, video and
    # audio are kept (an SVG or HTML "image" would run script on the studio's own origin).
    content_type = sniff(download.content)
    if content_type is None or not content_type.startswith(OUTPUT_TYPES.get(output, ("",))):
        declared = download.content_type or "of no stated type"
        raise Unkeepable(
            client.INVALID_REQUEST,
            f"a result was not {'an' if output[0] in 'aeiou' else 'a'} {output} file the studio "
            f"keeps (it said it was {declared})",
        )
    extension = mimetypes.guess_extension(content_type) or ".bin"
    name = f"{generation.model_slug}-{position + 1}{extension}"
    result = GenerationFile(
        generation=generation,
        position=position,
        kind=output,
        content_type=content_type,
        size=len(download.content),
        source_url=url,
    )
    preview = None
    if output == "image":
        size = previews.image_size(download.content)
        if size:
            result.width, result.height = size
        preview = previews.thumbnail(download.content)
    elif output == "video":
        preview = previews.poster(download.content)
    elif output == "audio":
        preview = previews.waveform(download.content)
    result.file.save(name, ContentFile(download.content), save=False)
    if preview:
        result.preview.save(f"{name}.preview.webp", ContentFile(preview), save=False)
    try:
        with transaction.atomic():
            result.save()
    except IntegrityError:  # kept by a concurrent run: ours is a spare copy
        result.file.delete(save=False)
        if preview:
            result.preview.delete(save=False)


class Unkeepable(UpstreamError):
    """A result that is not a file the studio keeps: asking again brings the same bytes."""


def _collect_failed(generation: Generation, error: UpstreamError) -> None:
    """A result could not be kept. The upstream ran the job and charged for it, so however it
    ends its bill is what the upstream reported. An expired link (403/404/410) is looked up once
    more at once (a look-up hands out fresh links); after that the tries back off (never once a
    second), and after KEEP_ATTEMPTS the job ends failed, saying what was charged."""
    Generation.objects.filter(pk=generation.pk).update(keep_attempts=F("keep_attempts") + 1)
    generation.refresh_from_db()
    if isinstance(error, Unkeepable):
        # The upstream ran it and says what it charged: the bill is that, not nothing.
        generation.fail(
            "unkeepable_result",
            f"API in One finished this job, but {error.message}: the studio did not keep it.",
            from_states=[State.RUNNING],
            charged=generation.consumed_credits,
        )
        return
    if generation.keep_attempts >= KEEP_ATTEMPTS:
        generation.fail(
            "result_lost",
            f"{charged_words(generation.consumed_credits)}; the studio could not keep the "
            f"result ({error.message})",
            from_states=[State.RUNNING],
            charged=generation.consumed_credits,
        )
        return
    expired = error.kind == client.NOT_FOUND
    wait = (
        0.0 if expired and generation.keep_attempts == 1 else keep_backoff(generation.keep_attempts)
    )
    Generation.objects.filter(pk=generation.pk, state=State.RUNNING).update(
        waiting_note="Fetching the results again.",
        next_check_at=timezone.now() + timedelta(seconds=wait),
    )


def keep_backoff(attempts: int) -> float:
    """Seconds before try `attempts + 1` to keep a job's results: 4, 8, 16 … up to a minute."""
    return min(60.0, 2.0**attempts)


def charged_words(consumed) -> str:
    credits = ledger.as_credits(consumed)
    if credits is None:
        return "API in One ran this job (it did not say what it charged)"
    return f"API in One charged {ledger.fmt(credits)} credits"


# -- sweep --------------------------------------------------------------------------------------


WAVEFORMS_PER_SWEEP = 5


def draw_missing_waveforms(limit: int = WAVEFORMS_PER_SWEEP) -> int:
    """Draws the waveform of kept sounds that have none (kept before the studio drew them), a
    few at a time. Taken in random order: a sound ffmpeg cannot read stays without one and is
    tried again later, but never holds up the others."""
    drawn = 0
    waiting = GenerationFile.objects.filter(kind="audio", preview="").order_by("?")[: limit * 2]
    for result in waiting:
        if drawn >= limit:
            break
        try:
            with result.file.open("rb") as handle:
                picture = previews.waveform(handle.read())
        except (OSError, ValueError):
            picture = None
        if picture is None:
            continue
        result.preview.save(f"{result.filename}.preview.webp", ContentFile(picture), save=False)
        GenerationFile.objects.filter(pk=result.pk, preview="").update(preview=result.preview.name)
        drawn += 1
    return drawn


def sweep() -> None:
    """Ends honestly what got stuck. Scheduled every minute by the data migration
    generations/migrations/0003_sweep_schedule.py (a django-q2 Schedule row; `manage.py
    qcluster` runs it)."""
    now = timezone.now()
    # Deleted results past their retention: their files go (a few hundred a minute).
    Generation.objects.purge_deleted(now)
    # Sounds kept before waveforms were drawn get theirs, a few a minute.
    draw_missing_waveforms()
    # Queued but never picked up (the enqueue was lost with a crashed web process).
    for pk in Generation.objects.filter(
        state=State.QUEUED, created_at__lt=now - timedelta(seconds=60)
    ).values_list("pk", flat=True):
        async_task("generations.tasks.submit", pk)
    # A submit that outlived any worker: it may or may not have reached the upstream.
    stale_submit = now - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 30)
    for generation in Generation.objects.filter(
        state=State.SUBMITTING, submitted_at__lt=stale_submit
    ):
        generation.mark_unconfirmed(
            "The studio lost track of this job while sending it; it won't resend it.",
            _give_up_at(generation),
        )
    for generation in Generation.objects.filter(state=State.RUNNING):
        limit = timedelta(seconds=generation.deadline_seconds())
        if now - (generation.accepted_at or generation.created_at) < limit:
            continue
        minutes = round(limit.total_seconds() / 60)
        generation.fail(
            "timeout",
            f"API in One did not finish this job within {minutes} minutes; the studio stopped "
            "waiting for it (it keeps the hold until API in One says what it charged).",
            from_states=[State.RUNNING],
            keep_bill=True,
        )
    # Followed for their bill a day after they ended and the upstream still has not said: it
    # never finished them (it charges only what it finishes), so their holds come back.
    for generation in Generation.objects.filter(
        billing_open=True, finished_at__lt=now - BILL_WAIT
    ).exclude(upstream_task_id__isnull=True):
        generation.close_bill(False, None, "API in One never said it finished this job.")
    for generation in Generation.objects.filter(state=State.UNKNOWN, next_check_at__lt=now):
        minutes = round(generation.deadline_seconds() / 60)
        generation.fail(
            "unconfirmed",
            f"API in One never confirmed this job within {minutes} minutes.",
            from_states=[State.UNKNOWN],
        )
    # Canceled while it may have been sent, and no task id ever came (its create's answer was
    # lost): past its deadline the upstream cannot have it running, so its hold comes back.
    for generation in Generation.objects.filter(
        state=State.CANCELED,
        billing_open=True,
        upstream_task_id__isnull=True,
        next_check_at__lt=now,
    ):
        generation.close_bill(
            False, None, "Canceled while being sent; API in One never confirmed it."
        )
    _judge_callbacks(now)
    if Generation.objects.followed().exists():
        kick_poller()


def _give_up_at(generation: Generation):
    """An unconfirmed job waits this long for the service to confirm it (a callback)."""
    return timezone.now() + timedelta(seconds=generation.deadline_seconds())


def reconcile(generation: Generation, task_id: str) -> bool:
    """An unconfirmed job (its create's answer was lost) and a task id a callback named: adopt
    the task only if the upstream itself, looked up with our key, shows it is this job's
    request. Nothing in the callback is believed. A job canceled meanwhile (followed for its
    bill) is not adopted but learns its task, so it is billed what the upstream charges."""
    bill_only = generation.state == State.CANCELED and generation.billing_open
    if not (generation.state in TRANSITIONS["adopt"][0] or bill_only):
        return False
    if not generation.request_body:
        return False
    if Generation.objects.filter(upstream_task_id=task_id).exists():
        return False
    try:
        task = client.get_task(_account(generation), task_id)
    except UpstreamError:
        return False
    sent = {k: v for k, v in generation.request_body.items() if k != "callback_url"}
    seen = {k: v for k, v in (task.raw.get("request") or {}).items() if k != "callback_url"}
    if sent != seen:
        return False
    if bill_only:  # canceled meanwhile: the task's charge is its bill
        adopted = generation.follow_bill_of(task.task_id)
    else:
        adopted = generation.adopt(task.task_id)
    if adopted:
        kick_poller()
    return adopted


def callback_arrived(generation: Generation) -> None:
    """A callback with the job's token arrived: callbacks reach the studio for its key. When
    that makes them trusted, the key's other jobs waiting on the normal schedule wait for their
    callbacks instead (looked up when theirs should have come)."""
    noted = Generation.objects.filter(
        pk=generation.pk, callback_state__in=["offered", "missed"]
    ).update(callback_state="arrived")
    if not (noted and generation.rate_key):
        return
    if CallbackRecord.note(generation.rate_key, arrived=True):
        Generation.objects.followed().filter(
            rate_key=generation.rate_key,
            callback_state="offered",
            callback_due_at__gt=F("next_check_at"),
        ).update(next_check_at=F("callback_due_at"))


def _judge_callbacks(now) -> None:
    """A job the upstream finished CALLBACK_GRACE ago whose callback never came: a miss for its
    key. When misses stop the key's callbacks being counted on, its jobs waiting for theirs are
    looked up on the normal schedule from now."""
    for generation in Generation.objects.filter(
        callback_state="offered", upstream_done_at__lt=now - CALLBACK_GRACE
    ).only("pk", "rate_key"):
        missed = Generation.objects.filter(pk=generation.pk, callback_state="offered").update(
            callback_state="missed"
        )
        untrusted = (
            missed
            and generation.rate_key
            and CallbackRecord.note(generation.rate_key, arrived=False)
        )
        if untrusted:
            Generation.objects.followed().filter(
                rate_key=generation.rate_key, callback_state="offered", next_check_at__gt=now
            ).update(next_check_at=now)


def nudge(generation: Generation) -> None:
    """A callback arrived: look the job up now (the callback itself is never trusted)."""
    Generation.objects.filter(
        pk=generation.pk, state=State.RUNNING, next_check_at__gt=timezone.now()
    ).update(next_check_at=timezone.now())
    kick_poller()
