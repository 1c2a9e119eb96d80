"""Downloads of many results at once: a zip of the ones chosen in the gallery, or of all that
its search shows, streamed as it is written."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from generations import downloads
from generations.forms import GalleryFilters
from generations.models import Generation
from generations.views import HtmxHttpRequest, current_workspace
from studio.access import safe_next

MAX_CHOSEN = 1000  # results chosen one by one in one download (a search takes any number)


@login_required
@require_http_methods(["GET", "POST"])
def gallery_zip(request: HtmxHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """POST `code` (repeated): those results; GET: all that the gallery's filters show. Only
    what the person may see in their current workspace, whatever is asked for."""
    workspace = current_workspace(request)
    jobs = Generation.objects.visible_to(request.user, request.membership).results()
    if request.method == "POST":
        codes = chosen_codes(request.POST.getlist("code"))
        if not codes:  # the gallery's button is disabled until one is ticked (JavaScript)
            messages.error(request, "Tick at least one result to download first.")
            return redirect(safe_next(request, reverse("gallery")))
        if len(codes) > MAX_CHOSEN:
            return HttpResponse(
                f"Up to {MAX_CHOSEN} chosen results go in one zip; for more, download a search.",
                status=400,
            )
        jobs = jobs.filter(code__in=codes)
    else:
        form = GalleryFilters(request.GET, membership=request.membership)
        if not form.is_valid():
            return HttpResponse("These filters are not valid: " + form.errors.as_text(), status=400)
        jobs = form.apply(jobs, request.user)
    name = f"{slugify(workspace.name) or 'gallery'}-{timezone.now():%Y-%m-%d-%H%M}.zip"
    response = StreamingHttpResponse(downloads.stream(jobs), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def chosen_codes(values: list[str]) -> list[uuid.UUID]:
    codes = []
    for value in values:
        try:
            codes.append(uuid.UUID(value))
        except ValueError:
            continue  # not a job's code: nothing of it can be downloaded
    return codes
