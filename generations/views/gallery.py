"""The gallery: every result kept in the workspace, searchable by the words of its prompt, by
kind, model and who made it, and reusable (open, download, pick as an input in a new job)."""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from generations import catalog
from generations.forms import PICK_KINDS, GalleryFilters, ShareLinkForm, TagForm
from generations.models import Generation, GenerationFile, Tag
from generations.views import HtmxHttpRequest, current_workspace
from generations.views.downloads import MAX_CHOSEN, chosen_codes
from studio.access import require_spender, safe_next

PER_PAGE = 24


@login_required
@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    """Newest first, PER_PAGE at a time: `?after=<job code>` is the page after that job (the
    "Load more" at the end of the grid, a plain `rel=next` link without JavaScript). No count and
    no OFFSET: at 100,000 results both cost a scan of the workspace on every page."""
    current_workspace(request)
    form = GalleryFilters(request.GET, membership=request.membership)
    visible = Generation.objects.visible_to(request.user, request.membership)
    jobs = visible.results()
    jobs = form.apply(jobs, request.user) if form.is_valid() else jobs.none()
    after = visible.by_code(request.GET.get("after", "")) if "after" in request.GET else None
    jobs = (
        jobs.older_than(after)
        .select_related("user")
        .prefetch_related(
            Prefetch("files", queryset=GenerationFile.objects.order_by("position")),
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
        )
    )
    page = list(jobs[: PER_PAGE + 1])
    query = request.GET.copy()
    for name in ("after", "page"):
        query.pop(name, None)
    query = query.urlencode()
    next_url = ""
    if len(page) > PER_PAGE:
        page = page[:PER_PAGE]
        next_url = f"?{query}&after={page[-1].code}" if query else f"?after={page[-1].code}"
    _mark_sets(page, visible)
    template = "generations/gallery.html"
    if request.htmx and request.htmx.target == "gallery-results":
        template += "#results"
    elif request.htmx and request.htmx.target == "gallery-more":
        template += "#items"  # the next page's results, and the next "Load more"
    context = {
        "form": form,
        "jobs": page,
        "after": after,
        "next_url": next_url,
        "newest_url": f"?{query}" if query else "?",
        "query": query,
    }
    board = form.chosen_board
    if board is not None:  # the gallery of one board: its name, its share links
        context["board"] = board
        context["share_links"] = [
            (link, request.build_absolute_uri(reverse("shared-board", args=[link.token])))
            for link in board.share_links.order_by("-created_at")[:20]
        ]
        context["share_form"] = ShareLinkForm()
    if request.membership.can_spend:
        context["uses"] = _uses()
        context["undo_codes"] = _undo(request)
        context["board_choices"] = list(form.boards.values())
    context["tag_names"] = form.tag_names
    return TemplateResponse(request, template, context)


@login_required
@require_POST
def star_chosen(request: HtmxHttpRequest) -> HttpResponse:
    """Stars (`starred=1`) or unstars the results chosen in the gallery (`code`, repeated, up to
    MAX_CHOSEN): those this member may see in their workspace, whatever else is asked for. A
    viewer only looks."""
    require_spender(request)
    codes = chosen_codes(request.POST.getlist("code"))[:MAX_CHOSEN]
    starred = request.POST.get("starred") == "1"
    jobs = Generation.objects.visible_to(request.user, request.membership).results()
    chosen = jobs.filter(code__in=codes)
    count = chosen.count()
    chosen.exclude(starred=starred).update(starred=starred)
    if not count:
        messages.error(request, "Tick at least one result first.")
    else:
        verb = "Starred" if starred else "Unstarred"
        messages.success(request, f"{verb} {count} result{pluralize(count)}.")
    return redirect(safe_next(request, reverse("gallery")))


