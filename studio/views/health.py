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


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    checks = {"database": _database_state(), "broker": _broker_state()}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "down", **checks}, status=200 if healthy else 503
    )
