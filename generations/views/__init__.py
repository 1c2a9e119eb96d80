"""Views of the work: the Create page and its forms, status cards, results, callbacks."""

from __future__ import annotations

from django.http import Http404
from django_htmx.middleware import HtmxDetails

from generations import catalog
from generations.models import Generation
from studio.access import StudioRequest


class HtmxHttpRequest(StudioRequest):
    htmx: HtmxDetails


def current_workspace(request: StudioRequest):
    """The workspace the signed-in user works in; every lookup below starts from it."""
    membership = request.membership
    if not membership:
        raise Http404("No workspace")
    return membership.workspace


def get_generation(request: StudioRequest, code) -> Generation:
    """A generation the user may see, or 404: other workspaces' jobs do not exist here."""
    generation = (
        Generation.objects.visible_to(request.user, request.membership)
        .filter(code=code)
        .select_related("user", "workspace")
        .first()
    )
    if generation is None:
        raise Http404("No such generation")
    return generation


def get_job_model(slug: str) -> catalog.ModelSpec:
    """A model of the catalog that runs as a job (a Create form), or 404; chat has its own page."""
    try:
        spec = catalog.get(slug)
    except KeyError:
        raise Http404("No such model") from None
    if not spec.async_task:
        raise Http404("Chat has its own page")
    return spec