@login_required
@require_POST
def tag_chosen(request: HtmxHttpRequest) -> HttpResponse:
    """Puts the tags typed (`tags`, comma-separated) on the chosen results (`code`): those this
    member may see. `untag=1`: takes them off instead."""
    membership = require_spender(request)
    codes = chosen_codes(request.POST.getlist("code"))[:MAX_CHOSEN]
    form = TagForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.errors["tags"]))
        return redirect(safe_next(request, reverse("gallery")))
    visible = Generation.objects.visible_to(request.user, membership).results()
    chosen = list(visible.filter(code__in=codes).values_list("pk", flat=True))
    if not chosen:
        messages.error(request, "Tick at least one result first.")
        return redirect(safe_next(request, reverse("gallery")))
    names = form.cleaned_data["tags"]
    Link = Tag.results.through
    if request.POST.get("untag") == "1":
        tags = Tag.objects.filter(workspace=membership.workspace, name__in=names)
        Link.objects.filter(tag__in=tags, generation_id__in=chosen).delete()
        messages.success(
            request, f"Took “{', '.join(names)}” off {len(chosen)} result{pluralize(len(chosen))}."
        )
    else:
        tags = Tag.named(membership.workspace, names)
        Link.objects.bulk_create(
            [Link(tag=tag, generation_id=pk) for tag in tags for pk in chosen],
            ignore_conflicts=True,
        )
        spelled = ", ".join(tag.name for tag in tags)
        messages.success(
            request, f"Tagged {len(chosen)} result{pluralize(len(chosen))} “{spelled}”."
        )
    return redirect(safe_next(request, reverse("gallery")))


UNDO_SECONDS = 15 * 60  # how long the gallery offers to undo a delete


@login_required
@require_POST
def delete_chosen(request: HtmxHttpRequest) -> HttpResponse:
    """Deletes the chosen results (`code`, repeated) that this member may delete: their own, or
    any for an admin. Soft: the gallery offers Undo for a while, and restoring stays possible
    until the retention period ends; what they cost stays in the ledger."""
    require_spender(request)
    codes = chosen_codes(request.POST.getlist("code"))[:MAX_CHOSEN]
    mine = Generation.objects.deletable_by(request.user, request.membership)
    chosen = list(mine.filter(code__in=codes).values_list("code", flat=True))
    Generation.objects.filter(code__in=chosen).soft_delete(request.user)
    if not chosen:
        messages.error(request, "None of those results is one you may delete.")
    else:
        request.session["undo_delete"] = {
            "codes": [str(code) for code in chosen],
            "until": time.time() + UNDO_SECONDS,
            "workspace": request.membership.workspace_id,
        }
        skipped = len(codes) - len(chosen)
        note = f" ({skipped} made by others were left: only admins delete those)" if skipped else ""
        messages.success(request, f"Deleted {len(chosen)} result{pluralize(len(chosen))}{note}.")
    return redirect(safe_next(request, reverse("gallery")))


@login_required
@require_POST
def restore_chosen(request: HtmxHttpRequest) -> HttpResponse:
    """Undo: the deleted results named (`code`) back in the gallery, those this member may
    delete and whose files are still kept."""
    require_spender(request)
    codes = chosen_codes(request.POST.getlist("code"))[:MAX_CHOSEN]
    deleted = Generation.objects.deletable_by(request.user, request.membership, deleted=True)
    restored = deleted.filter(code__in=codes).restore()
    request.session.pop("undo_delete", None)
    if restored:
        messages.success(request, f"Restored {restored} result{pluralize(restored)}.")
    else:
        messages.error(request, "Nothing to restore: those results are here, or gone for good.")
    return redirect(safe_next(request, reverse("gallery")))


def _undo(request: HtmxHttpRequest) -> list[str]:
    """The codes of this member's last delete in this workspace while it may still be undone."""
    last = request.session.get("undo_delete") or {}
    fresh = last.get("until", 0) > time.time()
    if fresh and last.get("workspace") == request.membership.workspace_id:
        return list(last.get("codes") or [])
    return []


def _mark_sets(jobs: list[Generation], visible) -> None:
    """`set_size` on each job: how many results its Run ×N set has (one query, only when a
    page holds a set)."""
    batches = {job.batch for job in jobs if job.batch}
    sizes = {}
    if batches:
        rows = visible.results().filter(batch__in=batches).order_by().values("batch")
        sizes = {row["batch"]: row["n"] for row in rows.annotate(n=Count("pk"))}
    for job in jobs:
        job.set_size = sizes.get(job.batch, 1)


def _uses() -> dict[str, list[catalog.ModelSpec]]:
    """For each kind of result, the models that take one as an input ("Use in…")."""
    uses: dict[str, list[catalog.ModelSpec]] = {}
    for spec in catalog.MODELS.values():
        for kind in {PICK_KINDS[p.kind] for p in spec.params if p.kind in PICK_KINDS}:
            uses.setdefault(kind, []).append(spec)
    return uses
