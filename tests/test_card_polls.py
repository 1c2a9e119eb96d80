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


def test_an_unchanged_card_answers_304_and_a_change_answers_the_new_card(
    alice, team, settings, django_assert_max_num_queries
) -> None:
    """The browser keeps a polled card (ETag, no-cache) and asks with its ETag: while nothing
    the server decides has changed (the seconds and the progress bar count in the page), the
    answer is 304 with no body and nothing rendered; a change answers the new card."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    job = running(alice)
    url = f"/g/{job.code}/card"
    client = client_for(alice)
    first = client.get(url, HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('W/"')
    assert first["Cache-Control"] == "private, no-cache"
    body = first.content.decode()
    assert 'data-since="' in body  # the page counts on
    assert 'data-accepted="' in body
    # user, membership, the job: no files, cost or timing read for a card that did not change
    with django_assert_max_num_queries(3):
        again = client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    job.schedule_look(timezone.now(), waiting_note="Waiting for the service.")
    changed = client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert "Waiting for the service." in changed.content.decode()
    assert changed["ETag"] != etag

    # Another viewer (an admin sees Approve, the author Retry) never gets this viewer's card.
    _workspace, carol = team
    theirs = client_for(carol).get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=changed["ETag"])
    assert theirs.status_code == 200
    # And someone outside the workspace gets no 304 for a code they guessed, only 404.
    from tests.conftest import make_user

    stranger = client_for(make_user("mallory"))
    assert stranger.get(url, HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 404


def test_the_create_pages_cards_answer_304_together_until_one_changes(alice) -> None:
    jobs = [running(alice) for _ in range(1)]
    jobs.append(
        Generation.objects.create(
            workspace=jobs[0].workspace,
            user=alice,
            model_slug="flux-2",
            kind="image",
            params={"prompt": "y"},
            estimate=5,
            token="d",
            state=State.RUNNING,
            upstream_task_id="sbx-d",
            accepted_at=timezone.now(),
            next_check_at=timezone.now(),
        )
    )
    client = client_for(alice)
    codes = {"code": [str(job.code) for job in jobs]}
    first = client.get("/g/cards", codes, HTTP_HX_REQUEST="true")
    again = client.get("/g/cards", codes, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    jobs[1].succeed(4)
    changed = client.get(
        "/g/cards", codes, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert changed.status_code == 200
    assert changed.content.decode().count('hx-swap-oob="true"') == 2
