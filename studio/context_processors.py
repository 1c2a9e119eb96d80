from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from generations.upstream import uses_sandbox


def studio(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    budget_alert = None
    waiting = 0
    if membership:
        from generations.models import Generation
        from studio import ledger

        budget_alert = ledger.alert(membership.workspace, request.user.pk)
        if membership.can_manage:  # the header tells owners and admins what waits for them
            waiting = Generation.objects.for_workspace(membership.workspace).waiting().count()
    return {
        "budget_alert": budget_alert,
        "approvals_waiting": waiting,
        "STUDIO_VERSION": settings.VERSION,
        "STUDIO_OPEN_SIGNUP": settings.STUDIO_OPEN_SIGNUP,
        "DEBUG_MODE": settings.DEBUG,
        "USES_SANDBOX": uses_sandbox(membership.workspace if membership else None),
        "current_membership": membership if membership else None,
    }
