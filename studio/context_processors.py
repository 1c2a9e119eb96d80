from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from generations.upstream import uses_sandbox


def studio(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    budget_alert = None
    if membership:
        from studio import ledger

        budget_alert = ledger.alert(membership.workspace, request.user.pk)
    return {
        "budget_alert": budget_alert,
        "STUDIO_VERSION": settings.VERSION,
        "STUDIO_OPEN_SIGNUP": settings.STUDIO_OPEN_SIGNUP,
        "DEBUG_MODE": settings.DEBUG,
        "USES_SANDBOX": uses_sandbox(membership.workspace if membership else None),
        "current_membership": membership if membership else None,
    }
