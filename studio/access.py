"""Who may do what in the current workspace. For anyone else the page does not exist (404)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from studio.models import Membership

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class StudioRequest(HttpRequest):
    """A request once the studio's middleware has run: the workspace membership it acts in
    (None for a visitor or someone in no workspace). Views behind login_required take it."""

    membership: Membership | None
    user: User


def manager_membership(request: StudioRequest) -> Membership:
    """The current membership if it manages the workspace (owner or admin); else 404."""
    membership = request.membership
    if not membership or not membership.can_manage:
        raise Http404("No such page")
    return membership


def require_spender(request: StudioRequest) -> Membership:
    """The current membership if it may run jobs and spend credits (owners, admins, members);
    viewers browse, and for them the page does not exist."""
    membership = request.membership
    if not membership or not membership.can_spend:
        raise Http404("Viewers cannot create")
    return membership


def safe_next(request: StudioRequest, default: str = "") -> str:
    """The `next` a form or link asked to go to, if it is a path on this site; else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def client_ip(request: StudioRequest) -> str:
    """The address of whoever sent the request. Behind STUDIO_TRUSTED_PROXIES reverse proxies,
    the address the nearest of them saw (X-Forwarded-For, counted from the right: entries
    further left are the client's own word, which anyone can forge)."""
    proxies = settings.STUDIO_TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def axes_client_ip(request: StudioRequest) -> str:
    """django-axes' AXES_CLIENT_IP_CALLABLE: the same address every other throttle uses."""
    return client_ip(request)
