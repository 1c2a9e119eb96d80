"""Input files handed to the upstream by signed, expiring links (it has no login of ours)."""

from __future__ import annotations

from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from generations import inputs
from generations.models import GenerationFile, Upload


@require_GET
def input_file(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    try:
        kind, pk = inputs.unsign(token)
    except (signing.BadSignature, ValueError):
        raise Http404("This link is not valid or has expired.") from None
    model = Upload if kind == "u" else GenerationFile
    record = model.objects.filter(pk=pk).first()
    if record is None:
        raise Http404("Gone")
    response = FileResponse(record.file.open("rb"), content_type=record.content_type or None)
    response["Cache-Control"] = "private, max-age=600"
    response["X-Robots-Tag"] = "noindex"
    return response
