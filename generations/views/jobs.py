"""One generation: its page, its status card (polled by htmx while it runs), cancel, retry,
and its result files."""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import parse_etags
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from generations import actions, catalog, described
from generations.downloads import filename_for
from generations.models import Generation, State
from generations.views import HtmxHttpRequest, get_generation
from generations.views.files import stored_file
from studio import ledger
from studio.access import manager_membership, require_spender, safe_next

RESULT_CACHE = "private, max-age=31536000, immutable"  # a result never changes


def _card(request: HtmxHttpRequest, generation: Generation) -> TemplateResponse:
    return TemplateResponse(
        request, "generations/detail.html#status-card", {"generation": generation}
    )


@login_required
@require_GET
def detail(request: HtmxHttpRequest, code) -> HttpResponse:
    generation = get_generation(request, code)
    context = {
        "generation": generation,
        "params": described.describe(generation, request.user, request.membership),
        "lineage": described.lineage(generation, request.user, request.membership),
    }
    if generation.batch:  # one of a Run ×N set: the others, as the person may see them
        context["set"] = list(
            Generation.objects.visible_to(request.user, request.membership)
            .filter(batch=generation.batch)
            .prefetch_related("files")
            .order_by("created_at", "pk")
        )
        # Compare shows up to 4: this one first, then the others of its set in order.
        others = [job for job in context["set"] if job.pk != generation.pk][:3]
        context["compare_query"] = urlencode(
            [("code", str(job.code)) for job in [generation, *others]]
        )
    context["deletable"] = (
        Generation.objects.deletable_by(request.user, request.membership)
        .filter(pk=generation.pk)
        .exists()
    )
    if request.membership.can_spend:  # Remix here, or on another model of its kind
        context["remix_targets"] = [
            spec
            for spec in catalog.for_kind(generation.kind)
            if spec.async_task and spec.slug != generation.model_slug
        ]
    return TemplateResponse(request, "generations/detail.html", context)


def _cards_etag(request: HtmxHttpRequest, jobs, *, batched: bool) -> str:
    """A weak ETag for polled cards: the same while each would read the same to this viewer
    (its seconds and progress bar are counted by the page). Weak: the HTML differs in its CSRF
    tokens' masks, not in meaning."""
    viewer = f"{request.user.pk}.{request.membership.role}"
    versions = ",".join(f"{job.code}:{job.card_version()}" for job in jobs)
    text = f"{settings.VERSION}|{viewer}|{batched}|{versions}"
    digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    return f'W/"{digest}"'


def _unchanged(request: HtmxHttpRequest, etag: str) -> HttpResponse | None:
    """304 when the browser already holds these cards as they are (it asks with the ETag it
    was given, and shows what it holds): nothing is rendered."""
    held = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
    if etag.removeprefix("W/") not in held:
        return None
    response = HttpResponseNotModified()
    response["ETag"] = etag
    response["Cache-Control"] = POLL_CACHE
    return response


