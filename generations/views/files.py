"""Stored files as they are served: results and uploads to members (through their job's access
check, in jobs.py) and input files to the upstream by signed, expiring links (it has no login
of ours). Every one goes out through `stored_file`."""

from __future__ import annotations

from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from generations import inputs
from generations.filetypes import FILE_CSP, INLINE_TYPES
from generations.models import GenerationFile, Upload


def stored_file(stored, content_type: str, *, filename: str, download: bool = False):
    """A stored file as a response that cannot run script on the studio's origin, whatever it
    holds: shown inline only when it is a raster image, video or audio file (by the type the
    studio sniffed), else a download; `nosniff` and a sandboxing CSP always."""
    inline = content_type in INLINE_TYPES and not download
    response = FileResponse(
        stored.open("rb"),
        content_type=content_type if content_type in INLINE_TYPES else "application/octet-stream",
        as_attachment=not inline,
        filename=filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    return response


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
    name = record.file.name.rsplit("/", 1)[-1]
    response = stored_file(record.file, record.content_type, filename=name)
    response["Cache-Control"] = "private, max-age=600"
    response["X-Robots-Tag"] = "noindex"
    return response
