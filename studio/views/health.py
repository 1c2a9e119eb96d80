from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.brokers import get_broker

logger = logging.getLogger(__name__)


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as e:
        logger.warning("healthz: database check failed: %s", e)
        return "down"
    return "ok"


def _broker_state() -> str:
    try:
        broker = get_broker()
        # The ORM broker's ping() always says yes; counting its queue touches its table for real.
        if broker.ping() is False:
            return "down"
        broker.queue_size()
    except Exception as e:
        logger.warning("healthz: broker check failed: %s", e)
        return "down"
    return "ok"


def _worker_states() -> dict[str, str]:
    """Whether the background work keeps up: the poller (following running jobs) and the
    sweep (ending what got stuck), both run by `manage.py qcluster` on the worker hosts."""
    from generations import tasks

    try:
        return {"poller": tasks.poller_state(), "sweep": tasks.sweep_state()}
    except Exception as e:  # the database answered SELECT 1 but not this: say so, do not 500
        logger.warning("healthz: worker check failed: %s", e)
        return {"poller": "unknown", "sweep": "unknown"}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """200 while this web process can serve (database and broker up); "status" also turns
    "degraded" when the workers fall behind, which a monitor should page about but a load
    balancer should not act on (the web process itself is fine)."""
    checks = {"database": _database_state(), "broker": _broker_state()}
    healthy = all(state == "ok" for state in checks.values())
    if not healthy:
        return JsonResponse({"status": "down", **checks}, status=503)
    workers = _worker_states()
    behind = any(state in ("late", "unknown") for state in workers.values())
    return JsonResponse({"status": "degraded" if behind else "ok", **checks, **workers})
