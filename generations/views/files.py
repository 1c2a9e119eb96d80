"""Stored files as they are served: results and uploads to members (through their job's access
check, in jobs.py) and input files to the upstream by signed, expiring links (it has no login
of ours). Every one goes out through `stored_file`."""

from __future__ import annotations

import re

from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from generations import inputs
from generations.filetypes import FILE_CSP, INLINE_TYPES
from generations.models import GenerationFile, Upload

RANGE = re.compile(r"bytes=(\d*)-(\d*)")
CHUNK = 64 * 1024


def stored_file(
    stored, content_type: str, *, filename: str, download: bool = False, byte_range: str = ""
):
    """A stored file as a response that cannot run script on the studio's origin, whatever it
    holds: shown inline only when it is a raster image, video or audio file (by the type the
    studio sniffed), else a download; `nosniff` and a sandboxing CSP always. A `Range` request
    gets just those bytes (206), so that players can seek before the whole file has come."""
    inline = content_type in INLINE_TYPES and not download
    served_type = content_type if content_type in INLINE_TYPES else "application/octet-stream"
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("This file is no longer in the studio's storage.") from None
    wanted = _range(byte_range, stored.size)
    if wanted is None:
        response = FileResponse(
            handle, content_type=served_type, as_attachment=not inline, filename=filename
        )
    elif wanted == "unsatisfiable":
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{stored.size}"
    else:
        start, end = wanted
        response = StreamingHttpResponse(
            _read(handle, start, end), status=206, content_type=served_type
        )
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
        disposition = "inline" if inline else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    return response


def _range(header: str, size: int):
    """(first, last) byte of a single `bytes=` range; None to send the whole file (no header,
    or one the studio does not serve, such as several ranges); "unsatisfiable" past the end."""
    match = RANGE.fullmatch((header or "").strip())
    if not match or not (match[1] or match[2]):
        return None
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    else:  # the last N bytes
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


def _read(handle, start: int, end: int):
    with handle:
        handle.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


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
    response = stored_file(
        record.file, record.content_type, filename=name, byte_range=request.headers.get("Range", "")
    )
    response["Cache-Control"] = "private, max-age=600"
    response["X-Robots-Tag"] = "noindex"
    return response
