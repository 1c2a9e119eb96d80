"""Messages the studio sends people outside its pages: today, the email that tells a
workspace's owners and admins a job waits for their approval (when email is configured)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from generations.models import Generation, State

log = logging.getLogger(__name__)


def approval_needed(generation: Generation) -> int:
    """Emails the workspace's owners and admins (those with an address, not the author) that
    `generation` waits for them. Returns how many were sent; 0 when email is not configured or
    the job no longer waits (a retried task after someone already decided)."""
    from studio.models import MANAGERS, Membership

    if not settings.STUDIO_APPROVAL_EMAILS or generation.state != State.AWAITING_APPROVAL:
        return 0
    addresses = sorted(
        set(
            Membership.objects.filter(workspace_id=generation.workspace_id, role__in=MANAGERS)
            .exclude(user=generation.user)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if not addresses:
        return 0
    path = reverse("approvals")
    public = settings.STUDIO_PUBLIC_URL.rstrip("/")
    link = public + path if public else f"the studio's Approvals page ({path})"
    author = generation.user.username if generation.user else "A member"
    workspace = generation.workspace.name
    subject = f"[{workspace}] A job of {generation.estimate} credits waits for your approval"
    body = (
        f"{author} asked {generation.spec.name} for a job estimated at {generation.estimate} "
        f"credits, above {workspace}'s approval threshold of "
        f"{generation.workspace.approval_threshold}.\n\n"
        f"Prompt: {generation.prompt_excerpt or '(none)'}\n\n"
        f"Its credits are held until you approve or reject it:\n{link}\n"
    )
    try:
        send_mail(subject, body, None, addresses)
    except OSError:  # an SMTP server away: the header count and the Create page still say it
        log.warning("could not email the approvers of job %s", generation.code, exc_info=True)
        return 0
    return len(addresses)
