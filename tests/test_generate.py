"""The Generate flow end to end: form → Generation → django-q2 tasks (inline) → sandbox over
real HTTP → results kept → status card."""

from __future__ import annotations

import io
import re
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from generations import catalog, client, tasks
from generations.models import Generation, GenerationFile, State, Upload
from generations.upstream import studio_account
from studio import ledger
from studio.models import Budget, Membership, Workspace
from tests.conftest import client_for, make_user, sandbox_tasks

pytestmark = pytest.mark.django_db


def post_form(client: Client, slug: str, data: dict, capture, **extra):
    with capture(execute=True):
        return client.post(f"/create/{slug}/", data, **extra)


def png_bytes(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


def test_it_runs_an_image_job_to_its_kept_results(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    response = post_form(
        alice_client,
        "imagen-4",
        {"token": "t1", "model": "imagen4-fast", "prompt": "a red fox", "num_images": "2",
         "aspect_ratio": "16:9"},
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    generation = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/g/{generation.code}/"
    assert generation.state == State.SUCCEEDED
    assert generation.estimate == 8
    assert generation.consumed_credits == 8
    assert generation.upstream_task_id
    assert generation.request_body["model"] == "imagen4-fast"
    files = list(generation.files.all())
    assert [f.kind for f in files] == ["image", "image"]
    assert files[0].content_type == "image/png"
    assert (files[0].width, files[0].height) == (768, 432)
    assert files[0].preview  # a thumbnail
    page = alice_client.get(f"/g/{generation.code}/").content.decode()
    assert f"/g/{generation.code}/files/0" in page
    assert "hx-trigger" not in page  # a finished card does not poll
    image = alice_client.get(f"/g/{generation.code}/files/1")
    assert image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")
    download = alice_client.get(f"/g/{generation.code}/files/1?download=1")
    assert "attachment" in download["Content-Disposition"]


def test_it_creates_one_job_for_a_form_sent_twice(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    data = {"token": "same", "prompt": "a calm lake", "type": "pro", "resolution": "1K"}
    post_form(alice_client, "flux-2", data, django_capture_on_commit_callbacks)
    post_form(alice_client, "flux-2", data, django_capture_on_commit_callbacks)
    assert Generation.objects.count() == 1
    assert sandbox_tasks(upstream) == 1


@pytest.mark.parametrize(
    ("slug", "data", "field", "message"),
    [
        ("flux-2", {"prompt": "ab"}, "prompt", "at least 3"),
        ("kling-3", {"prompt": "a dog", "duration": "16"}, "duration", "15"),
        ("kling-3", {"prompt": "x" * 2501}, "prompt", "2500"),
        ("suno", {"model": "chirp-v3-5"}, None, ""),
        ("elevenlabs-v3", {"stability": "1.5"}, "stability", "1"),
        ("face-swap", {"image": "http://127.0.0.1/a.png", "face_image": "https://example.com/b.png"},
         "image", "private"),
        ("bg-remover", {"image": "file:///etc/passwd"}, "image", "http"),
        ("bg-remover", {"image": "http://169.254.169.254/latest/meta-data"}, "image", ""),
        ("bg-remover", {"image": "http://0x7f000001/x.png"}, "image", ""),
    ],
)  # fmt: skip
def test_it_refuses_bad_input_next_to_the_field_and_sends_nothing(
    alice_client, upstream, slug, data, field, message, django_capture_on_commit_callbacks
) -> None:
    response = post_form(
        alice_client, slug, {"token": "x", **data}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert not form.is_valid()
    if field:
        assert message in " ".join(form.errors[field])
    assert Generation.objects.count() == 0
    assert sandbox_tasks(upstream) == 0


def test_it_renders_and_estimates_every_model(alice_client) -> None:
    for spec in catalog.MODELS.values():
        if not spec.async_task:
            continue
        page = alice_client.get(f"/?model={spec.slug}")
        assert page.status_code == 200, spec.slug
        shown = f"Estimated cost: <strong>{spec.estimate()} credit"  # defaults, before a change
        assert shown in page.content.decode(), spec.slug


def test_it_updates_the_estimate_as_parameters_change(alice_client) -> None:
    response = alice_client.post(
        "/create/kling-3/estimate", {"mode": "pro", "duration": "15", "sound": "on"}
    )
    assert "1200 credits" in response.content.decode()
    response = alice_client.post("/create/kling-3/estimate", {"mode": "std", "duration": "3"})
    assert "120 credits" in response.content.decode()
    response = alice_client.post(
        "/create/elevenlabs-v3/estimate", {"dialogue-rows": "1", "dialogue-0-text": "x" * 1000}
    )
    assert "28 credits" in response.content.decode()


def test_it_adds_and_removes_dialogue_lines(alice_client) -> None:
    page = alice_client.post(
        "/create/elevenlabs-v3/rows",
        {"dialogue-rows": "2", "dialogue-0-text": "Hello", "rows": "dialogue:add"},
    ).content.decode()
    assert 'name="dialogue-2-text"' in page
    assert 'id="add-dialogue" autofocus' in page  # the keyboard stays on the button pressed
    assert "Hello" in page
    assert "errorlist" not in page  # nothing was submitted: no errors yet
    page = alice_client.post(
        "/create/elevenlabs-v3/rows", {"dialogue-rows": "3", "rows": "dialogue:remove"}
    ).content.decode()
    assert 'name="dialogue-1-text"' in page
    assert 'name="dialogue-2-text"' not in page


def test_it_speaks_a_two_voice_dialogue(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    post_form(
        alice_client,
        "elevenlabs-v3",
        {"token": "d", "dialogue-rows": "2", "dialogue-0-text": "Hello there.",
         "dialogue-0-voice": "narrator", "dialogue-1-text": "Hi!", "dialogue-1-voice": "user",
         "stability": "0.5"},
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    generation = Generation.objects.get()
    assert generation.params["dialogue"] == [
        {"text": "Hello there.", "voice": "narrator"},
        {"text": "Hi!", "voice": "user"},
    ]
    assert generation.state == State.SUCCEEDED
    assert generation.files.get().content_type == "audio/mpeg"


def test_the_voice_box_offers_the_documented_voices_and_takes_any_name(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    page = alice_client.get("/?model=elevenlabs-v3").content.decode()
    assert 'list="id_dialogue-0-voice-suggestions"' in page
    listed = page.split('<datalist id="id_dialogue-0-voice-suggestions">')[1].split("</datalist>")[
        0
    ]
    assert listed == '<option value="narrator"><option value="user">'
    assert 'id="id_dialogue-1-voice-suggestions"' in page  # each line its own list
    post_form(
        alice_client,
        "elevenlabs-v3",
        {
            "token": "v",
            "dialogue-rows": "1",
            "dialogue-0-text": "Hi.",
            "dialogue-0-voice": "Rachel",
        },
        django_capture_on_commit_callbacks,
    )
    assert Generation.objects.get().params["dialogue"] == [{"text": "Hi.", "voice": "Rachel"}]


def test_it_runs_suno_in_custom_and_inspiration_modes(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    post_form(
        alice_client,
        "suno",
        {"token": "a", "model": "chirp-v4-5", "prompt": "[Verse] la", "style": "pop", "title": "T"},
        django_capture_on_commit_callbacks,
    )
    post_form(
        alice_client,
        "suno",
        {"token": "b", "model": "chirp-v3-5", "gpt_description_prompt": "a calm piano piece"},
        django_capture_on_commit_callbacks,
    )
    custom, inspiration = Generation.objects.order_by("created_at")
    assert custom.estimate == 10
    assert inspiration.estimate == 5
    assert custom.files.count() == 2  # Suno makes two variations
    assert inspiration.state == State.SUCCEEDED
    # Each sound has a picture of its waveform, which the gallery shows above its player.
    song = custom.files.first()
    assert song.preview
    with Image.open(song.preview) as picture:
        assert picture.size == (480, 160)
        assert picture.format == "WEBP"
    gallery = alice_client.get("/gallery/").content.decode()
    assert f'<img class="waveform" src="/g/{custom.code}/files/0?preview=1"' in gallery


def test_it_runs_kling_multi_shot(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    post_form(
        alice_client,
        "kling-3",
        {"token": "m", "mode": "std", "sound": "on", "multi_shots": "on", "multi_prompt-rows": "2",
         "multi_prompt-0-prompt": "a door opens", "multi_prompt-0-duration": "2",
         "multi_prompt-1-prompt": "a cat walks in", "multi_prompt-1-duration": "2"},
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    generation = Generation.objects.get()
    assert generation.params["multi_prompt"] == [
        {"prompt": "a door opens", "duration": 2},
        {"prompt": "a cat walks in", "duration": 2},
    ]
    assert generation.estimate == 240  # 4 s × (40 + 20 for sound)
    assert generation.state == State.SUCCEEDED
    assert generation.files.get().kind == "video"
    assert generation.files.get().preview  # a poster frame


def test_it_refuses_an_upload_that_is_not_what_it_claims(alice_client, upstream, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "http://127.0.0.1:9"
    fake = io.BytesIO(b"not really a png")
    fake.name = "photo.png"
    response = alice_client.post("/create/bg-remover/", {"token": "u", "image__upload": fake})
    assert "not an image" in " ".join(response.context["form"].errors["image__upload"])
    assert not Upload.objects.exists()


def test_it_refuses_an_upload_over_the_size_cap(alice_client, upstream, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "http://127.0.0.1:9"
    settings.MAX_UPLOAD_BYTES = 100
    image = io.BytesIO(png_bytes())
    image.name = "photo.png"
    response = alice_client.post("/create/bg-remover/", {"token": "u", "image__upload": image})
    assert "larger than" in " ".join(response.context["form"].errors["image__upload"])


def test_it_says_uploads_need_a_public_url(alice_client, upstream, settings) -> None:
    settings.STUDIO_PUBLIC_URL = ""
    image = io.BytesIO(png_bytes())
    image.name = "photo.png"
    response = alice_client.post("/create/bg-remover/", {"token": "u", "image__upload": image})
    assert "STUDIO_PUBLIC_URL" in " ".join(response.context["form"].errors["image"])


@pytest.mark.django_db(transaction=True)
def test_it_hands_an_upload_to_the_upstream_by_signed_link(live_server, upstream, settings) -> None:
    settings.STUDIO_PUBLIC_URL = live_server.url
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    image = io.BytesIO(png_bytes())
    image.name = "../../photo.png"
    client.post("/create/image-upscale/", {"token": "u", "image__upload": image})
    generation = Generation.objects.get()
    upload = Upload.objects.get()
    assert upload.content_type == "image/png"
    assert ".." not in upload.file.name
    assert generation.request_body["image"].startswith(live_server.url + "/inputs/")
    assert generation.state == State.SUCCEEDED, generation.error_message
    result = Image.open(generation.files.get().file)
    assert result.size == (128, 96)  # the upstream really fetched our upload and upscaled it
    # A tampered link serves nothing.
    tampered = generation.request_body["image"].replace("/inputs/", "/inputs/x")
    assert Client().get(tampered.replace(live_server.url, "")).status_code == 404


def test_it_reuses_a_gallery_result_as_input(
    alice_client, upstream, settings, live_server, django_capture_on_commit_callbacks
) -> None:
    settings.STUDIO_PUBLIC_URL = live_server.url
    post_form(
        alice_client,
        "flux-2",
        {"token": "a", "prompt": "a portrait"},
        django_capture_on_commit_callbacks,
    )
    result = GenerationFile.objects.get()
    page = alice_client.get("/?model=bg-remover").content.decode()
    assert f'value="{result.pk}"' in page  # offered in the gallery picker
    post_form(
        alice_client,
        "bg-remover",
        {"token": "b", "image__pick": str(result.pk)},
        django_capture_on_commit_callbacks,
    )
    cutout = Generation.objects.get(model_slug="bg-remover")
    assert cutout.params["image"] == {"file": result.pk}


def test_it_explains_an_upstream_failure_and_retries_it(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    post_form(
        alice_client,
        "flux-2",
        {"token": "f", "prompt": "boom [sandbox:fail]"},
        django_capture_on_commit_callbacks,
    )
    failed = Generation.objects.get()
    assert failed.state == State.FAILED
    assert failed.error_message.startswith("API in One:")
    card = alice_client.get(f"/g/{failed.code}/card").content.decode()
    assert "Retry" in card
    assert "hx-trigger" not in card
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(f"/g/{failed.code}/retry", {"token": uuid.uuid4().hex})
    again = Generation.objects.exclude(pk=failed.pk).get()
    assert again.retry_of == failed
    assert again.params == failed.params


def test_it_says_when_the_account_is_out_of_credits(
    alice_client, upstream, django_capture_on_commit_callbacks, settings
) -> None:
    upstream.sandbox.state.set_balance(settings.SANDBOX_API_KEY, 0)
    post_form(
        alice_client,
        "flux-2",
        {"token": "c", "prompt": "a cat"},
        django_capture_on_commit_callbacks,
    )
    generation = Generation.objects.get()
    assert generation.state == State.FAILED
    assert "out of credits" in generation.error_message


def test_it_marks_a_lost_create_unknown_and_never_resends_it(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    post_form(
        alice_client,
        "flux-2",
        {"token": "l", "prompt": "a cat [sandbox:lost]"},
        django_capture_on_commit_callbacks,
    )
    generation = Generation.objects.get()
    assert generation.state == State.UNKNOWN
    assert sandbox_tasks(upstream) == 1
    tasks.submit(generation.pk)  # delivered again: nothing happens
    assert sandbox_tasks(upstream) == 1
    card = alice_client.get(f"/g/{generation.code}/card").content.decode()
    assert "will not send it twice" in card


def test_a_running_job_canceled_keeps_the_result_the_upstream_charged_for(
    alice, alice_client, upstream
) -> None:
    workspace = alice.memberships.get().workspace
    task_id = client.create_image(
        studio_account(), {"model": "flux-2", "prompt": "a slow cat"}
    ).task_id
    running = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={"prompt": "a slow cat"}, estimate=5, token="k", state=State.RUNNING,
        upstream_task_id=task_id, accepted_at=timezone.now(), next_check_at=timezone.now(),
    )  # fmt: skip
    card = alice_client.post(f"/g/{running.code}/cancel", HTTP_HX_REQUEST="true").content.decode()
    running.refresh_from_db()
    assert running.state == State.CANCELED
    assert 'hx-trigger="every 5s"' in card  # only until the service says what it charged
    deadline = time.monotonic() + 15  # the upstream finishes anyway (a busy machine: later)
    while not client.get_task(studio_account(), task_id).finished:
        assert time.monotonic() < deadline, "the sandbox never finished the task"
        time.sleep(0.05)
    tasks.check(running.pk)
    tasks.record(running, client.get_task(studio_account(), task_id))
    running.refresh_from_db()
    assert running.state == State.CANCELED
    assert running.files.count() == 1  # finished and charged anyway: paid for, so kept
    assert not running.billing_open


def test_a_canceled_or_failed_card_says_what_it_cost(alice, alice_client) -> None:
    workspace = alice.memberships.get().workspace
    sent = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="kling-3", kind="video",
        params={"prompt": "a slow dog"}, estimate=300, token="c1", state=State.RUNNING,
        upstream_task_id="task-c1", accepted_at=timezone.now(),
    )  # fmt: skip
    ledger.hold(sent)
    card = alice_client.post(f"/g/{sent.code}/cancel", HTTP_HX_REQUEST="true").content.decode()
    assert "its 300-credit hold stays until API in One says what it charged" in card
    assert "Canceled." not in alice_client.get("/").content.decode()  # said on the card only
    sent.refresh_from_db()
    sent.close_bill(True, Decimal(300))  # the service ran it anyway
    card = alice_client.get(f"/g/{sent.code}/card").content.decode()
    assert "Charged 300 credits: API in One did the work." in card
    assert "hx-trigger" not in card  # the bill is closed: the final card
    failed = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={"prompt": "x"}, estimate=1, token="c2", state=State.RUNNING,
    )  # fmt: skip
    ledger.hold(failed)
    failed.fail("upstream_failed", "API in One: it broke")
    card = alice_client.get(f"/g/{failed.code}/card").content.decode()
    assert "Nothing charged: its hold was released." in card


def test_it_polls_while_active_and_stops_when_done(alice, alice_client) -> None:
    workspace = alice.memberships.get().workspace
    running = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={"prompt": "wait"}, estimate=5, token="p", state=State.RUNNING,
        accepted_at=timezone.now(),
    )  # fmt: skip
    card = alice_client.get(f"/g/{running.code}/card").content.decode()
    assert 'hx-trigger="every 2s"' in card
    assert "<progress" in card
    # The upstream has no cancel: the button says what it does to a job already sent.
    assert ">Stop waiting</button>" in card
    assert "It may still be charged." in card
    assert "keeps the result" in card


def test_it_hides_other_workspaces_jobs(alice, bob, upstream) -> None:
    workspace = alice.memberships.get().workspace
    generation = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={"prompt": "mine"}, estimate=5, token="s", state=State.FAILED,
    )  # fmt: skip
    bob_client = Client()
    bob_client.force_login(bob)
    for url in (
        f"/g/{generation.code}/",
        f"/g/{generation.code}/card",
        f"/g/{generation.code}/files/0",
    ):
        assert bob_client.get(url).status_code == 404, url
    for url in (f"/g/{generation.code}/cancel", f"/g/{generation.code}/retry"):
        assert bob_client.post(url).status_code == 404, url
    assert Generation.objects.count() == 1


def test_it_trusts_a_callback_only_as_a_nudge(alice, upstream) -> None:
    workspace = alice.memberships.get().workspace
    later = timezone.now() + timedelta(hours=1)
    generation = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={"prompt": "x"}, estimate=5, token="cb", state=State.RUNNING,
        upstream_task_id="sbx-unknown", accepted_at=timezone.now(), next_check_at=later,
    )  # fmt: skip
    client = Client()
    forged = client.post(
        f"/callbacks/{generation.code}/wrong-token",
        data={"data": {"status": "SUCCESS", "response": ["https://evil.example/x.png"]}},
        content_type="application/json",
    )
    assert forged.status_code == 404
    generation.refresh_from_db()
    assert generation.next_check_at == later
    assert generation.state == State.RUNNING


def test_it_sweeps_stuck_jobs_to_an_honest_end(alice, monkeypatch) -> None:
    # No upstream here: the job given up on is followed for its bill by a poller not run.
    monkeypatch.setattr(tasks, "kick_poller", lambda: None)
    workspace = alice.memberships.get().workspace
    long_ago = timezone.now() - timedelta(hours=3)
    sending = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image", params={},
        estimate=5, token="s1", state=State.SUBMITTING, submitted_at=long_ago, created_at=long_ago,
    )  # fmt: skip
    running = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image", params={},
        estimate=5, token="s2", state=State.RUNNING, upstream_task_id="t-old",
        accepted_at=long_ago, created_at=long_ago,
    )  # fmt: skip
    tasks.sweep()
    sending.refresh_from_db()
    running.refresh_from_db()
    assert sending.state == State.UNKNOWN
    assert running.state == State.FAILED
    assert running.billing_open  # the upstream has it and may still charge: followed for it
    assert "did not finish this job within" in running.error_message
    tasks.sweep()  # an unconfirmed job waits for its deadline before it is given up
    sending.refresh_from_db()
    assert sending.state == State.UNKNOWN
    Generation.objects.filter(pk=sending.pk).update(next_check_at=timezone.now())
    tasks.sweep()
    sending.refresh_from_db()
    assert sending.state == State.FAILED
    assert "never confirmed" in sending.error_message


def test_it_shows_the_position_in_the_studio_queue(alice, alice_client) -> None:
    workspace = alice.memberships.get().workspace
    jobs = [
        Generation.objects.create(
            workspace=workspace,
            user=alice,
            model_slug="flux-2",
            kind="image",
            params={"prompt": f"job {i}"},
            estimate=5,
            token=f"q{i}",
            created_at=timezone.now() + timedelta(seconds=i),
        )
        for i in range(3)
    ]
    assert [job.queue_position() for job in jobs] == [0, 1, 2]
    card = alice_client.get(f"/g/{jobs[2].code}/card").content.decode()
    assert "2 jobs ahead in the studio" in card


def test_it_takes_a_replayed_callback_as_one_more_look(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    post_form(
        alice_client,
        "flux-2",
        {"token": "r", "prompt": "a quiet cat"},
        django_capture_on_commit_callbacks,
    )
    generation = Generation.objects.get()
    assert generation.state == State.SUCCEEDED
    files, entries = generation.files.count(), generation.ledger.count()
    hook = f"/callbacks/{generation.code}/{generation.callback_token}"
    for _ in range(3):  # the same valid callback, replayed after the job ended
        response = Client().post(
            hook,
            {"data": {"task_id": "another", "status": "FAILED"}},
            content_type="application/json",
        )
        assert response.status_code == 204
    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert generation.files.count() == files
    assert generation.ledger.count() == entries


def test_it_gives_no_price_for_a_value_the_model_refuses(alice_client) -> None:
    """Imagen takes 1-4 images: 5 would be priced as 4 (or 0 as 1) for a job that cannot run."""
    for count in ("5", "0"):
        response = alice_client.post("/create/imagen-4/estimate", {"num_images": count})
        html = response.content.decode()
        assert "<strong>—</strong>" in html, count
        assert "the number of images given is one the model does not take" in html
    # After Run, the refused form says the same (not the price of the value the model refuses).
    html = alice_client.post("/create/imagen-4/", {"token": "t", "num_images": "5"}).content
    assert "Estimated cost: <strong>—</strong>" in html.decode()
    blank_prompt = alice_client.post("/create/imagen-4/estimate", {"num_images": "2"})
    assert "16 credits" in blank_prompt.content.decode()  # a field not filled in yet is fine


def test_a_wrong_reference_link_is_said_once(alice_client) -> None:
    page = alice_client.post(
        "/create/flux-2/", {"token": "u1", "prompt": "a cat", "input_urls": "not a url"}
    )
    errors = page.context["form"].errors["input_urls"]
    assert errors == ["None of this is a link: put one full link (https://…) per line."]
    page = alice_client.post(
        "/create/flux-2/",
        {"token": "u2", "prompt": "a cat",
         "input_urls": "https://93.184.216.34/a.png\nhttp://169.254.169.254/latest"},
    )  # fmt: skip
    [error] = page.context["form"].errors["input_urls"]
    assert error.startswith("http://169.254.169.254/latest: ")
    assert Generation.objects.count() == 0


def test_enter_in_a_field_runs_the_job_not_a_row_button(alice_client) -> None:
    """Enter presses a form's first submit button: it must be Run, not "Add a shot"."""
    html = alice_client.get("/?model=kling-3").content.decode()
    form = html[html.index('<form id="generation-form"') :]
    first = form[form.index("<button") : form.index("</button>")]
    assert 'type="submit"' in first
    assert "formaction" not in first
    assert "name=" not in first.split(">")[0]


def test_choosing_a_model_marks_it_in_the_list(alice_client) -> None:
    """htmx swaps the form; the list of models comes along (out of band) with the new one
    marked as the current one."""
    html = alice_client.get("/?model=imagen-4", HTTP_HX_REQUEST="true",
                            HTTP_HX_TARGET="model-panel").content.decode()  # fmt: skip
    picker = html[html.index('<nav id="model-picker"') : html.index("</nav>")]
    assert 'hx-swap-oob="true"' in picker
    current = picker[: picker.index('aria-current="true"')]
    assert current.rsplit("<a ", 1)[1].startswith('href="?model=imagen-4"')
    full = alice_client.get("/?model=imagen-4").content.decode()
    assert full.count('<nav id="model-picker"') == 1
    assert "hx-swap-oob" not in full


@pytest.mark.django_db(transaction=True)  # keeper threads use connections of their own
def test_a_slow_download_does_not_hold_up_other_jobs(upstream, settings, monkeypatch) -> None:
    """The poller hands finished jobs to its keeper threads: while one job's results download
    slowly, another job is still looked up, kept and marked done."""
    settings.STUDIO_RESULT_KEEPERS = 2
    alice = make_user("alice")
    workspace = alice.memberships.get().workspace
    account = studio_account()
    jobs = {}
    for prompt in ("slow lighthouse", "quick harbour"):
        task = client.create_image(account, {"model": "flux-2", "prompt": prompt})
        jobs[prompt] = Generation.objects.create(
            workspace=workspace, user=alice, model_slug="flux-2", kind="image",
            params={"prompt": prompt}, estimate=5, token=prompt, state=State.RUNNING,
            upstream_task_id=task.task_id, accepted_at=timezone.now(),
        )  # fmt: skip
    slow_url = ""
    for _ in range(100):  # both done upstream
        looked = {p: client.get_task(account, j.upstream_task_id) for p, j in jobs.items()}
        if all(t.finished for t in looked.values()):
            slow_url = looked["slow lighthouse"].result_urls[0]
            break
        time.sleep(0.05)
    download = client.download
    released = {}

    def slow_download(url, **kwargs):
        if url.split("?")[0] == slow_url.split("?")[0]:  # its link's expiry moves each second
            time.sleep(1.5)
            released["at"] = timezone.now()
        return download(url, **kwargs)

    monkeypatch.setattr(client, "download", slow_download)
    Generation.objects.update(next_check_at=timezone.now())  # the slow one is due first
    Generation.objects.filter(pk=jobs["quick harbour"].pk).update(
        next_check_at=timezone.now() + timedelta(milliseconds=50)
    )
    tasks.poll()
    slow, quick = (Generation.objects.get(pk=j.pk) for j in jobs.values())
    assert slow.state == quick.state == State.SUCCEEDED
    assert quick.finished_at < released["at"] <= slow.finished_at


def test_the_create_page_reads_its_cards_in_the_same_queries_however_many(
    alice, alice_client
) -> None:
    workspace = alice.memberships.get().workspace

    def end_jobs(count: int, start: int) -> None:
        for i in range(start, start + count):
            job = Generation.objects.create(
                workspace=workspace, user=alice, model_slug="flux-2", kind="image",
                params={"prompt": f"job {i}"}, estimate=5, token=f"q{i}", state=State.RUNNING,
            )  # fmt: skip
            ledger.hold(job)
            if i % 2:
                job.fail("upstream_failed", "API in One: it broke")  # "Nothing charged"
            else:
                GenerationFile.objects.create(
                    generation=job, position=0, kind="image", content_type="image/png",
                    file=ContentFile(png_bytes(), name=f"r{i}.png"), size=100,
                )  # fmt: skip
                job.succeed(Decimal(5))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get("/").status_code == 200
        return len(captured)

    end_jobs(2, 0)
    few = queries()
    end_jobs(8, 2)
    page = alice_client.get("/").content.decode()
    assert page.count("Nothing charged: its hold was released.") == 5
    assert queries() == few


def test_more_options_opens_when_something_in_it_is_wrong_or_set(alice_client) -> None:
    closed = '<details class="advanced">'
    opened = '<details class="advanced" open>'
    assert closed in alice_client.get("/?model=kling-3").content.decode()
    # Multi-shot on and no shot described: the error is inside "More options", which opens.
    page = alice_client.post(
        "/create/kling-3/",
        {"token": "adv", "mode": "std", "duration": "5", "aspect_ratio": "16:9", "sound": "on",
         "prompt": "a fox in snow", "multi_shots": "on", "multi_prompt-rows": "1"},
    ).content.decode()  # fmt: skip
    assert "Multi-shot needs at least one shot." in page
    assert opened in page
    assert not Generation.objects.exists()
    # Adding a shot keeps it open (the new row is in there); a wrong main field alone does not.
    page = alice_client.post(
        "/create/kling-3/rows",
        {"rows": "multi_prompt:add", "multi_shots": "on", "multi_prompt-rows": "1",
         "mode": "std", "duration": "5", "aspect_ratio": "16:9"},
    ).content.decode()  # fmt: skip
    assert opened in page
    assert 'name="multi_prompt-1-prompt"' in page
    page = alice_client.post(
        "/create/kling-3/", {"token": "adv2", "mode": "std", "duration": "99"}
    ).content.decode()
    assert closed in page


def test_a_retry_over_budget_from_a_card_goes_to_the_jobs_page_with_the_reason(
    alice, alice_client, monkeypatch
) -> None:
    failed = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "x"}, estimate=5, token="over", state=State.FAILED,
    )  # fmt: skip

    def over_budget(**kwargs):
        raise ledger.BudgetExceeded("Not enough credits left in your budget.")

    monkeypatch.setattr("generations.actions.start_job", over_budget)
    response = alice_client.post(
        f"/g/{failed.code}/retry", {"token": uuid.uuid4().hex}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == f"/g/{failed.code}/"  # not a whole page inside the card
    assert "Not enough credits left" in alice_client.get(f"/g/{failed.code}/").content.decode()
    assert Generation.objects.count() == 1


def test_a_refused_input_gets_its_own_message_only(alice_client, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "http://studio.example"
    page = alice_client.post(
        "/create/bg-remover/", {"token": "one", "image": "http://169.254.169.254/latest/"}
    ).content.decode()
    assert "private" in page
    assert "is required" not in page  # the person gave an image; it was refused, said once
    fake = SimpleUploadedFile("cat.png", b"not an image at all", content_type="image/png")
    page = alice_client.post(
        "/create/bg-remover/", {"token": "two", "image__upload": fake}
    ).content.decode()
    assert "is required" not in page
    assert not Generation.objects.exists()


def _errors(html: str) -> list[str]:
    """Every message of every error list on the page: (the list's id or "", the message)."""
    lists = re.findall(r'<ul class="errorlist"(?: id="([^"]*)")?>(.*?)</ul>', html, re.S)
    return [(ul_id, li) for ul_id, items in lists for li in re.findall(r"<li>(.*?)</li>", items)]


def test_what_is_wrong_with_shots_together_is_said_once_below_them(alice_client) -> None:
    shots = {"token": "s", "mode": "std", "duration": "5", "aspect_ratio": "16:9",
             "multi_shots": "on", "multi_prompt-rows": "2",
             "multi_prompt-0-prompt": "a door opens", "multi_prompt-0-duration": "6",
             "multi_prompt-1-prompt": "a cat walks in",
             "multi_prompt-1-duration": "12"}  # fmt: skip
    errors = _errors(alice_client.post("/create/kling-3/", shots).content.decode())
    # 18 s in all: said once, below the shots (a list of the block, no field id), not under
    # shot 1's prompt as well.
    assert len(errors) == 1
    assert errors[0][0] == ""
    assert "15" in errors[0][1]
    # A shot's own number out of range: said at that shot's field, once.
    html = alice_client.post(
        "/create/kling-3/", {**shots, "multi_prompt-1-duration": "0"}
    ).content.decode()
    assert [ul_id for ul_id, _ in _errors(html)] == ["id_multi_prompt-1-duration_errors"]
    assert not Generation.objects.exists()


def test_retry_from_the_create_page_adds_a_card_and_from_the_jobs_page_opens_the_new_one(
    alice, alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    failed = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "a kite"}, estimate=5, token="r", state=State.FAILED,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        card = alice_client.post(
            f"/g/{failed.code}/retry",
            {"token": uuid.uuid4().hex},
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL="http://testserver/",
        )
    first = Generation.objects.get(retry_of=failed)
    assert f'id="job-{first.code}"' in card.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"/g/{failed.code}/retry",
            {"token": uuid.uuid4().hex},
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"http://testserver/g/{failed.code}/",
        )
    second = Generation.objects.filter(retry_of=failed).exclude(pk=first.pk).get()
    assert response["HX-Redirect"] == f"/g/{second.code}/"


def test_canceling_a_sent_job_asks_first_and_a_queued_one_does_not(alice, alice_client) -> None:
    workspace = alice.memberships.get().workspace

    def card(state: str, token: str) -> str:
        job = Generation.objects.create(
            workspace=workspace, user=alice, model_slug="kling-3", kind="video",
            params={"prompt": "a dog"}, estimate=300, token=token, state=state,
        )  # fmt: skip
        return alice_client.get(f"/g/{job.code}/card").content.decode()

    assert "may still finish this job and charge for it" in card(State.RUNNING, "sent")
    assert "hx-confirm" not in card(State.QUEUED, "waiting")  # nothing to pay for yet


def test_a_media_box_names_its_input_once_and_its_sources_plainly(alice_client) -> None:
    page = alice_client.get("/?model=kling-3").content.decode()
    assert page.count(">Start image<") == 1  # the box's legend, not the link field's label too
    assert '<label for="id_image">Link</label>' in page
    assert '<label for="id_input_urls">Links</label>' in (
        alice_client.get("/?model=flux-2").content.decode()
    )


def test_a_retry_keeps_everything_its_author_chose_privacy_included(alice, alice_client) -> None:
    failed = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "a secret kite"}, estimate=5, token="p",
        state=State.FAILED, private=True,
    )  # fmt: skip
    alice_client.post(f"/g/{failed.code}/retry", {"token": uuid.uuid4().hex})
    again = Generation.objects.get(retry_of=failed)
    assert again.private
    assert again.params == failed.params


def test_a_retry_button_without_its_token_changes_nothing(alice, alice_client) -> None:
    failed = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "x"}, estimate=5, token="n", state=State.FAILED,
    )  # fmt: skip
    response = alice_client.post(f"/g/{failed.code}/retry", {"token": "1"}, follow=True)
    assert "out of date" in response.content.decode()
    assert Generation.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # six requests at once, each on its own connection
def test_six_retries_of_one_form_at_once_make_one_job_and_no_error(alice, upstream) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from studio.models import LedgerEntry

    failed = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "a kite"}, estimate=5, token="six", state=State.FAILED,
    )  # fmt: skip
    token = uuid.uuid4().hex

    def press() -> int:
        try:
            return client_for(alice).post(f"/g/{failed.code}/retry", {"token": token}).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: press(), range(6)))
    assert codes == [302] * 6
    again = Generation.objects.get(retry_of=failed)
    assert LedgerEntry.objects.filter(generation=again, kind="hold").count() == 1
    # A double click on the same button: still that one job.
    assert client_for(alice).post(f"/g/{failed.code}/retry", {"token": token}).status_code == 302
    assert Generation.objects.filter(retry_of=failed).count() == 1


