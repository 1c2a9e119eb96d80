"""A job's page (issue 14, item 6): every parameter under its form's label and in the form's
words, every input file as a thumbnail linked to where it came from, results at full width with
a lightbox; an uploaded input is shown only to those who may see the job."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generations.models import Generation, State, Upload
from tests.conftest import client_for
from tests.test_gallery import done
from tests.test_isolation import png_bytes

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


def upload(workspace, user) -> Upload:
    record = Upload(workspace=workspace, user=user, content_type="image/png", size=10)
    record.file.save("kite.png", ContentFile(png_bytes()), save=True)
    return record


def edit_of(workspace, user, private=False, **params) -> Generation:
    return Generation.objects.create(
        workspace=workspace, user=user, model_slug="flux-2", kind="image", estimate=5,
        token=f"e{Generation.objects.count()}", state=State.SUCCEEDED, params=params,
        private=private,
    )  # fmt: skip


def page_of(user, generation) -> str:
    response = client_for(user).get(reverse("generation", args=[generation.code]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_parameters_read_in_the_forms_words_not_internals(alice, team) -> None:
    workspace, _ = team
    source = done(alice, workspace, "a red kite over the sea")
    file = source.files.get()
    mine = upload(workspace, alice)
    job = edit_of(
        workspace, alice, prompt="the kite, at night", aspect_ratio="16:9", type="flex",
        input_urls=[{"file": file.pk}, {"upload": str(mine.code)}, {"url": "https://example.com/a.png"}],
    )  # fmt: skip
    page = page_of(alice, job)
    params = page[page.index("<h3>Parameters</h3>") :]
    words = re.sub(r"<[^>]+>", " ", params)  # what a person reads
    for internal in (
        "input_urls",
        "aspect_ratio",
        "{'file'",
        "{'upload'",
        "[{",
        str(file.pk) + "}",
    ):
        assert internal not in words
    for label in ("Prompt", "Aspect ratio", "Mode", "Reference images"):
        assert f"<dt>{label}</dt>" in params
    # The gallery result: its thumbnail, linked to the job that made it.
    assert f'href="/g/{source.code}/"' in params
    assert f'src="/g/{source.code}/files/0"' in params
    assert "Flux 2: a red kite over the sea" in params
    # The upload: a thumbnail served through this job's own access check.
    upload_url = reverse("generation-input", args=[job.code, "input_urls", 1])
    assert f'src="{upload_url}"' in params
    served = client_for(alice).get(upload_url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == png_bytes()
    # The link pasted: a link, never an <img> the page would fetch from elsewhere.
    assert 'href="https://example.com/a.png"' in params
    assert 'src="https://example.com' not in params


def test_booleans_dialogue_and_sub_models_read_as_people_say_them(alice, team) -> None:
    workspace, _ = team
    speech = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="elevenlabs-v3", kind="speech", estimate=1,
        token="s", state=State.SUCCEEDED, params={
            "dialogue": [{"text": "Hello there.", "voice": "Rachel"}, {"text": "Hi!", "voice": ""}],
            "stability": 0.5,
        },
    )  # fmt: skip
    params = page_of(alice, speech).split("<h3>Parameters</h3>")[1]
    assert "<li>Rachel: Hello there.</li>" in params
    assert "<li>—: Hi!</li>" in params
    assert "'text'" not in params
    video = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="kling-3", kind="video", estimate=1,
        token="v", state=State.SUCCEEDED,
        params={"prompt": "waves", "mode": "std", "duration": 3, "sound": True},
    )  # fmt: skip
    params = page_of(alice, video).split("<h3>Parameters</h3>")[1]
    assert "True" not in params
    assert "Yes" in params


def test_an_input_from_a_private_result_of_someone_else_is_not_shown(alice, team) -> None:
    workspace, carol = team
    secret = done(alice, workspace, "a private kite", private=True)
    job = edit_of(
        workspace, alice, prompt="public edit", input_urls=[{"file": secret.files.get().pk}]
    )
    params = page_of(carol, job).split("<h3>Parameters</h3>")[1]
    assert "a private kite" not in params
    assert f"/g/{secret.code}/" not in params
    assert "An earlier result you cannot see" in params
    assert f"/g/{secret.code}/files/0" in page_of(alice, job)  # its author sees it


def test_an_uploaded_input_is_served_only_to_those_who_see_the_job(alice, team, bob) -> None:
    workspace, carol = team
    mine = upload(workspace, alice)
    job = edit_of(
        workspace, alice, prompt="x", input_urls=[{"upload": str(mine.code)}], private=True
    )
    url = reverse("generation-input", args=[job.code, "input_urls", 0])
    assert client_for(alice).get(url).status_code == 200
    assert client_for(carol).get(url).status_code == 404  # a private job of someone else
    assert client_for(bob).get(url).status_code == 404  # another workspace
    for wrong in (["input_urls", 1], ["prompt", 0], ["nothing", 0]):
        assert (
            client_for(alice).get(reverse("generation-input", args=[job.code, *wrong])).status_code
            == 404
        )
    # An upload of another workspace named in a job's params is not served either.
    theirs = upload(bob.memberships.get().workspace, bob)
    job.params = {"prompt": "x", "input_urls": [{"upload": str(theirs.code)}, {"upload": "zz"}]}
    job.save()
    assert client_for(alice).get(url).status_code == 404
    url = reverse("generation-input", args=[job.code, "input_urls", 1])
    assert client_for(alice).get(url).status_code == 404


def test_results_open_in_a_lightbox_on_their_page(alice, team) -> None:
    workspace, _ = team
    job = done(alice, workspace, "a kite")
    page = page_of(alice, job)
    assert 'class="lightbox-link"' in page


def test_it_says_how_long_the_job_waited_and_ran(alice, team) -> None:
    from django.utils import timezone

    from generations.models import Generation

    workspace, _ = team
    job = done(alice, workspace, "a kite")
    start = timezone.now() - timezone.timedelta(minutes=5)
    Generation.objects.filter(pk=job.pk).update(
        created_at=start,
        accepted_at=start + timezone.timedelta(seconds=3),
        seen_running_at=start + timezone.timedelta(seconds=12),
        upstream_done_at=start + timezone.timedelta(seconds=12 + 47),
    )
    page = page_of(alice, job)
    assert "<dt>Waited</dt><dd>12 s before API in One started on it</dd>" in page
    assert "<dt>Ran</dt><dd>47 s</dd>" in page
