"""Callbacks from API in One. The payload is not documented and not signed, so it is never
trusted: a callback with the right per-generation token only makes the studio look the job up
now. A forged or replayed one changes nothing but the time of the next look-up."""

from __future__ import annotations

import hmac
import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from generations import client, tasks
from generations.models import Generation


@csrf_exempt
@require_POST
def callback(request: HttpRequest, code, token: str) -> HttpResponse:
    generation = Generation.objects.filter(code=code).first()
    if generation is None or not hmac.compare_digest(generation.callback_token, token):
        return HttpResponse(status=404)
    tasks.callback_arrived(generation)
    if generation.upstream_task_id:
        tasks.nudge(generation)
    else:
        task_id = _task_id(request.body)
        if task_id:
            tasks.reconcile(generation, task_id)
    return HttpResponse(status=204)


def _task_id(body: bytes) -> str | None:
    """The task id a callback names, in any of the documented shapes (a hint, checked upstream)."""
    try:
        task = client.parse_task(json.loads(body or b"null"))
    except (ValueError, client.UpstreamError):
        return None
    return task.task_id or None
