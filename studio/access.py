"""Who may do what in the current workspace. For anyone else the page does not exist (404)."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from studio.models import Membership


def manager_membership(request: HttpRequest) -> Membership:
    """The current membership if it manages the workspace (owner or admin); else 404."""
    membership = request.membership
    if not membership or not membership.can_manage:
        raise Http404("No such page")
    return membership


def require_spender(request: HttpRequest) -> Membership:
    """The current membership if it may run jobs and spend credits (owners, admins, members);
    viewers browse, and for them the page does not exist."""
    membership = request.membership
    if not membership or not membership.can_spend:
        raise Http404("Viewers cannot create")
    return membership


def safe_next(request: HttpRequest, default: str = "") -> str:
    """The `next` a form or link asked to go to, if it is a path on this site; else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default
