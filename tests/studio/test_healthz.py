from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_it_reports_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "database": "ok", "broker": "ok", "poller": "idle", "sweep": "ok",
    }  # fmt: skip


def test_it_says_degraded_when_jobs_wait_with_no_poller_alive(client: Client, alice) -> None:
    """The web process still serves (200: a load balancer keeps it), a monitor sees the rest."""
    from generations.models import Generation, PollerHeartbeat, State

    job = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "x"}, estimate=5, token="h", state=State.RUNNING,
        upstream_task_id="sbx-1", next_check_at=timezone.now() - timedelta(seconds=30),
    )  # fmt: skip
    assert client.get("/healthz").json()["poller"] == "idle"  # due, but only just
    Generation.objects.filter(pk=job.pk).update(next_check_at=timezone.now() - timedelta(minutes=2))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["poller"] == "late"
    assert response.json()["status"] == "degraded"
    PollerHeartbeat.objects.create(pk=1, seen_at=timezone.now())  # a poller took it up
    assert client.get("/healthz").json() == {
        "status": "ok", "database": "ok", "broker": "ok", "poller": "ok", "sweep": "ok",
    }  # fmt: skip


def test_it_says_degraded_when_the_sweep_is_not_run(client: Client) -> None:
    from django_q.models import Schedule

    Schedule.objects.filter(name="generations.sweep").update(
        next_run=timezone.now() - timedelta(minutes=10)
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["sweep"] == "late"
    assert response.json()["status"] == "degraded"
    Schedule.objects.filter(name="generations.sweep").delete()
    assert client.get("/healthz").json()["sweep"] == "late"  # no schedule at all: never runs


def test_it_reports_a_broker_that_is_down(client: Client, settings, monkeypatch) -> None:
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert response.json()["database"] == "ok"


def test_it_reports_a_database_that_is_down(client: Client, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise connection.Database.OperationalError("no such database")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"
