"""The "From the gallery" picker of a Create form: more thumbnails ("Load more") and a search by
prompt words, as a fragment of radio buttons or checkboxes that post the form's own values."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from generations.forms import PICK_KINDS, Picks, pick_page, thumb
from generations.models import Generation, GenerationFile
from generations.views import HtmxHttpRequest, get_job_model
from studio.access import require_spender


@login_required
@require_GET
def picks(request: HtmxHttpRequest, slug: str, name: str) -> HttpResponse:
    """`?after=<job code>`: the page after that job; `?q=`: only jobs whose prompt holds these
    words. The files already chosen (`<name>__pick`, sent back) lead a search's answer, so that
    it keeps them, and are left out of a "Load more" page, which would show them twice.
    Only what this member may see: other workspaces' and other people's private jobs never."""
    membership = require_spender(request)
    param = get_job_model(slug).param(name)
    if param is None or param.kind not in PICK_KINDS:
        raise Http404("No such input")
    kind = PICK_KINDS[param.kind]
    visible = Generation.objects.visible_to(request.user, membership)
    words = request.GET.get("q", "").strip()[:200]
    after = visible.by_code(request.GET.get("after", ""))  # unknown: start over
    chosen = [v for v in request.GET.getlist(f"{name}__pick") if v.isascii() and v.isdigit()]
    kept = list(
        GenerationFile.objects.filter(generation__in=visible, kind=kind, pk__in=chosen[:20])
        .select_related("generation")
        .order_by("-generation__created_at", "position")
    )
    skip = frozenset(f.pk for f in kept)
    if after is not None:  # "Load more": what is chosen is shown already, above this page
        kept = []
    files, more = pick_page(visible, kind, after=after, words=words, skip=skip)
    context = {
        "picks": Picks(
            field=None,
            name=f"{name}__pick",
            multiple=param.kind == "image_urls",
            thumbs=[*(thumb(f, checked=True) for f in kept), *map(thumb, files)],
            url=request.path,
            after=str(more.code) if more else "",
            words=words,
        )
    }
    response = TemplateResponse(request, "generations/_block.html#thumbs", context)
    response["Cache-Control"] = "private, no-store"
    return response
