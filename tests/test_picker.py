"""The "From the gallery" picker (issue 14, item 5): thumbnails as radio buttons or checkboxes,
more of them page by page (a keyset, never an OFFSET), a search by prompt words; only what the
member may see, and a picked value posts and validates as before."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generations import catalog
from generations.forms import PICK_JOBS, GenerationForm
from generations.models import Generation
from tests.conftest import client_for, make_user
from tests.test_gallery import _media, done  # noqa: F401 (the media fixture)

pytestmark = pytest.mark.django_db


def picks_url(slug: str = "bg-remover", name: str = "image") -> str:
    return reverse("picks", args=[slug, name])


def values(html: str, name: str = "image__pick") -> list[str]:
    return re.findall(rf'name="{name}" value="(\d+)"', html)


def aged(jobs: list[Generation]) -> None:
    """Oldest first, one minute apart (the order they were made in)."""
    now = timezone.now()
    for age, job in enumerate(reversed(jobs)):
        when = now - timezone.timedelta(minutes=age)
        Generation.objects.filter(pk=job.pk).update(created_at=when)


def test_it_shows_thumbnails_as_radio_buttons_with_a_none_choice(alice, team) -> None:
    workspace, _ = team
    job = done(alice, workspace, "a heron at dawn")
    html = client_for(alice).get(reverse("create"), {"model": "bg-remover"}).content.decode()
    result = job.files.get()
    assert f'<input type="radio" name="image__pick" value="{result.pk}">' in html
    assert '<input type="radio" name="image__pick" value="" checked>' in html  # None
    assert f"{reverse('generation-file', args=[job.code, 0])}?preview=1" in html
    assert "Flux 2 · a heron at dawn" in html
    assert "<select" not in html.split('id="picks-image__pick"')[1].split("</fieldset>")[0]


def test_image_lists_are_checkboxes(alice, team) -> None:
    workspace, _ = team
    result = done(alice, workspace, "a heron at dawn").files.get()
    html = client_for(alice).get(reverse("create"), {"model": "flux-2"}).content.decode()
    assert f'<input type="checkbox" name="input_urls__pick" value="{result.pk}">' in html


def test_load_more_pages_on_by_keyset_newest_first(alice, team) -> None:
    workspace, _ = team
    jobs = [done(alice, workspace, f"heron {i}") for i in range(PICK_JOBS + 5)]
    aged(jobs)
    newest_first = [str(job.files.get().pk) for job in reversed(jobs)]
    client = client_for(alice)
    page = client.get(reverse("create"), {"model": "bg-remover"}).content.decode()
    assert values(page) == newest_first[:PICK_JOBS]
    more = re.search(r'class="button small picks-more" hidden hx-get="([^"]+)"', page)
    assert more, "a Load more button"
    with CaptureQueriesContext(connection) as queries:
        second = client.get(more.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert values(second.content.decode()) == newest_first[PICK_JOBS:]
    assert "picks-more" not in second.content.decode()  # the last page
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)


def test_load_more_leaves_out_what_is_chosen_already(alice, team) -> None:
    """A result chosen further down ("Use in…" an older one) leads the first page; the page that
    later reaches it does not show it a second time."""
    workspace, _ = team
    jobs = [done(alice, workspace, f"heron {i}") for i in range(PICK_JOBS + 3)]
    aged(jobs)
    oldest = jobs[0]
    client = client_for(alice)
    page = client.get(reverse("create"), {"model": "bg-remover", "input": f"{oldest.code}:0"})
    first = values(page.content.decode())
    assert first[0] == str(oldest.files.get().pk)
    more = re.search(r'picks-more" hidden hx-get="([^"]+)"', page.content.decode())
    assert more
    url = more.group(1).replace("&amp;", "&")
    second = values(client.get(f"{url}&image__pick={first[0]}").content.decode())
    assert str(oldest.files.get().pk) not in second
    assert len(set(first + second)) == len(first + second) == PICK_JOBS + 3


def test_search_filters_by_prompt_words_and_keeps_what_is_chosen(alice, team) -> None:
    workspace, _ = team
    heron = done(alice, workspace, "a grey heron at dawn").files.get()
    fox = done(alice, workspace, "a red fox").files.get()
    owl = done(alice, workspace, "an owl at DAWN").files.get()
    client = client_for(alice)
    found = client.get(picks_url(), {"q": "dawn heron"}).content.decode()
    assert values(found) == [str(heron.pk)]
    kept = client.get(picks_url(), {"q": "dawn", "image__pick": str(fox.pk)}).content.decode()
    assert values(kept) == [str(fox.pk), str(owl.pk), str(heron.pk)]
    assert f'value="{fox.pk}" checked>' in kept
    nothing = client.get(picks_url(), {"q": "purple elephant"}).content.decode()
    assert values(nothing) == []
    assert "No result matches" in nothing


def test_the_picker_shows_only_what_the_member_may_see(alice, team) -> None:
    workspace, carol = team
    public = done(alice, workspace, "a public heron").files.get()
    private = done(alice, workspace, "a private heron", private=True).files.get()
    stranger = make_user("sam")
    theirs = done(stranger, stranger.memberships.get().workspace, "a stranger's heron")
    for client, expected in (
        (client_for(carol), [public.pk]),  # not alice's private job
        (client_for(alice), [private.pk, public.pk]),
        (client_for(stranger), [theirs.files.get().pk]),  # their own workspace only
    ):
        html = client.get(picks_url(), {"q": "heron"}).content.decode()
        assert values(html) == [str(pk) for pk in expected]
    # Not even as one "already chosen", nor as the job a page follows.
    html = (
        client_for(carol)
        .get(picks_url(), {"image__pick": str(private.pk), "after": str(theirs.code)})
        .content.decode()
    )
    assert values(html) == [str(public.pk)]


def test_viewers_and_unknown_inputs_get_404(alice, team) -> None:
    assert client_for(alice).get(picks_url(name="prompt")).status_code == 404
    assert client_for(alice).get(picks_url(name="nothing")).status_code == 404
    assert client_for(alice).get(picks_url(slug="nothing")).status_code == 404


def test_a_value_from_a_later_page_posts_and_validates(alice, team, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "https://studio.example"
    settings.STUDIO_REACHABLE = "yes"
    workspace, _ = team
    jobs = [done(alice, workspace, f"heron {i}") for i in range(PICK_JOBS + 2)]
    aged(jobs)
    oldest = jobs[0].files.get()
    response = client_for(alice).post(
        reverse("run", args=["bg-remover"]), {"token": "later", "image__pick": str(oldest.pk)}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert Generation.objects.get(token="later").params["image"] == {"file": oldest.pk}


def test_another_workspaces_file_is_refused_with_a_sentence(alice, team) -> None:
    stranger = make_user("sam")
    theirs = done(stranger, stranger.memberships.get().workspace, "a stranger's heron")
    response = client_for(alice).post(
        reverse("run", args=["bg-remover"]),
        {"token": "theirs", "image__pick": str(theirs.files.get().pk)},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "That gallery file is not one you can use here" in html
    assert "a stranger&#x27;s heron" not in html
    assert "a stranger's heron" not in html
    assert not Generation.objects.filter(token="theirs").exists()


def test_the_first_page_and_the_estimate_read_a_bounded_page(alice, team) -> None:
    workspace, _ = team
    for i in range(PICK_JOBS + 3):
        done(alice, workspace, f"heron {i}")
    membership = alice.memberships.get(workspace=workspace)
    form = GenerationForm(catalog.get("bg-remover"), membership)
    assert len(form.pick_files["image"]) == PICK_JOBS
    with CaptureQueriesContext(connection) as queries:
        estimate = client_for(alice).post(reverse("estimate", args=["bg-remover"]), {})
    assert estimate.status_code == 200
    assert not any("generationfile" in q["sql"].lower() for q in queries.captured_queries)


def test_the_create_page_sums_the_cost_of_the_twelve_jobs_it_shows_only(alice, team) -> None:
    """Its job list takes the 12 newest first and sums their ledger, not the ledger of every job
    the member ever ran (annotate-then-slice made the Create page 7.7× slower at 100,000)."""
    workspace, _ = team
    for i in range(15):
        done(alice, workspace, f"heron {i}")
    with CaptureQueriesContext(connection) as queries:
        page = client_for(alice).get(reverse("create"))
    assert page.status_code == 200
    assert len(page.context_data["jobs"]) == 12
    sums = [q["sql"] for q in queries.captured_queries if 'SUM("studio_ledgerentry"' in q["sql"]]
    assert sums, "the card list's costs"
    for sql in sums:
        assert " IN (" in sql, sql  # bounded to the listed jobs' pks
