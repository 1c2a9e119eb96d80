"""Addresses browsers ask for by themselves."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """/favicon.ico, asked for by browsers and feed readers that never read the page's <link
    rel="icon">: the page's own icon (its hashed name, so a new icon is not held back)."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
