from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from generations import catalog


@login_required
@require_GET
def create(request: HttpRequest) -> HttpResponse:
    kinds = [(kind, label, catalog.for_kind(kind)) for kind, label in catalog.KINDS]
    return TemplateResponse(request, "generations/create.html", {"kinds": kinds})
