"""The gallery: every result kept in the workspace, searchable by the words of its prompt, by
kind, model and who made it, and reusable (open, download, pick as an input in a new job)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from generations import catalog
from generations.forms import PICK_KINDS, GalleryFilters
from generations.models import Generation, GenerationFile
from generations.views import HtmxHttpRequest, current_workspace

PER_PAGE = 24


@login_required
@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    """Newest first, PER_PAGE at a time: `?after=<job code>` is the page after that job (the
    "Load more" at the end of the grid, a plain `rel=next` link without JavaScript). No count and
    no OFFSET: at 100,000 results both cost a scan of the workspace on every page."""
    current_workspace(request)
    form = GalleryFilters(request.GET)
    visible = Generation.objects.visible_to(request.user, request.membership)
    jobs = visible.results()
    jobs = form.apply(jobs, request.user) if form.is_valid() else jobs.none()
    after = visible.by_code(request.GET.get("after", "")) if "after" in request.GET else None
    jobs = (
        jobs.older_than(after)
        .select_related("user")
        .prefetch_related(Prefetch("files", queryset=GenerationFile.objects.order_by("position")))
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
    if request.membership.can_spend:
        context["uses"] = _uses()
    return TemplateResponse(request, template, context)


def _uses() -> dict[str, list[catalog.ModelSpec]]:
    """For each kind of result, the models that take one as an input ("Use in…")."""
    uses: dict[str, list[catalog.ModelSpec]] = {}
    for spec in catalog.MODELS.values():
        for kind in {PICK_KINDS[p.kind] for p in spec.params if p.kind in PICK_KINDS}:
            uses.setdefault(kind, []).append(spec)
    return uses
