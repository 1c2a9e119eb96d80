"""Stars (issue 15): a result starred for the workspace (the team's pick) by anyone who creates
there; a double click is one star; viewers and other teams cannot."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation
from studio.models import Membership, Role
from tests.conftest import client_for, make_user
from tests.test_gallery import done

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


def test_a_member_stars_and_unstars_a_result_for_the_team(alice, team) -> None:
    workspace, carol = team
    job = done(alice, workspace, "a fox")
    url = reverse("generation-star", args=[job.code])
    response = client_for(carol).post(url, {"starred": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'aria-pressed="true"' in response.content.decode()
    client_for(carol).post(url, {"starred": "1"})  # twice: still one star
    assert Generation.objects.get(pk=job.pk).starred
    page = client_for(alice).get(reverse("generation", args=[job.code])).content.decode()
    assert 'aria-pressed="true"' in page  # the team sees the star
    client_for(alice).post(url, {"starred": "0"})
    assert not Generation.objects.get(pk=job.pk).starred


def test_viewers_and_other_teams_cannot_star(alice, team, bob) -> None:
    workspace, _ = team
    viewer = make_user("vera")
    Membership.objects.create(
        workspace=workspace, user=viewer, role=Role.VIEWER, selected_at=timezone.now()
    )
    job = done(alice, workspace, "a fox")
    url = reverse("generation-star", args=[job.code])
    assert client_for(viewer).post(url, {"starred": "1"}).status_code == 404
    assert client_for(bob).post(url, {"starred": "1"}).status_code == 404
    assert not Generation.objects.get(pk=job.pk).starred
    page = client_for(viewer).get(reverse("generation", args=[job.code])).content.decode()
    assert "star-button" not in page


def test_starred_results_are_found_under_starred_in_the_gallery(alice, team) -> None:
    workspace, carol = team
    fox = done(alice, workspace, "a fox")
    owl = done(alice, workspace, "an owl")
    client_for(carol).post(reverse("generation-star", args=[owl.code]), {"starred": "1"})
    response = client_for(carol).get("/gallery/", {"starred": "on"})
    shown = [job.code for job in response.context_data["jobs"]]
    assert shown == [owl.code]
    assert fox.code not in shown
    assert "gallery-star" in response.content.decode()
    assert len(client_for(carol).get("/gallery/").context_data["jobs"]) == 2


def test_several_chosen_results_are_starred_and_unstarred_at_once(alice, team) -> None:
    workspace, carol = team
    jobs = [done(alice, workspace, f"a fox {i}") for i in range(3)]
    client = client_for(carol)
    page = client.get(reverse("gallery"), {"q": "fox"}).content.decode()
    for job in jobs:  # a tick on each result, posting with the selection bar's form
        assert f'name="code" value="{job.code}" form="gallery-selection"' in page
    assert 'formaction="/gallery/star" name="starred" value="1"' in page
    assert 'href="/gallery/download.zip?q=fox"' in page  # the whole search, as a zip
    chosen = [str(jobs[0].code), str(jobs[2].code)]
    back = "/gallery/?q=fox"
    response = client.post(reverse("gallery-star"), {"code": chosen, "starred": "1", "next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    assert sorted(Generation.objects.filter(starred=True).values_list("pk", flat=True)) == sorted(
        [jobs[0].pk, jobs[2].pk]
    )
    page = client.get(back).content.decode()
    assert "Starred 2 results." in page
    client.post(reverse("gallery-star"), {"code": chosen[:1], "starred": "0"})
    assert list(Generation.objects.filter(starred=True).values_list("pk", flat=True)) == [
        jobs[2].pk
    ]


def test_a_viewer_gets_no_star_buttons_and_cannot_star_chosen(alice, team) -> None:
    workspace, _ = team
    job = done(alice, workspace, "a fox")
    viewer = make_user("vera")
    Membership.objects.create(
        workspace=workspace, user=viewer, role=Role.VIEWER, selected_at=timezone.now()
    )
    page = client_for(viewer).get(reverse("gallery")).content.decode()
    assert "Download chosen (.zip)" in page  # a viewer may take results away
    assert "Star chosen" not in page
    response = client_for(viewer).post(
        reverse("gallery-star"), {"code": [str(job.code)], "starred": "1"}
    )
    assert response.status_code == 404
    assert not Generation.objects.get(pk=job.pk).starred
