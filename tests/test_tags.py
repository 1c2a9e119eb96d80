"""Tags (issue 15): free-form words on results, one spelling per workspace whatever its case,
put on ticked results or on one job's page, taken off again, a gallery filter in the URL."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from generations.models import Tag, tag_names
from studio.models import Membership, Role
from tests.conftest import client_for, make_user
from tests.test_gallery import codes, done
from tests.test_stars import _media  # noqa: F401 (files in a temporary folder)

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def tag(client, jobs, text: str, **extra):
    data = {"code": [str(j.code) for j in jobs], "tags": text, **extra}
    return client.post(reverse("gallery-tag"), data)


def test_typed_tags_are_tidied() -> None:
    assert tag_names(" hero  shot, v2,,Hero Shot , ") == ["hero shot", "v2"]


def test_tag_ticked_results_filter_by_a_tag_and_take_it_off(alice, team) -> None:
    workspace, carol = team
    fox, owl, heron = (done(alice, workspace, f"a {name}") for name in ("fox", "owl", "heron"))
    client = client_for(carol)
    response = tag(client, [fox, owl], "Hero shot, v2", next="/gallery/?q=a")
    assert response["Location"] == "/gallery/?q=a"
    assert "Tagged 2 results “Hero shot, v2”." in messages_of(response)
    tag(client, [owl, heron], "hero SHOT")  # the same tag: its first spelling stays
    assert list(Tag.objects.values_list("name", flat=True).order_by("name")) == ["Hero shot", "v2"]
    hero = client.get(reverse("gallery"), {"tag": "hero shot"})
    assert codes(hero) == [str(heron.code), str(owl.code), str(fox.code)]
    assert codes(client.get(reverse("gallery"), {"tag": "v2"})) == [str(owl.code), str(fox.code)]
    html = client.get(reverse("gallery")).content.decode()
    assert 'href="/gallery/?tag=Hero%20shot">#Hero shot</a>' in html
    assert '<option value="v2">' in html  # suggested while typing
    page = client.get(reverse("generation", args=[fox.code])).content.decode()
    assert "#Hero shot" in page
    assert 'aria-label="Take the tag v2 off"' in page

    off = tag(client, [fox], "v2", untag="1")
    assert "Took “v2” off 1 result." in messages_of(off)
    assert codes(client.get(reverse("gallery"), {"tag": "v2"})) == [str(owl.code)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (" , ,", "Type a tag first"),
        (",".join(f"t{i}" for i in range(11)), "Up to 10 tags at once."),
        ("x" * 41, "Keep each tag under 40 characters"),
    ],
)
def test_wrong_tags_say_why_and_change_nothing(alice, team, text, message) -> None:
    workspace, _ = team
    fox = done(alice, workspace, "a fox")
    response = tag(client_for(alice), [fox], text)
    assert any(message in m for m in messages_of(response)), messages_of(response)
    assert not Tag.objects.exists()


def test_tags_stay_in_their_workspace_and_viewers_tag_nothing(alice, team) -> None:
    workspace, _ = team
    fox = done(alice, workspace, "a fox")
    stranger = make_user("sam")
    response = tag(client_for(stranger), [fox], "stolen")
    assert "Tick at least one result first." in messages_of(response)
    assert not fox.tags.exists()
    tag(client_for(alice), [fox], "ours")
    theirs = done(stranger, stranger.memberships.get().workspace, "sam's fox")
    tag(client_for(stranger), [theirs], "ours")  # the same word: their own tag
    assert Tag.objects.filter(name="ours").count() == 2
    assert codes(client_for(stranger).get(reverse("gallery"), {"tag": "ours"})) == [
        str(theirs.code)
    ]
    viewer = make_user("vera")
    Membership.objects.create(
        workspace=workspace, user=viewer, role=Role.VIEWER, selected_at=timezone.now()
    )
    assert tag(client_for(viewer), [fox], "nope").status_code == 404
