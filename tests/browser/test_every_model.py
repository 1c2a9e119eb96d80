"""Every model in the catalog, run from its form in a browser against the sandbox: the card reaches
Done without a reload, the result is kept, shown (image drawn, video and audio playable) and
downloadable. Inputs that are files are uploaded from this machine, as a person would."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from generations import catalog
from generations.sandbox import media
from tests.browser.test_generate import sign_up

pytestmark = pytest.mark.browser

PROMPT = "a red fox standing in fresh snow at dawn"
# What a person must add to each model's form; everything else keeps the form's defaults.
FILLS: dict[str, dict[str, str]] = {
    "elevenlabs-v3": {"dialogue-0-text": "Welcome to the studio, everyone."},
    "suno": {"gpt_description_prompt": "a calm sea shanty about a lighthouse"},
    "bg-remover": {"image__upload": "fox.png"},
    "image-upscale": {"image__upload": "fox.png"},
    "face-swap": {"image__upload": "fox.png", "face_image__upload": "owl.png"},
    "video-bg-remover": {"video__upload": "clip.mp4"},
}
OUTPUT_TAGS = {"image": "img", "video": "video", "audio": "audio"}
CONTENT_TYPES = {"image": "image/", "video": "video/", "audio": "audio/"}


@pytest.fixture
def files(tmp_path):
    (tmp_path / "fox.png").write_bytes(media.make_image("a red fox", long_side=320))
    (tmp_path / "owl.png").write_bytes(media.make_image("a grey owl", long_side=320))
    (tmp_path / "clip.mp4").write_bytes(media.make_video("waves", seconds=1.0, sound=False))
    return tmp_path


def _run(page, spec, files) -> str:
    """Fill the model's form as a person would, run it, and return the new job's code."""
    page.goto(f"/?model={spec.slug}")
    expect(page.locator("#model-panel h2")).to_contain_text(spec.name)
    for name, value in FILLS.get(spec.slug, {"prompt": PROMPT}).items():
        field = page.locator(f"[name='{name}']")
        if name.endswith("__upload"):
            field.set_input_files(files / value)
        else:
            field.fill(value)
    expect(page.locator("#estimate")).to_contain_text("credit")
    before = page.locator(".job-card").count()
    page.get_by_role("button", name=f"Run {spec.name}").click()
    expect(page.locator(".job-card")).to_have_count(before + 1)  # the card came in by htmx
    card = page.locator(".job-card").first
    expect(card.locator(".job-model")).to_have_text(spec.name)
    return card.get_attribute("id").removeprefix("job-")


def _media_ready(element) -> bool:
    """True once the browser has read the file's header: it can play it (it knows its length)."""
    return element.evaluate(
        """el => new Promise(done => {
            if (el.readyState >= 1) return done(el.duration > 0);
            el.addEventListener('loadedmetadata', () => done(el.duration > 0), {once: true});
            el.addEventListener('error', () => done(false), {once: true});
            el.load();
        })"""
    )


def test_every_model_runs_from_its_form_and_its_result_is_kept_shown_and_downloadable(
    page, files
) -> None:
    sign_up(page)
    specs = [spec for spec in catalog.MODELS.values() if spec.async_task]
    assert len(specs) == 18, [spec.slug for spec in specs]  # all but chat (its own page)
    codes = {spec.slug: _run(page, spec, files) for spec in specs}

    # All the jobs run side by side; each card, opened on its own page, ends Done.
    for spec in specs:
        page.goto(f"/g/{codes[spec.slug]}/")
        card = page.locator(".job-card")
        expect(card.locator(".state-badge")).to_have_text("Done", timeout=60_000)
        tag = OUTPUT_TAGS[spec.output]
        shown = card.locator(f".results {tag}")
        expect(shown.first).to_be_attached()
        for i in range(shown.count()):
            if tag == "img":
                shown.nth(i).scroll_into_view_if_needed()
                expect(shown.nth(i)).to_have_js_property("complete", True)
                assert shown.nth(i).evaluate("img => img.naturalWidth") > 0, spec.slug
            else:
                assert _media_ready(shown.nth(i)), f"{spec.slug}: the {tag} does not play"
        links = card.get_by_role("link", name=re.compile(r"^Download "))
        expect(links).to_have_count(shown.count())
        response = page.request.get(links.first.get_attribute("href"))
        assert response.status == 200, spec.slug
        assert response.headers["content-type"].startswith(CONTENT_TYPES[spec.output]), spec.slug
        assert "attachment" in response.headers.get("content-disposition", ""), spec.slug
        assert len(response.body()) > 1000, spec.slug
