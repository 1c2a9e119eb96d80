"""Issue #14 in Chromium: an over-long prompt is counted and refused (never cut short), Escape
closes a menu, Ctrl/Cmd+Enter runs from any field, an invitation link copies, and choosing a
model puts the keyboard in its form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_generate import sign_up
from tests.browser.test_teams import invite

pytestmark = pytest.mark.browser


def test_an_over_long_prompt_is_counted_refused_and_never_runs(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    prompt = page.get_by_label("Prompt", exact=True)
    counter = page.locator("#id_prompt_count")
    expect(counter).to_have_text("0 / 5,000")
    prompt.fill("a" * 5001)  # as a paste puts it: all of it, nothing cut at 5,000
    assert prompt.evaluate("el => el.value.length") == 5001
    expect(counter).to_have_text("5,001 / 5,000 · 1 character over the limit")
    expect(counter).to_have_class("char-count over")
    assert "id_prompt_count" in (prompt.get_attribute("aria-describedby") or "")
    page.get_by_role("button", name="Run Flux 2").click()
    errors = page.locator(".field-invalid .errorlist")
    expect(errors).to_have_text("Prompt must be at most 5000 characters (it has 5001).")
    expect(page.locator(".job-card")).to_have_count(0)
    # The form came back by htmx: its counter with it, still over.
    expect(page.locator("#id_prompt_count")).to_contain_text("1 character over")
    page.get_by_label("Prompt", exact=True).press("End")
    page.get_by_label("Prompt", exact=True).press("Backspace")
    expect(page.locator("#id_prompt_count")).to_have_text("5,000 / 5,000")
    expect(page.locator("#id_prompt_count")).to_have_class("char-count")
    page.get_by_role("button", name="Run Flux 2").click()
    expect(page.locator(".job-card")).to_have_count(1)


def test_escape_closes_the_account_menu_and_focus_goes_back_to_its_button(page) -> None:
    sign_up(page)
    summary = page.locator("details.account-menu > summary")
    summary.click()
    expect(page.get_by_role("link", name="Workspace settings")).to_be_visible()
    page.get_by_role("link", name="Workspace settings").focus()
    page.keyboard.press("Escape")
    expect(page.locator("details.account-menu")).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()


def test_ctrl_enter_in_a_field_other_than_the_prompt_runs_the_job(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Imagen 4").click()
    page.get_by_label("Prompt", exact=True).fill("a harbour run from another field")
    page.get_by_label("Number of images").fill("2")
    page.get_by_label("Number of images").press("Control+Enter")
    expect(page.locator(".job-card")).to_have_count(1)
    expect(page.locator(".job-card").first).to_contain_text("a harbour run from another field")


def test_choosing_a_model_puts_the_keyboard_in_its_first_field(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Flux 2")).to_be_visible()
    expect(page.get_by_label("Prompt", exact=True)).to_be_focused()
    page.keyboard.type("typed straight away")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("typed straight away")


def test_an_invitation_link_copies_with_its_button(browser, live_studio) -> None:
    context = browser.new_context(
        base_url=live_studio.url, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_up(page)
        path = invite(page, "Member")
        row = page.locator(".ws-row", has=page.locator(".invite-link", has_text=path))
        button = row.get_by_role("button", name="Copy")
        expect(button).to_be_visible()
        button.click()
        expect(row.get_by_role("button", name="Copied")).to_be_visible()
        expect(row.get_by_role("status")).to_have_text("Copied the link.")
        assert page.evaluate("navigator.clipboard.readText()") == live_studio.url + path
        expect(row.get_by_role("button", name="Copy", exact=True)).to_be_visible(timeout=5_000)
    finally:
        context.close()


def test_without_javascript_the_invitation_link_is_text_and_no_button_shows(
    browser, live_studio
) -> None:
    context = browser.new_context(base_url=live_studio.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_up(page)
        path = invite(page, "Member")
        row = page.locator(".ws-row", has=page.locator(".invite-link", has_text=path))
        expect(row.locator(".copy-button")).to_be_hidden()
        expect(row.locator(".invite-link")).to_contain_text(path)
    finally:
        context.close()


def test_a_job_page_shows_its_result_large_and_opens_it_in_a_lightbox(page) -> None:
    """Issue 14, item 6: on its page the result is full width (it was a 129 px thumbnail), opens
    full size over the page, and Escape gives the keyboard back to it; parameters read as words."""
    sign_up(page)
    page.get_by_role("link", name="Imagen 4").click()
    page.get_by_label("Prompt", exact=True).fill("a lantern on a jetty")
    page.get_by_role("button", name="Run Imagen 4").click()
    card = page.locator(".job-card").first
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    card.get_by_role("link", name="Details").click()
    expect(page.locator(".params")).to_contain_text("Prompt")
    expect(page.locator(".params")).not_to_contain_text("num_images")
    image = page.locator(".job-card .result img").first
    expect(image).to_be_visible()
    assert image.bounding_box()["width"] > 400
    page.locator(".job-card .lightbox-link").first.click()
    dialog = page.locator("dialog#lightbox")
    expect(dialog).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('#lightbox img'); "
        "return i.complete && i.naturalWidth > 0; }"
    )
    expect(dialog.get_by_role("button", name="Close")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(".job-card .lightbox-link").first).to_be_focused()


def test_create_refreshes_its_running_cards_in_one_request_not_one_a_card(page) -> None:
    """Issue 16: two running jobs on Create are followed by one /g/cards request every 2 s; no
    card asks for itself."""
    sign_up(page)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.locator("#model-picker summary", has_text="Video").click()
    page.get_by_role("link", name="Kling 3.0").click()
    page.locator("#id_prompt").fill("waves on a shore")
    page.locator("#id_copies").fill("2")
    page.get_by_role("button", name="Run Kling 3.0").click()
    cards = page.locator("#jobs .job-card")
    expect(cards).to_have_count(2)
    # The seconds count on in the page between polls (an unchanged card is answered 304, so
    # the page, not the server, counts them).
    clock = cards.first.locator(".job-time")
    counted = False
    for _ in range(6):  # a window of 1.3 s in which no poll went out: only the page counted
        polls, before = len(asked), clock.inner_text()
        page.wait_for_timeout(1300)
        if cards.first.locator(".state-badge").inner_text() == "Done":
            break
        if len(asked) == polls:
            assert clock.inner_text() != before, "the running card's seconds stood still"
            counted = True
            break
    assert counted or cards.first.locator(".state-badge").inner_text() == "Done"
    for i in range(2):
        expect(cards.nth(i).locator(".state-badge")).to_have_text("Done", timeout=60_000)
    together = [url for url in asked if "/g/cards?" in url]
    assert together, "the cards were never refreshed together"
    assert all(url.count("code=") <= 2 for url in together)
    assert not [url for url in asked if url.endswith("/card")], "a card polled for itself"
