"""The gallery: the workspace's kept results, searched by prompt words, kind, model and author,
paged, and reused as the input of a new job."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generations import catalog
from generations.forms import GenerationForm
from generations.models import Generation, GenerationFile, State, prompt_of
from studio.models import Membership, Role
from tests.conftest import client_for, make_user
from tests.test_isolation import add_result

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


def done(user, workspace, prompt: str, *, slug="flux-2", kind="image", **fields) -> Generation:
    job = Generation.objects.create(
        workspace=workspace, user=user, model_slug=slug, kind=kind, params={"prompt": prompt},
        estimate=5, token=f"t{Generation.objects.count()}", state=State.SUCCEEDED,
        finished_at=timezone.now(), **fields,
    )  # fmt: skip
    add_result(job)
    return job


def codes(response) -> list[str]:
    return [str(job.code) for job in response.context_data["jobs"]]


def test_it_shows_kept_results_newest_first_and_nothing_else(alice, team) -> None:
    workspace, carol = team
    first = done(alice, workspace, "a red fox in snow")
    second = done(carol, workspace, "a blue whale at dusk")
    Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={"prompt": "still running"}, estimate=5, token="r", state=State.RUNNING,
    )  # fmt: skip
    response = client_for(alice).get(reverse("gallery"))
    assert codes(response) == [str(second.code), str(first.code)]
    html = response.content.decode()
    assert "a red fox in snow" in html
    assert "still running" not in html
    assert f"{reverse('generation-file', args=[first.code, 0])}?download=1" in html


def test_it_finds_results_by_every_word_of_the_prompt(alice, team) -> None:
    workspace, carol = team
    fox = done(alice, workspace, "A Red fox in snow")
    done(carol, workspace, "a red barn at dawn")
    gallery = client_for(alice)
    assert codes(gallery.get(reverse("gallery"), {"q": "snow RED"})) == [str(fox.code)]
    assert len(codes(gallery.get(reverse("gallery"), {"q": "red"}))) == 2
    nothing = gallery.get(reverse("gallery"), {"q": "purple"})
    assert codes(nothing) == []
    assert "Nothing matches" in nothing.content.decode()


def test_it_filters_by_kind_model_and_author(alice, team) -> None:
    workspace, carol = team
    image = done(alice, workspace, "a lighthouse")
    song = done(carol, workspace, "a sea shanty", slug="suno", kind="music")
    gallery = client_for(alice)
    assert codes(gallery.get(reverse("gallery"), {"kind": "music"})) == [str(song.code)]
    assert codes(gallery.get(reverse("gallery"), {"model": "flux-2"})) == [str(image.code)]
    assert codes(gallery.get(reverse("gallery"), {"mine": "on"})) == [str(image.code)]


def test_it_keeps_other_workspaces_and_private_jobs_out(alice, team, bob) -> None:
    workspace, carol = team
    done(bob, bob.memberships.get().workspace, "bob's secret harbour")
    done(alice, workspace, "alice's private sketch", private=True)
    assert codes(client_for(carol).get(reverse("gallery"))) == []
    search = client_for(carol).get(reverse("gallery"), {"q": "secret harbour"})
    assert codes(search) == []
    assert "bob&#x27;s" not in search.content.decode()
    assert len(codes(client_for(alice).get(reverse("gallery")))) == 1  # her own private one


def test_it_pages_by_keyset_with_a_next_link_and_htmx_gets_the_results_alone(alice, team) -> None:
    workspace, _ = team
    jobs = [done(alice, workspace, f"tile number {i}") for i in range(30)]
    now = timezone.now()
    for age, job in enumerate(reversed(jobs)):  # made a minute apart, the last one newest
        Generation.objects.filter(pk=job.pk).update(
            created_at=now - timezone.timedelta(minutes=age)
        )
    done(alice, workspace, "something else")
    newest_first = [str(job.code) for job in reversed(jobs)]
    gallery = client_for(alice)
    first = gallery.get(reverse("gallery"), {"q": "tile"})
    assert codes(first) == newest_first[:24]
    html = first.content.decode()
    link = re.search(r'<a class="button" rel="next" href="([^"]+)"', html)
    assert link, "a plain next-page link, for browsers without JavaScript"
    url = link.group(1).replace("&amp;", "&")
    assert url == f"?q=tile&after={newest_first[23]}"
    plain = gallery.get(reverse("gallery") + url)  # a whole page, the filters kept
    assert codes(plain) == newest_first[24:]
    assert "<html" in plain.content.decode()
    assert 'rel="next"' not in plain.content.decode()
    assert "back to the newest" in plain.content.decode()
    more = gallery.get(
        reverse("gallery") + url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="gallery-more"
    )
    html = more.content.decode()
    assert codes(more) == newest_first[24:]
    assert html.lstrip().startswith('<li class="gallery-item">')  # only the items, to append
    assert "<section" not in html
    assert "<html" not in html
    filtered = gallery.get(reverse("gallery"), {"q": "tile"}, HTTP_HX_REQUEST="true",
                           HTTP_HX_TARGET="gallery-results")  # fmt: skip
    assert filtered.content.decode().lstrip().startswith('<section id="gallery-results"')
    # An unknown or malformed cursor starts over rather than failing.
    for cursor in ("nonsense", "00000000-0000-0000-0000-000000000000"):
        assert (
            codes(gallery.get(reverse("gallery"), {"q": "tile", "after": cursor}))
            == (newest_first[:24])
        )


def test_a_page_costs_the_same_queries_whatever_its_depth_and_size(alice, team) -> None:
    workspace, _ = team
    jobs = [done(alice, workspace, f"tile {i}") for i in range(60)]
    gallery = client_for(alice)
    counts = []
    for after in (None, jobs[40], jobs[10]):
        data = {"after": str(after.code)} if after else {}
        with CaptureQueriesContext(connection) as queries:
            assert gallery.get(reverse("gallery"), data).status_code == 200
        counts.append(len(queries))
        assert not any(" OFFSET " in q["sql"].upper() for q in queries.captured_queries)
        page = [
            q["sql"]
            for q in queries.captured_queries
            if 'ORDER BY "generations_generation"."created_at" DESC' in q["sql"]
        ]
        assert page, "the page's query"
        # Which results are kept is read from the row: a subquery over every file made
        # PostgreSQL hash the whole table once any canceled job was in the way.
        assert all("generations_generationfile" not in sql for sql in page), page
        counted = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        assert all("awaiting" in sql for sql in counted), counted  # only the approvals badge
    # The first page reads no cursor; any deeper one reads it once (its code to its place).
    assert counts[1] == counts[2] == counts[0] + 1 <= 12, counts


def test_a_result_is_used_as_the_input_of_a_new_job(alice, team) -> None:
    workspace, carol = team
    job = done(alice, workspace, "a portrait to cut out")
    result = job.files.get()
    page = client_for(carol).get(reverse("gallery")).content.decode()
    use = f"{reverse('create')}?model=bg-remover&amp;input={job.code}:0#model-panel"
    assert use in page  # the form, not the model list, in view on a phone
    form = client_for(carol).get(
        reverse("create"), {"model": "bg-remover", "input": f"{job.code}:0"}
    )
    assert f'value="{result.pk}" checked>' in form.content.decode()


def test_an_older_result_than_the_picker_lists_can_still_be_used(alice, team, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "https://studio.example"
    workspace, _ = team
    old = done(alice, workspace, "the oldest portrait")
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(1))
    for i in range(61):  # the picker lists the newest 60
        done(alice, workspace, f"newer {i}")
    result = old.files.get()
    form = client_for(alice).get(
        reverse("create"), {"model": "bg-remover", "input": f"{old.code}:0"}
    )
    assert f'value="{result.pk}" checked>' in form.content.decode()
    membership = alice.memberships.get(workspace=workspace)
    posted = GenerationForm(
        catalog.get("bg-remover"), membership, {"token": "x", "image__pick": str(result.pk)}
    )
    assert posted.is_valid(), posted.errors
    assert posted.cleaned_data["image__pick"] == str(result.pk)


def test_viewers_browse_but_are_not_offered_to_use_results(alice, team) -> None:
    workspace, _ = team
    done(alice, workspace, "a view only")
    viewer = make_user("vera")
    Membership.objects.filter(user=viewer).update(selected_at=None)
    Membership.objects.create(
        workspace=workspace, user=viewer, role=Role.VIEWER, selected_at=timezone.now()
    )
    html = client_for(viewer).get(reverse("gallery")).content.decode()
    assert "a view only" in html
    assert "Use in…" not in html
    home = client_for(viewer).get(reverse("create")).content.decode()
    assert "<h1>Browse</h1>" in home


def test_every_job_keeps_its_prompt_words_for_searching() -> None:
    assert prompt_of({"prompt": "  two\n words "}) == "two words"
    assert prompt_of({"gpt_description_prompt": "a shanty"}) == "a shanty"
    assert prompt_of({"dialogue": [{"text": "Hi"}, {"text": "there"}]}) == "Hi / there"
    assert prompt_of({"multi_prompt": [{"prompt": "shot one"}]}) == "shot one"
    assert prompt_of({"image": {"url": "https://x.test/a.png"}}) == ""


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "-1", "x", "1:2"])
def test_odd_references_to_a_result_are_refused_calmly(alice, team, value) -> None:
    gallery = client_for(alice)
    page = gallery.get(reverse("create"), {"model": "bg-remover", "input": value})
    assert page.status_code == 200
    posted = gallery.post(reverse("run", args=["bg-remover"]), {"token": "t", "image__pick": value})
    assert posted.status_code == 200
    assert "not one you can use here" in posted.content.decode()
    assert not Generation.objects.exists()


def test_a_result_without_words_is_named_by_its_model(alice, team) -> None:
    workspace, _ = team
    cutout = done(alice, workspace, "", slug="bg-remover", kind="tool")
    html = client_for(alice).get(reverse("gallery")).content.decode()
    assert "Background Remover result" in html
    form = client_for(alice).get(reverse("create"), {"model": "image-upscale"}).content.decode()
    assert f'value="{cutout.files.get().pk}">' in form
    assert '<span class="thumb-caption">Background Remover · result</span>' in form


def test_going_back_reloads_the_filters_with_the_results(alice, team) -> None:
    """htmx keeps no snapshot of this page (its typed-in filters would come back empty over
    filtered results): Back asks the server again."""
    html = client_for(alice).get(reverse("gallery"), {"q": "fox"}).content.decode()
    assert 'hx-history="false"' in html
    assert 'value="fox"' in html


def test_filters_by_member_dates_and_cost_kept_in_the_url(alice, team) -> None:
    workspace, carol = team
    stranger = make_user("sam")  # not of this workspace: not a choice
    now = timezone.now()
    old = done(alice, workspace, "an old fox", consumed_credits=5)
    Generation.objects.filter(pk=old.pk).update(created_at=now - timezone.timedelta(days=40))
    cheap = done(carol, workspace, "a cheap fox", consumed_credits=2)
    dear = done(carol, workspace, "a dear fox", consumed_credits=300)
    unstated = done(alice, workspace, "a fox of no stated charge")  # the estimate stood
    Generation.objects.filter(pk=unstated.pk).update(estimate=8)
    client = client_for(alice)
    page = client.get(reverse("gallery")).content.decode()
    assert '<option value="carol">carol</option>' in page
    assert f">{stranger.username}<" not in page

    def shown(**filters) -> list[str]:
        response = client.get(reverse("gallery"), filters)
        assert response.status_code == 200
        return codes(response)

    assert shown(member="carol") == [str(dear.code), str(cheap.code)]
    today = timezone.localdate()
    assert str(old.code) not in shown(since=str(today - timezone.timedelta(days=7)))
    assert shown(until=str(today - timezone.timedelta(days=30))) == [str(old.code)]
    assert shown(cost_min="100") == [str(dear.code)]
    assert shown(cost_max="4") == [str(cheap.code)]
    assert shown(cost_min="6", cost_max="10") == [str(unstated.code)]
    # Kept together with the others, and in the next page's link and the zip's.
    both = shown(member="carol", cost_max="10")
    assert both == [str(cheap.code)]
    page = client.get(reverse("gallery"), {"member": "carol", "cost_max": "10"}).content.decode()
    assert 'href="/gallery/download.zip?member=carol&amp;cost_max=10"' in page


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"since": "2026-12-10", "until": "2026-12-01"}, "The end date is before the start date."),
        ({"cost_min": "10", "cost_max": "2"}, "The highest cost is below the lowest."),
        ({"cost_min": "-1"}, "greater than or equal to 0"),
        ({"since": "yesterday"}, "Enter a date like 2026-12-01."),
        ({"member": "sam"}, "Select a valid choice"),
    ],
)
def test_wrong_filters_say_why_and_show_nothing(alice, team, filters, message) -> None:
    workspace, _ = team
    make_user("sam")
    done(alice, workspace, "a fox")
    response = client_for(alice).get(reverse("gallery"), filters)
    assert response.status_code == 200
    assert codes(response) == []
    assert message in response.content.decode()


def test_results_and_their_previews_are_kept_by_the_browser_alone(alice, team) -> None:
    workspace, _ = team
    job = done(alice, workspace, "a fox")
    client = client_for(alice)
    for query in ("", "?preview=1", "?download=1"):
        response = client.get(reverse("generation-file", args=[job.code, 0]) + query)
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, max-age=31536000, immutable", query
        assert "Cookie" in response.get("Vary", "") or response["Cache-Control"].startswith(
            "private"
        )


def test_sets_are_labelled_and_videos_play_on_hover_without_loading_first(alice, team) -> None:
    workspace, _ = team
    batch = uuid.uuid4()
    kites = [done(alice, workspace, f"a kite {i}", batch=batch) for i in range(3)]
    clip = done(alice, workspace, "a clip of waves", slug="seedance", kind="video")
    GenerationFile.objects.filter(generation=clip).update(kind="video", content_type="video/mp4")
    html = client_for(alice).get(reverse("gallery")).content.decode()
    assert html.count(f'href="/compare/?batch={batch}"') == 3  # each of the set says so
    assert "Set of 3" in html
    video = re.search(r"<video class=\"hover-play\"[^>]*>", html)
    assert video, "a video, not a still"
    assert 'preload="none"' in video.group(0)
    assert "muted" in video.group(0)
    assert f"/g/{clip.code}/files/0" in video.group(0)
    assert len(kites) == 3


def test_one_downloaded_file_is_named_as_in_the_zips(alice, team) -> None:
    workspace, _ = team
    job = done(alice, workspace, "a red fox in snow")
    response = client_for(alice).get(
        reverse("generation-file", args=[job.code, 0]), {"download": "1"}
    )
    day = f"{job.created_at:%Y-%m-%d}"
    expected = f'filename="{day}_flux-2_a-red-fox-in-snow_{str(job.code)[:8]}.png"'
    assert expected in response["Content-Disposition"]


def test_filter_errors_show_in_the_results_an_htmx_change_brings(alice, team) -> None:
    workspace, _ = team
    done(alice, workspace, "a fox")
    response = client_for(alice).get(
        reverse("gallery"), {"cost_min": "10", "cost_max": "5"},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="gallery-results",
    )  # fmt: skip
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="gallery-results"')
    assert "Cost to (credits): The highest cost is below the lowest." in html
    assert "Nothing matches" not in html


def test_compare_from_a_job_of_a_big_set_starts_with_that_job(alice, team) -> None:
    workspace, _ = team
    batch = uuid.uuid4()
    jobs = [done(alice, workspace, f"a kite {i}", batch=batch) for i in range(6)]
    page = client_for(alice).get(reverse("generation", args=[jobs[-1].code])).content.decode()
    link = re.search(r'href="/compare/\?([^"]+)">Compare this one with 3 others of the set', page)
    assert link, "a compare link"
    codes_in_link = re.findall(r"code=([0-9a-f-]+)", link.group(1))
    assert codes_in_link[0] == str(jobs[-1].code)
    assert len(codes_in_link) == 4
