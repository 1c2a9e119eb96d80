"""The gallery: every result kept in the workspace, searchable by the words of its prompt, by
kind, model and who made it, and reusable (open, download, pick as an input in a new job)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from generations import catalog
from generations.forms import PICK_KINDS
from generations.models import Generation, GenerationFile
from generations.views import HtmxHttpRequest, current_workspace

PER_PAGE = 24


class GalleryFilters(forms.Form):
    q = forms.CharField(
        label="Search prompts", required=False, max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. red fox"}),
    )  # fmt: skip
    kind = forms.ChoiceField(label="Kind", required=False)
    model = forms.ChoiceField(label="Model", required=False)
    mine = forms.BooleanField(label="Only mine", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        media = [(k, label) for k, label in catalog.KINDS if k != "chat"]
        self.fields["kind"].choices = [("", "All kinds"), *media]
        self.fields["model"].choices = [("", "All models")] + [
            (spec.slug, spec.name) for spec in catalog.MODELS.values() if spec.async_task
        ]

    def apply(self, jobs, user):
        data = self.cleaned_data
        if data.get("q"):
            jobs = jobs.search(data["q"])
        if data.get("kind"):
            jobs = jobs.filter(kind=data["kind"])
        if data.get("model"):
            jobs = jobs.filter(model_slug=data["model"])
        if data.get("mine"):
            jobs = jobs.filter(user=user)
        return jobs


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
