"""Who may do what in the current workspace. For anyone else the page does not exist (404)."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from studio.models import Membership


def manager_membership(request: HttpRequest) -> Membership:
    """The current membership if it manages the workspace (owner or admin); else 404."""
    membership = request.membership
    if not membership or not membership.can_manage:
        raise Http404("No such page")
    return membership
