"""The Create page: pick a kind and a model, fill its form, see the cost, run it."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap

from generations import actions, catalog, remix
from generations.forms import GenerationForm
from generations.models import Generation
from generations.views import HtmxHttpRequest, current_workspace, get_job_model
from studio import ledger
from studio.access import require_spender

WAITING_SHOWN = 5  # jobs awaiting approval on an admin's Create page; the rest on Approvals


def _kinds() -> list[tuple[str, str, list[catalog.ModelSpec]]]:
    return [
        (kind, label, [s for s in catalog.for_kind(kind) if s.async_task])
        for kind, label in catalog.KINDS
        if any(s.async_task for s in catalog.for_kind(kind))
    ]


def _my_jobs(request: HtmxHttpRequest) -> list[Generation]:
    """A member's own recent jobs; a viewer (who runs none) sees the workspace's."""
    jobs = Generation.objects.visible_to(request.user, request.membership)
    if request.membership.can_spend:
        jobs = jobs.filter(user=request.user)
    return jobs.order_by("-created_at", "-pk").first_cards(12)


def _page(request: HtmxHttpRequest, spec: catalog.ModelSpec | None, form=None, status=200):
    context = {
        "kinds": _kinds(),
        "spec": spec,
        "form": form,
        "jobs": _my_jobs(request),
        "kind": spec.kind if spec else request.GET.get("kind", "image"),
        "batched": True,  # its running cards are refreshed together (jobs.cards), not each alone
    }
    if request.membership.can_manage:  # what waits for this admin's decision, oldest first
        waiting = Generation.objects.for_workspace(request.membership.workspace).waiting()
        context["waiting_jobs"] = waiting.select_related("user").first_cards(WAITING_SHOWN)
    if request.membership.can_spend:  # what is left to spend: the member's budget, the pool
        workspace = request.membership.workspace
        workspace.refresh_from_db(fields=["pool_enabled", "pool_balance"])  # after a Run's hold
        context["allowance"] = ledger.allowance(workspace, request.user.pk)
    if spec and form is not None:
        context["main_blocks"], context["advanced_blocks"] = form.blocks()
        context["open_advanced"] = form.shows_advanced(context["advanced_blocks"])
        context["estimate"] = form.estimate()
        context["blocked_by"] = form.estimate_blocked_by() if form.is_bound else ""
        context["run_notes"] = form.run_notes()
        context["copies"] = form.copies_asked()
    template = "generations/create.html"
    if request.htmx and request.htmx.target == "model-panel":
        template += "#model-panel"
    return TemplateResponse(request, template, context, status=status)


@login_required
@require_GET
def create(request: HtmxHttpRequest) -> HttpResponse:
    slug = request.GET.get("model")
    current_workspace(request)
    if not slug or not request.membership.can_spend:
        return _page(request, None)
    spec = get_job_model(slug)
    source = _remix_source(request)
    if source is not None:  # Remix: the form filled from an earlier job
        plan = remix.plan(source, spec)
        form = GenerationForm(spec, request.membership, initial=plan.initial, rows=plan.rows)
        form.preselect(plan.picks)
        response = _page(request, spec, form)
        response.context_data["remix"] = plan
        if plan.same_job and source.params.get("seed") not in (None, ""):
            response.context_data["same_result"] = source  # nothing changed yet: the same
        return response
    form = GenerationForm(spec, request.membership)
    if request.GET.get("input"):  # "Use in…" from the gallery: that result as the input
        form.use_result(request.GET["input"])
    return _page(request, spec, form)


def _remix_source(request: HtmxHttpRequest) -> Generation | None:
    """The job named by `?remix=<code>`, if this member may see it."""
    try:
        code = uuid.UUID(request.GET.get("remix", ""))
    except ValueError:
        return None
    jobs = Generation.objects.visible_to(request.user, request.membership)
    return jobs.filter(code=code).first()


@login_required
@require_POST
def run(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    require_spender(request)
    spec = get_job_model(slug)
    workspace = current_workspace(request)
    form = GenerationForm(spec, request.membership, request.POST, request.FILES)
    if not form.is_valid():
        return _refused(request, spec, form)
    token = form.cleaned_data["token"]
    mine = Generation.objects.filter(workspace=workspace, user=request.user)
    existing = mine.filter(token=token).first()
    if existing is None:
        try:
            existing = _start_copies(request, spec, form)
        except ledger.BudgetExceeded as e:  # nothing was created, nothing is sent
            form.add_error(None, str(e))
            return _refused(request, spec, form)
        except IntegrityError:  # the same form, sent twice at once: the first one won
            existing = mine.get(token=token)
    if request.htmx:
        fresh = GenerationForm(spec, request.membership, initial=_initial_from(form))
        response = _page(request, spec, fresh)
        # The new cards, first at the top (on a phone they land below the form, out of sight).
        sent = mine.filter(batch=existing.batch) if existing.batch else [existing]
        response.context_data["new_jobs"] = sorted(sent, key=lambda job: -job.pk)
        return reswap(response, "outerHTML show:#my-jobs-title:top")
    messages.success(request, f"{spec.name} is on its way.")
    return redirect("generation", code=existing.code)


def _start_copies(request: HtmxHttpRequest, spec: catalog.ModelSpec, form: GenerationForm):
    """Starts the form's job, or its N copies (Run ×N: one hold each, all or none, sharing a
    batch; a fixed seed moves on by one for each copy, or they would all be the same)."""
    copies = form.cleaned_data.get("copies") or 1
    token = form.cleaned_data["token"]
    batch = uuid.uuid4() if copies > 1 else None
    with transaction.atomic():
        params = form.save_uploads(request.user)
        if copies > 1:  # said before any hold: the whole set, not "this job"
            total = sum(spec.estimate(p) for p in form.copy_params(params, copies))
            refused = ledger.refusal(request.membership.workspace, request.user.pk, total)
            if refused:
                raise ledger.BudgetExceeded(
                    refused.replace("This job needs", f"These {copies} jobs need", 1)
                )
        jobs = [
            actions.start_job(
                workspace=request.membership.workspace,
                user=request.user,
                model_slug=spec.slug,
                kind=spec.kind,
                params=copy,
                estimate=spec.estimate(copy),
                token=token if i == 0 else f"{token}.{i + 1}",
                private=form.cleaned_data.get("private", False),
                batch=batch,
            )
            for i, copy in enumerate(form.copy_params(params, copies))
        ]
    return jobs[0]


def _refused(request: HtmxHttpRequest, spec: catalog.ModelSpec, form: GenerationForm):
    """The form again with its messages in place (htmx swaps 200s only), scrolled to the first
    one: the Run button is at the bottom, and on a phone the top of the form is out of sight."""
    response = _page(request, spec, form)
    if request.htmx:
        reswap(response, "outerHTML show:.form-errors,.field-invalid,#copies-error:top")
    return response


def _initial_from(form: GenerationForm) -> dict:
    """A fresh form (new token) keeping what the person typed, so a variation is one edit."""
    keep = {k: v for k, v in form.cleaned_data.items() if k != "token" and "__" not in k}
    keep.pop("copies", None)  # a set is asked for each time
    return {k: v for k, v in keep.items() if v not in (None, "")}


@login_required
@require_POST
def estimate(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    require_spender(request)
    spec = get_job_model(slug)
    # The answer shows a price, not the form: no page of gallery thumbnails to read for it.
    form = GenerationForm(spec, request.membership, request.POST, list_picks=False)
    context = {
        "estimate": form.estimate(),
        "blocked_by": form.estimate_blocked_by(),
        "run_notes": form.run_notes(),
        "same_result": form.same_result(),
        "copies": form.copies_asked(),
        "spec": spec,
    }
    return TemplateResponse(request, "generations/create.html#estimate", context)


@login_required
@require_http_methods(["POST"])
def rows(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Adds or removes a row (a dialogue line, a video shot) and shows the form again."""
    require_spender(request)
    spec = get_job_model(slug)
    action = request.POST.get("rows", "")
    name, _, sign = action.partition(":")
    param = spec.param(name)
    if param is None:
        raise Http404("No such field")
    probe = GenerationForm(spec, request.membership, request.POST, list_picks=False)
    count = probe.row_counts.get(name, 1) + (1 if sign == "add" else -1)
    form = GenerationForm(spec, request.membership, request.POST, rows={name: count})
    form.skip_validation()  # rows changed, nothing was submitted: no errors to show yet
    response = _page(request, spec, form)
    response.context_data["focus"] = f"{sign}-{name}"  # the keyboard stays on the button
    return response