def test_create_shows_what_is_left_to_spend_and_updates_it_on_run(
    alice, alice_client, monkeypatch
) -> None:
    """The member's budget and the workspace's pool, on Create; a Run's answer brings the
    figures after its hold."""
    monkeypatch.setattr(tasks, "enqueue_submit", lambda generation: None)  # not sent here
    workspace = alice.memberships.get().workspace
    Workspace.objects.filter(pk=workspace.pk).update(pool_enabled=True)
    ledger.grant(Workspace.objects.get(pk=workspace.pk), Decimal(50), by=alice, reason="test")
    Budget.objects.create(
        membership=Membership.objects.get(user=alice), limit=Decimal(100), period="month"
    )
    page = alice_client.get("/?model=flux-2").content.decode()
    assert "You have <strong>100</strong> of your 100 credits left this month" in page
    assert "The workspace's pool has <strong>50</strong> credits left." in page
    answer = alice_client.post(
        "/create/flux-2/",
        {"token": "b1", "prompt": "a red fox", "type": "pro", "resolution": "1K"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="model-panel",
    ).content.decode()
    estimate = Generation.objects.get().estimate
    assert 'id="balance" aria-live="polite" hx-swap-oob="true"' in answer
    assert f"You have <strong>{100 - estimate}</strong> of your 100 credits" in answer
    assert f"pool has <strong>{50 - estimate}</strong> credits left" in answer


def test_a_waveform_follows_the_sound_and_is_none_for_what_is_not_one() -> None:
    import wave

    from generations import previews

    assert previews.waveform(b"not a sound at all") is None
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:  # one second of silence, then one loud second
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 8000 + b"\xff\x7f\x01\x80" * 4000)
    with Image.open(io.BytesIO(previews.waveform(out.getvalue()))) as picture:
        pixels = picture.convert("L")
        quiet, loud = pixels.getpixel((100, 20)), pixels.getpixel((380, 20))
    assert quiet > 200  # the background: no bar that tall in the silent half
    assert loud < 150  # a bar reaches near the top in the loud half


def test_the_sweep_draws_the_waveforms_of_sounds_kept_before(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    from generations import tasks
    from generations.models import GenerationFile

    post_form(
        alice_client, "suno",
        {"token": "old", "model": "chirp-v3-5", "gpt_description_prompt": "a calm piano piece"},
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    GenerationFile.objects.update(preview="")  # as kept before the studio drew waveforms
    broken = GenerationFile.objects.first()
    assert tasks.draw_missing_waveforms(limit=5) == GenerationFile.objects.count()
    assert not GenerationFile.objects.filter(preview="").exists()
    with Image.open(GenerationFile.objects.get(pk=broken.pk).preview) as picture:
        assert picture.size == (480, 160)
    assert tasks.draw_missing_waveforms() == 0  # nothing left: nothing done
