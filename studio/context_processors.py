from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpRequest

from generations.upstream import uses_sandbox


def _budget_alert(request: HttpRequest, membership) -> str | None:
    if not membership:
        return None
    from studio import ledger

    return ledger.alert(membership.workspace, request.user.pk)


def _approvals_waiting(membership) -> int:
    """Jobs waiting for an owner's or admin's approval (the header's count); 0 for others."""
    if not membership or not membership.can_manage:
        return 0
    from generations.models import Generation

    return Generation.objects.for_workspace(membership.workspace).waiting().count()


def studio(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    return {
        # Read only when a template shows them (a whole page's header), never for the htmx
        # fragments that are most requests (a status card polled every 2 s): templates call a
        # callable, and `cache` makes a second mention free.
        "budget_alert": functools.cache(lambda: _budget_alert(request, membership)),
        "approvals_waiting": functools.cache(lambda: _approvals_waiting(membership)),
        "STUDIO_VERSION": settings.VERSION,
        "STUDIO_OPEN_SIGNUP": settings.STUDIO_OPEN_SIGNUP,
        "DEBUG_MODE": settings.DEBUG,
        "USES_SANDBOX": uses_sandbox(membership.workspace if membership else None),
        "current_membership": membership if membership else None,
    }