def _polled(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    response["Cache-Control"] = POLL_CACHE
    return response


POLL_CACHE = "private, no-cache"  # kept by the browser, and asked again each time (ETag)


@login_required
@require_GET
def card(request: HtmxHttpRequest, code) -> HttpResponse:
    generation = get_generation(request, code)
    etag = _cards_etag(request, [generation], batched=False)
    return _unchanged(request, etag) or _polled(_card(request, generation), etag)


@login_required
@require_POST
def cancel(request: HtmxHttpRequest, code) -> HttpResponse:
    generation = get_generation(request, code)
    if generation.user_id != request.user.pk and not request.membership.can_manage:
        raise Http404("Only its author or an admin cancels a job")
    canceled = generation.cancel()
    if request.htmx:  # the card says it
        return _card(request, generation)
    if canceled:
        messages.info(request, "Canceled. If the service still finishes it, the result is dropped.")
    return redirect("generation", code=generation.code)


@login_required
@require_POST
def retry(request: HtmxHttpRequest, code) -> HttpResponse:
    """One's own failed (or canceled, or rejected) job, sent again as a new generation with the
    same parameters: through the same budget and approval checks as a first run. Not someone
    else's: an admin's Retry on a job they had just rejected would run it, unapproved."""
    require_spender(request)
    original = get_generation(request, code)
    if original.user_id != request.user.pk:
        raise Http404("Only its author retries a job")
    if original.state not in (State.FAILED, State.CANCELED):
        raise Http404("Only failed or canceled jobs are retried")
    token = request.POST.get("token", "")
    if not TOKEN.fullmatch(token):
        messages.error(request, "That Retry button was out of date: press Retry again.")
        if request.htmx:
            return HttpResponseClientRedirect(reverse("generation", args=[original.code]))
        return redirect("generation", code=original.code)
    try:
        again = _resubmit(request, original, f"retry-{token}")
    except ledger.BudgetExceeded as e:
        messages.error(request, str(e))
        if request.htmx:  # the message is on the job's page, not a page inside the card
            return HttpResponseClientRedirect(reverse("generation", args=[original.code]))
        return redirect("generation", code=original.code)
    own_page = reverse("generation", args=[original.code])
    if request.htmx and request.htmx.current_url_abs_path != own_page:
        return _card(request, again)  # beside the other cards (the Create page's list)
    # From the job's own page: the new job's page (its facts are not the old job's).
    if request.htmx:
        return HttpResponseClientRedirect(reverse("generation", args=[again.code]))
    return redirect("generation", code=again.code)


TOKEN = re.compile(r"[0-9a-f]{32}")  # the Retry form's one-time token (one_time_token)


def _resubmit(request: HtmxHttpRequest, original: Generation, token: str) -> Generation:
    """The retry a Retry form's token made, made once: a double click or six parallel posts of
    one form find the job the first one started. Everything its author chose carries over."""
    mine = Generation.objects.filter(workspace=original.workspace, user=request.user)
    existing = mine.filter(token=token).first()
    if existing is not None:
        return existing
    try:
        return actions.start_job(
            workspace=original.workspace,
            user=request.user,
            model_slug=original.model_slug,
            kind=original.kind,
            params=original.params,
            estimate=original.spec.estimate(original.params),
            token=token,
            private=original.private,
            retry_of=original,
        )
    except IntegrityError:  # the same form, sent twice at once: the first one won
        return mine.get(token=token)


@login_required
@require_POST
def approve(request: HtmxHttpRequest, code) -> HttpResponse:
    manager_membership(request)
    generation = get_generation(request, code)
    approved = actions.approve(generation, request.user)
    if request.htmx:  # the card says it; a message would wait for some later page
        generation.refresh_from_db()
        return _card(request, generation)
    if approved:
        messages.success(request, "Approved: it is on its way.")
    return redirect(safe_next(request, "approvals"))


@login_required
@require_POST
def reject(request: HtmxHttpRequest, code) -> HttpResponse:
    manager_membership(request)
    generation = get_generation(request, code)
    rejected = generation.reject(request.user, request.POST.get("reason", ""))
    if request.htmx:  # the card says it
        generation.refresh_from_db()
        return _card(request, generation)
    if rejected:
        messages.info(request, "Rejected: its hold is released.")
    return redirect(safe_next(request, "approvals"))


@login_required
@require_GET
def approvals(request: HtmxHttpRequest) -> HttpResponse:
    manager_membership(request)
    waiting = (
        Generation.objects.for_workspace(request.membership.workspace)
        .waiting()
        .select_related("user")
    )
    return TemplateResponse(request, "generations/approvals.html", {"waiting": waiting})


@login_required
@require_GET
def result_file(request: HtmxHttpRequest, code, position: int) -> HttpResponse:
    """A kept result, served only after the same check as its page."""
    generation = get_generation(request, code)
    result = generation.files.filter(position=position).first()
    if result is None:
        raise Http404("No such file")
    preview = request.GET.get("preview") == "1" and result.preview
    response = stored_file(
        result.preview if preview else result.file,
        "image/webp" if preview else result.content_type,
        filename=filename_for(generation, result),  # as in the zips: date, model, words
        download=request.GET.get("download") == "1",
        byte_range=request.headers.get("Range", ""),
    )
    # A job's result at a position never changes: the browser keeps it (its own cache only,
    # never a shared one) instead of asking again on every gallery page and card.
    response["Cache-Control"] = RESULT_CACHE
    return response


@login_required
@require_GET
def input_file(request: HtmxHttpRequest, code, name: str, index: int) -> HttpResponse:
    """A file a member uploaded as an input of a job, shown on the job's page: after the same
    check as the page (the upstream gets it by a signed link instead, see files.input_file)."""
    generation = get_generation(request, code)
    upload = described.uploaded_input(generation, name, index)
    if upload is None:
        raise Http404("No such input")
    response = stored_file(
        upload.file, upload.content_type, filename=upload.file.name.rsplit("/", 1)[-1]
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_POST
def star(request: HtmxHttpRequest, code) -> HttpResponse:
    """Stars a result for the workspace (the team's pick), or unstars it: `starred=1|0`. Anyone
    who may create in the workspace; a viewer only looks."""
    require_spender(request)
    generation = get_generation(request, code)
    generation.set_starred(request.POST.get("starred") == "1")
    if request.htmx:
        return TemplateResponse(request, "generations/_star.html", {"generation": generation})
    return redirect(safe_next(request, reverse("generation", args=[generation.code])))


CARDS_AT_ONCE = 24


@login_required
@require_GET
def cards(request: HtmxHttpRequest) -> HttpResponse:
    """The Create page's running cards (`?code=…` each), in one answer every 2 s instead of a
    request a card: each card replaces itself (out of band); codes not seen are left out."""
    codes = []
    for value in request.GET.getlist("code")[:CARDS_AT_ONCE]:
        with contextlib.suppress(ValueError):
            codes.append(uuid.UUID(value))
    jobs = Generation.objects.visible_to(request.user, request.membership).filter(code__in=codes)
    etag = _cards_etag(request, jobs.order_by("pk"), batched=True)
    unchanged = _unchanged(request, etag)
    if unchanged:
        return unchanged
    shown = list(jobs.select_related("workspace").for_cards())
    Generation.share_timings(shown)
    context = {"jobs": shown, "batched": True}
    return _polled(TemplateResponse(request, "generations/_cards.html", context), etag)
