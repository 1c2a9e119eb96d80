"""Remix (issue 15): a new form filled from an earlier job, on its own model with every setting
and input, or on another model with what means the same there and a note of what did not carry."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from generations import catalog, remix
from generations.models import Generation, State
from tests.conftest import client_for
from tests.test_gallery import done
from tests.test_job_page import upload

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


def job(workspace, user, slug: str, params: dict, **fields) -> Generation:
    spec = catalog.get(slug)
    return Generation.objects.create(
        workspace=workspace, user=user, model_slug=slug, kind=spec.kind, params=params,
        estimate=spec.estimate(params), token=f"r{Generation.objects.count()}",
        state=State.SUCCEEDED, **fields,
    )  # fmt: skip


def form_of(user, slug: str, source: Generation):
    response = client_for(user).get("/", {"model": slug, "remix": str(source.code)})
    assert response.status_code == 200
    return response.context_data["form"], html.unescape(response.content.decode())


def test_a_remix_on_its_own_model_carries_every_setting_and_input_with_the_seed(alice) -> None:
    workspace = alice.memberships.get().workspace
    params = {
        "model": "imagen4-ultra", "prompt": "a red fox", "negative_prompt": "blur",
        "aspect_ratio": "16:9", "num_images": 2, "seed": 42,
    }  # fmt: skip
    source = job(workspace, alice, "imagen-4", params)
    form, page = form_of(alice, "imagen-4", source)
    shown = {name: str(value) for name, value in params.items()}  # as the form's boxes hold them
    assert form.raw_params() == shown  # every setting, seed included
    assert form.estimate() == source.estimate  # so the same price before Run
    assert "every setting carried over" in page
    assert f'href="/g/{source.code}/"' in page


def test_a_remix_refills_dialogue_lines_and_inputs(alice) -> None:
    workspace = alice.memberships.get().workspace
    lines = [
        {"text": "Hello.", "voice": "narrator"},
        {"text": "Hi!", "voice": "user"},
        {"text": "Bye."},
    ]
    speech = job(workspace, alice, "elevenlabs-v3", {"dialogue": lines, "stability": 0.7})
    form, _ = form_of(alice, "elevenlabs-v3", speech)
    assert form.raw_params()["dialogue"] == lines
    assert form.row_counts["dialogue"] == 3
    fox = done(alice, workspace, "a fox")
    file = fox.files.get()
    mine = upload(workspace, alice)
    refs = [{"file": file.pk}, {"url": "https://example.com/a.png"}, {"upload": str(mine.code)}]
    edit = job(workspace, alice, "flux-2", {"prompt": "the fox at night", "input_urls": refs})
    form, page = form_of(alice, "flux-2", edit)
    assert form["input_urls__pick"].value() == [str(file.pk)]
    assert form["input_urls"].value() == "https://example.com/a.png"
    assert "Reference images: the uploaded file" in page


def test_a_remix_on_another_model_carries_what_means_the_same_and_says_what_did_not(alice) -> None:
    workspace = alice.memberships.get().workspace
    params = {
        "model": "imagen4-fast", "prompt": "a red fox", "negative_prompt": "blur",
        "aspect_ratio": "4:3", "num_images": 2, "seed": 42,
    }  # fmt: skip
    source = job(workspace, alice, "imagen-4", params)
    form, page = form_of(alice, "flux-2", source)
    assert form.raw_params()["prompt"] == "a red fox"
    assert form.raw_params()["aspect_ratio"] == "1:1"  # Flux's own default: 4:3 is not Flux's
    notes = page.split('class="remix-note"')[1].split("</div>")[0]
    assert "Model (Fast): a choice of Imagen 4 only." in notes
    assert "Aspect ratio 4:3: Flux 2 takes 1:1, 16:9, 9:16" in notes
    assert "Negative prompt: Flux 2 does not take one." in notes
    assert "Seed: Flux 2 does not take one." in notes
    assert "Number of images: Flux 2 has no such setting." in notes
    # Ideogram takes 4:3: carried.
    plan = remix.plan(source, catalog.get("ideogram-v3"))
    assert plan.initial["aspect_ratio"] == "4:3"


def test_reference_images_move_to_the_other_models_image_input(alice) -> None:
    workspace = alice.memberships.get().workspace
    fox, owl = done(alice, workspace, "a fox"), done(alice, workspace, "an owl")
    refs = [{"file": fox.files.get().pk}, {"file": owl.files.get().pk}]
    source = job(workspace, alice, "flux-2", {"prompt": "both", "input_urls": refs})
    plan = remix.plan(source, catalog.get("seedream-4-5"))  # image_urls: both
    assert plan.picks == {"image_urls": [fox.files.get().pk, owl.files.get().pk]}
    plan = remix.plan(source, catalog.get("bg-remover"))  # one image: the first
    assert plan.picks == {"image": [fox.files.get().pk]}
    assert "the first 1 carried, 1 did not" in plan.not_carried[-1]
    plan = remix.plan(source, catalog.get("imagen-4"))  # no image input
    assert plan.picks == {}
    assert "Reference images: Imagen 4 takes no image." in plan.not_carried
    form, _ = form_of(alice, "seedream-4-5", source)
    assert form["image_urls__pick"].value() == [str(fox.files.get().pk), str(owl.files.get().pk)]


def test_durations_carry_where_the_other_model_allows_them(alice) -> None:
    workspace = alice.memberships.get().workspace
    source = job(workspace, alice, "kling-3", {"prompt": "waves", "duration": 10, "mode": "std"})
    assert remix.plan(source, catalog.get("seedance")).initial["duration"] == "10"
    five = job(workspace, alice, "kling-3", {"prompt": "waves", "duration": 3, "mode": "std"})
    plan = remix.plan(five, catalog.get("pixverse"))
    assert "duration" not in plan.initial
    [note] = [note for note in plan.not_carried if " 3: " in note]
    assert note == "Duration (seconds) 3: PixVerse takes 5, 8."


def test_no_remix_of_what_the_member_may_not_see(alice, team, bob) -> None:
    workspace, carol = team
    secret = job(workspace, alice, "flux-2", {"prompt": "alice's secret"}, private=True)
    theirs = job(bob.memberships.get().workspace, bob, "flux-2", {"prompt": "bob's own"})
    for source in (secret, theirs):
        response = client_for(carol).get("/", {"model": "flux-2", "remix": str(source.code)})
        page = response.content.decode()
        assert "remix-note" not in page
        assert source.params["prompt"].replace("'", "&#x27;") not in page
    assert client_for(carol).get("/", {"model": "flux-2", "remix": "nonsense"}).status_code == 200


def test_the_job_page_offers_remix_here_and_on_the_models_of_its_kind(alice, team) -> None:
    workspace, _ = team
    source = job(workspace, alice, "flux-2", {"prompt": "a fox"})
    page = client_for(alice).get(reverse("generation", args=[source.code])).content.decode()
    assert f"?model=flux-2&amp;remix={source.code}" in page
    assert f"?model=imagen-4&amp;remix={source.code}" in page
    assert f"?model=kling-3&amp;remix={source.code}" not in page  # another kind
    assert "Copy prompt" in page


# -- don't pay twice: the same model, settings, inputs and a fixed seed ------------------------


def test_the_form_says_when_this_exact_result_exists_already(alice, team) -> None:
    workspace, carol = team
    params = {
        "model": "imagen4-fast",
        "prompt": "a red fox",
        "aspect_ratio": "1:1",
        "num_images": 1,
        "seed": 42,
    }
    source = job(workspace, alice, "imagen-4", params)
    said = "You already have this exact result"
    form = {
        "token": "t", "model": "imagen4-fast", "prompt": "a red fox", "aspect_ratio": "1:1",
        "num_images": "1", "seed": "42",
    }  # fmt: skip
    shown = html.unescape(
        client_for(alice).post("/create/imagen-4/estimate", form).content.decode()
    )
    assert said in shown
    assert f'href="/g/{source.code}/"' in shown
    for changed in (
        {"seed": "43"},
        {"seed": ""},
        {"prompt": "a red fox!"},
        {"aspect_ratio": "16:9"},
    ):
        shown = client_for(alice).post("/create/imagen-4/estimate", {**form, **changed})
        assert said not in html.unescape(shown.content.decode()), changed
    _, page = form_of(alice, "imagen-4", source)  # a Remix, before anything is changed
    assert said in page
    # Someone else's private result is not theirs to reuse: not said.
    Generation.objects.filter(pk=source.pk).update(private=True)
    shown = client_for(carol).post("/create/imagen-4/estimate", form)
    assert said not in html.unescape(shown.content.decode())
