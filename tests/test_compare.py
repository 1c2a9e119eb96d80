"""Compare (issue 15): two to four results side by side, their settings lined up, differences
marked; a Run ×N set is one link away from its job pages."""

from __future__ import annotations

import html
import uuid

import pytest
from django.urls import reverse

from generations.models import Generation
from tests.conftest import client_for
from tests.test_gallery import done

pytestmark = pytest.mark.django_db
URL = reverse("compare")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


def page(user, **query) -> str:
    response = client_for(user).get(URL, query)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_two_results_side_by_side_with_what_differs_marked(alice, team) -> None:
    workspace, _ = team
    fox = done(alice, workspace, "a red fox")
    owl = done(alice, workspace, "a red owl")
    Generation.objects.filter(pk=owl.pk).update(params={"prompt": "a red owl", "type": "flex"})
    Generation.objects.filter(pk=fox.pk).update(params={"prompt": "a red fox", "type": "flex"})
    shown = page(alice, code=[str(fox.code), str(owl.code)])
    assert f'src="/g/{fox.code}/files/0"' in shown
    assert f'src="/g/{owl.code}/files/0"' in shown
    assert shown.index(str(fox.code)) < shown.index(str(owl.code))  # in the order asked
    rows = shown.split("<tbody>")[1]
    prompt_row = rows.split("<tr")[1]
    assert 'class="differs"' in prompt_row
    assert "Prompt" in prompt_row
    mode_row = next(r for r in rows.split("<tr")[1:] if "Mode" in r)
    assert "differs" not in mode_row


def test_what_the_person_may_not_see_is_left_out(alice, team, bob) -> None:
    workspace, carol = team
    mine = done(carol, workspace, "carol's kite")
    other = done(carol, workspace, "carol's other kite")
    secret = done(alice, workspace, "alice's secret", private=True)
    theirs = done(bob, bob.memberships.get().workspace, "bob's own")
    codes = [str(secret.code), str(mine.code), str(theirs.code), str(other.code)]
    shown = page(carol, code=codes)
    assert "secret" not in shown
    assert "bob's own" not in shown
    assert f'src="/g/{mine.code}/files/0"' in shown
    assert "Choose two to four results" in page(carol, code=[str(mine.code), str(secret.code)])
    assert "Choose two to four results" in page(carol, code=["not-a-code"])


def test_a_set_is_compared_from_its_job_page(alice, team) -> None:
    workspace, _ = team
    batch = uuid.uuid4()
    copies = [done(alice, workspace, f"a fox, copy {i}", batch=batch) for i in range(3)]
    detail = client_for(alice).get(reverse("generation", args=[copies[1].code])).content.decode()
    assert "One of a set of 3" in detail
    assert all(f"code={copy.code}" in detail for copy in copies)  # the whole set, this one first
    assert detail.count('class="set-thumbs"') == 1
    shown = page(alice, batch=str(batch))
    for copy in copies:
        assert f'src="/g/{copy.code}/files/0"' in shown
