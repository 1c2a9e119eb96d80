"""A status card polled every 2 s (issue 16): a bounded number of queries, whatever the header
of a whole page would need (budget alert, approvals count are read only for whole pages)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from generations.models import Generation, State
from studio.models import Budget, Workspace
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def running(alice) -> Generation:
    return Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "x"}, estimate=5, token="c", state=State.RUNNING,
        upstream_task_id="sbx-c", accepted_at=timezone.now(), submitted_at=timezone.now(),
        next_check_at=timezone.now(),
    )  # fmt: skip


def test_a_card_poll_reads_five_rows_at_most(alice, django_assert_max_num_queries) -> None:
    job = running(alice)
    workspace = alice.memberships.get().workspace
    Workspace.objects.filter(pk=workspace.pk).update(approval_threshold=1)  # an owner: counted
    Budget.objects.create(membership=alice.memberships.get(), limit=10, period="day")
    client = client_for(alice)
    client.get(f"/g/{job.code}/card")  # the session's first read
    # session, user, membership, the job (files and cost with it), its model's timing.
    with django_assert_max_num_queries(5):
        response = client.get(f"/g/{job.code}/card", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    # A whole page still shows what the header needs (read there, not for fragments).
    page = client.get("/gallery/").content.decode()
    assert 'id="nav-approvals"' in page


def test_with_a_shared_cache_sessions_cost_no_query(
    alice, settings, django_assert_max_num_queries
) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    job = running(alice)
    client = client_for(alice)
    client.get(f"/g/{job.code}/card")
    with django_assert_max_num_queries(4):
        client.get(f"/g/{job.code}/card", HTTP_HX_REQUEST="true")


def test_create_refreshes_all_its_running_cards_in_one_request(
    alice, team, bob, django_assert_max_num_queries
) -> None:
    workspace, carol = team
    jobs = [running(alice) for _ in range(1)]
    for i in range(4):
        jobs.append(
            Generation.objects.create(
                workspace=workspace,
                user=alice,
                model_slug="kling-3",
                kind="video",
                params={"prompt": f"x{i}"},
                estimate=5,
                token=f"c{i}",
                state=State.RUNNING,
                upstream_task_id=f"sbx-c{i}",
                accepted_at=timezone.now(),
                next_check_at=timezone.now(),
            )
        )
    client = client_for(alice)
    page = client.get("/").content.decode()
    assert f'data-poll-batch="{jobs[0].code}"' in page  # polled together, not each alone
    assert f'hx-get="/g/{jobs[0].code}/card"' not in page
    detail = client.get(f"/g/{jobs[0].code}/").content.decode()
    assert f'hx-get="/g/{jobs[0].code}/card" hx-trigger="every 2s"' in detail  # alone there
    theirs = Generation.objects.create(
        workspace=bob.memberships.get().workspace, user=bob, model_slug="flux-2", kind="image",
        params={"prompt": "bob's"}, estimate=5, token="b", state=State.RUNNING,
    )  # fmt: skip
    codes = [str(job.code) for job in jobs] + [str(theirs.code), "nonsense"]
    client.get("/g/cards", {"code": codes})
    # session, user, membership, the jobs, their files, the two models' timings: not 5 a card.
    with django_assert_max_num_queries(8):
        response = client.get("/g/cards", {"code": codes}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.count('hx-swap-oob="true"') == 5
    assert "bob's" not in body
    assert (
        client_for(carol).get("/g/cards", {"code": codes}).content.decode().count("<article") == 5
    )
