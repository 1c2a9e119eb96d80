"""The gallery: every result kept in the workspace, searchable by the words of its prompt, by
kind, model and who made it, and reusable (open, download, pick as an input in a new job)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
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
    current_workspace(request)
    form = GalleryFilters(request.GET)
    jobs = Generation.objects.visible_to(request.user, request.membership).results()
    jobs = form.apply(jobs, request.user) if form.is_valid() else jobs.none()
    jobs = jobs.select_related("user").prefetch_related(
        Prefetch("files", queryset=GenerationFile.objects.order_by("position"))
    )
    page = Paginator(jobs, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "generations/gallery.html"
    if request.htmx and request.htmx.target == "gallery-results":
        template += "#results"
    context = {"form": form, "page": page, "query": query.urlencode()}
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
