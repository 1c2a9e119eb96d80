from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from studio.models import Membership


class WorkspaceMiddleware:
    """Puts the signed-in user's current membership on the request as `request.membership`.

    Lazy, so requests that never look at it (static files, healthz) cost no query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
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

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
