from __future__ import annotations

import os
import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def sign_up(page) -> str:
    username = f"gen{uuid.uuid4().hex[:6]}"
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill("a long enough password 7")
    page.get_by_label("Password confirmation").fill("a long enough password 7")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Create", exact=True)).to_be_visible()
    return username


def test_it_runs_an_image_and_shows_it_live(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Imagen 4").click()
    expect(page.get_by_role("heading", name="Imagen 4")).to_be_visible()
    expect(page.locator("#estimate")).to_contain_text("8 credits")
    page.get_by_label("Prompt", exact=True).fill("a lighthouse on a blue sea at night")
    page.get_by_label("Number of images").fill("3")
    page.get_by_label("Number of images").press("Tab")
    expect(page.locator("#estimate")).to_contain_text("24 credits")  # before anything is sent
    page.get_by_role("button", name="Run Imagen 4").click()

    card = page.locator(".job-card").first
    expect(card).to_contain_text("a lighthouse on a blue sea")
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    expect(card.locator("img")).to_have_count(3)
    assert card.locator("img").first.evaluate("img => img.naturalWidth") > 0

    if os.environ.get("STUDIO_SCREENSHOTS"):
        page.set_viewport_size({"width": 1280, "height": 860})
        page.screenshot(path=f"{os.environ['STUDIO_SCREENSHOTS']}/create.png")

    # The result is in the gallery, found by words of its prompt, and used in a new job.
    page.get_by_role("link", name="Gallery").click()
    page.get_by_label("Search prompts").fill("night lighthouse")
    expect(page).to_have_url(re.compile(r"q=night(\+|%20)lighthouse"))  # htmx, address kept
    expect(page.locator(".gallery-item")).to_have_count(1)
    expect(page.locator(".gallery-item img")).to_have_js_property("complete", True)
    assert page.locator(".gallery-item img").evaluate("img => img.naturalWidth") > 0
    if os.environ.get("STUDIO_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['STUDIO_SCREENSHOTS']}/gallery.png")
    page.get_by_label("Search prompts").fill("purple elephant")
    expect(page.get_by_text("Nothing matches")).to_be_visible()
    page.get_by_label("Search prompts").fill("lighthouse")
    expect(page.locator(".gallery-item")).to_have_count(1)
    page.locator(".use-in summary").click()
    page.get_by_role("link", name="Background Remover", exact=True).click()
    picked = page.locator("#picks-image__pick .thumb", has=page.locator("input:checked"))
    expect(picked).to_contain_text("a lighthouse on a blue sea")


def test_it_shows_errors_next_to_fields_without_sending(page) -> None:
    sign_up(page)
    page.locator("summary", has_text="Video").click()
    page.get_by_role("link", name="Kling 3.0").click()
    page.get_by_role("textbox", name="Prompt", exact=True).fill("a dog")
    page.get_by_label("Duration").fill("20")
    page.get_by_role("button", name="Run Kling 3.0").click()
    expect(page.locator(".field-invalid .errorlist")).to_contain_text("15")
    expect(page.locator(".job-card")).to_have_count(0)


def test_it_plays_speech_from_a_two_line_dialogue(page) -> None:
    sign_up(page)
    page.locator("summary", has_text="Speech").click()
    page.get_by_role("link", name="ElevenLabs V3").click()
    page.locator("[name=dialogue-0-text]").fill("Welcome to the studio.")
    page.locator("[name=dialogue-0-voice]").fill("narrator")
    page.locator("[name=dialogue-1-text]").fill("Thanks! Show me around.")
    page.get_by_role("button", name="Add a line").click()
    expect(page.locator("[name=dialogue-2-text]")).to_be_visible()
    expect(page.locator("[name=dialogue-0-text]")).to_have_value("Welcome to the studio.")
    page.get_by_role("button", name="Remove the last").click()
    expect(page.locator("[name=dialogue-2-text]")).to_have_count(0)
    page.get_by_role("button", name="Run ElevenLabs V3").click()
    card = page.locator(".job-card").first
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    expect(card.locator("audio")).to_have_count(1)


def test_a_private_link_is_refused_beside_its_box_and_only_that_box_is_marked(page) -> None:
    sign_up(page)
    page.goto("/?model=bg-remover")
    page.locator("[name=image]").fill("http://169.254.169.254/latest/meta-data/")
    page.get_by_role("button", name="Run Background Remover").click()
    link_box = page.locator(".field-invalid", has=page.locator("[name=image]"))
    expect(link_box.locator(".errorlist")).to_contain_text("private")
    expect(page.locator(".job-card")).to_have_count(0)

    def border(name: str) -> str:
        return page.locator(f"[name={name}]").evaluate("el => getComputedStyle(el).borderColor")

    red = link_box.locator(".errorlist").evaluate("el => getComputedStyle(el).color")
    assert border("image") == red  # the link is marked as wrong
    assert border("image__upload") != red  # the upload box beside it is not


def test_quick_changes_end_on_the_last_estimate_without_console_errors(page) -> None:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_up(page)
    page.goto("/?model=imagen-4")
    expect(page.locator("#estimate")).to_contain_text("8 credits")
    # Changes faster than the server answers: each sends an estimate while the last is on its way.
    page.get_by_label("Number of images").evaluate(
        """el => ['2', '3', '4'].forEach(value => {
            el.value = value;
            el.dispatchEvent(new Event('change', {bubbles: true}));
        })"""
    )
    expect(page.locator("#estimate")).to_contain_text("32 credits")
    page.wait_for_timeout(300)  # any late answer would land now
    expect(page.locator("#estimate")).to_contain_text("32 credits")
    assert errors == []


def test_on_a_phone_run_brings_the_new_card_into_view(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_up(page)
    page.goto("/?model=flux-2")
    page.get_by_label("Prompt", exact=True).fill("a paper boat on a puddle")
    page.get_by_role("button", name="Run Flux 2").click()
    card = page.locator(".job-card").first
    expect(card).to_contain_text("a paper boat on a puddle")
    expect(card).to_be_in_viewport()  # below the whole form, yet where the person looks
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    # A mistake stays where it is: the form, with its message, in view.
    page.get_by_label("Prompt", exact=True).fill("ab")
    page.get_by_role("button", name="Run Flux 2").click()
    expect(page.locator(".field-invalid .errorlist")).to_be_in_viewport()


def test_keyboard_focus_survives_the_cards_refresh_and_the_forms_swaps(page) -> None:
    sign_up(page)
    page.goto("/?model=kling-3")  # seconds long at the tests' sandbox speed: the card refreshes
    page.get_by_role("textbox", name="Prompt", exact=True).fill("a slow tide")
    page.get_by_role("button", name="Run Kling 3.0").click()
    card = page.locator(".job-card").first
    expect(card.locator(".state-badge")).to_have_text(re.compile("Running|Queued|Sending"))
    cancel = card.get_by_role("button", name=re.compile("^(Cancel|Stop waiting)$"))
    cancel.focus()
    page.evaluate(
        "window.swaps = 0; document.body.addEventListener('htmx:afterSwap', () => window.swaps++)"
    )
    # The card was replaced (polled from here: wait_for_function evaluates a string in the page,
    # which its Content-Security-Policy forbids).
    for _ in range(50):
        if page.evaluate("window.swaps") >= 1:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.swaps") >= 1
    expect(page.locator(".job-card").first.locator("button[id^=cancel-]")).to_be_focused()
    # Choosing another model puts the keyboard in its form (its first field); adding a line
    # keeps the keyboard where it was.
    page.locator("summary", has_text="Speech").click()
    page.locator("#pick-elevenlabs-v3").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[name=dialogue-0-text]")).to_be_visible()
    expect(page.locator("#model-panel :focus")).to_have_count(1)
    page.get_by_role("button", name="Add a line").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[name=dialogue-2-text]")).to_be_visible()
    expect(page.locator("#add-dialogue")).to_be_focused()  # htmx puts it back as it settles


def test_a_too_large_upload_is_refused_at_once_with_a_sentence(page, tmp_path) -> None:
    sign_up(page)
    page.goto("/?model=bg-remover")
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (52 * 1024 * 1024))
    page.locator("input[type=file]").first.set_input_files(big)
    page.get_by_role("button", name="Run Background Remover").click()
    expect(page.locator("#request-error")).to_contain_text(
        "This request is too large: the studio takes at most 51 MB at once."
    )
    expect(page.locator(".job-card")).to_have_count(0)


def test_run_is_disabled_while_its_job_is_being_sent(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("three clicks, one kite")
    # Three clicks in one go (no human is faster): the first disables the button at once.
    states = page.evaluate(
        """() => {
            const run = document.querySelector("#run-button");
            const seen = [];
            for (let i = 0; i < 3; i++) { run.click(); seen.push(run.disabled); }
            return seen;
        }"""
    )
    assert states == [True, True, True]
    expect(page.locator(".job-card")).to_have_count(1)
    expect(page.get_by_role("button", name="Run Flux 2")).to_be_enabled()  # the fresh form
    page.wait_for_timeout(500)
    expect(page.locator(".job-card")).to_have_count(1)
