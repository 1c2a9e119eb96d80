from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import GZipMiddleware
from django.shortcuts import resolve_url
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django_htmx.http import HttpResponseClientRedirect

from studio.access import StudioRequest
from studio.models import Membership


class WorkspaceMiddleware:
    """Puts the signed-in user's current membership on the request as `request.membership`.

    Lazy, so requests that never look at it (static files, healthz) cost no query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: StudioRequest) -> HttpResponse:
        def membership() -> Membership | None:
            if not request.user.is_authenticated:
                return None
            return Membership.current_for(request.user)

        request.membership = SimpleLazyObject(membership)
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Every response says which browser features the studio's pages never use
    (settings.PERMISSIONS_POLICY); Django has no setting of its own for it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: StudioRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session has ended would follow the redirect to the login page and
    swap that whole page into a fragment (a second header inside the form). Instead the browser
    is sent to log in, with `next` back to the page it was on (static/js/studio.js keeps what was
    typed in its forms across the trip). Runs after django-htmx (it reads request.htmx)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: StudioRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code != 302:
            return response
        login = resolve_url(settings.LOGIN_URL)
        if response["Location"].split("?", 1)[0] != login:
            return response
        back = htmx.current_url_abs_path or "/"
        redirect = HttpResponseClientRedirect(f"{login}?{urlencode({'next': back})}")
        patch_vary_headers(redirect, ["HX-Request"])
        return redirect


class HtmxVaryMiddleware:
    """Pages answer htmx with a fragment and a browser with the whole page, at the same address:
    every response says it varies by HX-Request, so the browser never shows a cached fragment
    as a page (Back after an htmx navigation did). A history restore (htmx asking for a page it
    has no snapshot of) is answered as a browser is: the whole page. Runs before django-htmx."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: StudioRequest) -> HttpResponse:
        if request.META.get("HTTP_HX_HISTORY_RESTORE_REQUEST") == "true":
            request.META.pop("HTTP_HX_REQUEST", None)
        response = self.get_response(request)
        patch_vary_headers(response, ["HX-Request"])
        return response


class CompressPagesMiddleware(GZipMiddleware):
    """Gzips the studio's pages, fragments and JSON (several times smaller) and nothing else:
    never media (compressed already, and a byte range of a gzipped body means nothing), never a
    stream (a chat reply's tokens must leave as they come, not wait in a compressor)."""

    COMPRESSED_TYPES = ("text/html", "application/json", "text/csv", "text/plain")

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        content_type = response.get("Content-Type", "").split(";")[0].strip()
        if response.streaming or content_type not in self.COMPRESSED_TYPES:
            return response
        return super().process_response(request, response)
