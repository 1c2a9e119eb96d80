"""Back after htmx navigation shows a whole page, never the fragment htmx fetched for the same
address (responses that differ by HX-Request say so in Vary; history restores get whole pages)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_generate import sign_up

pytestmark = pytest.mark.browser


def assert_whole_page(page) -> None:
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("footer.footer")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"


def test_back_after_picking_models_and_leaving_shows_whole_pages(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    expect(page).to_have_url(re.compile(r"model=flux-2"))
    page.get_by_role("link", name="Imagen 4").click()
    expect(page).to_have_url(re.compile(r"model=imagen-4"))
    page.goto("/gallery/")
    page.go_back()
    expect(page).to_have_url(re.compile(r"model=imagen-4"))
    assert_whole_page(page)
    page.go_back()
    expect(page).to_have_url(re.compile(r"model=flux-2"))
    assert_whole_page(page)
    page.reload()
    assert_whole_page(page)


def test_back_after_a_gallery_filter_shows_the_whole_gallery(page) -> None:
    sign_up(page)
    page.goto("/gallery/")
    page.get_by_label("Search prompts").fill("kite")
    expect(page).to_have_url(re.compile(r"q=kite"))
    page.goto("/usage/")
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=kite"))
    assert_whole_page(page)


def test_an_ended_session_sends_htmx_to_log_in_and_the_prompt_survives(page, live_studio) -> None:
    username = sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    prompt = "a long prompt I would hate to type twice: a lighthouse in the fog"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.context.clear_cookies(name="sessionid")  # logged out in another tab
    page.get_by_role("button", name="Run Flux 2").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=%2F%3Fmodel%3Dflux-2"))
    assert page.locator("header.topbar").count() == 1  # a page, not a page inside the form
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("a long enough password 7")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/\?model=flux-2$"))
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(prompt)
    expect(page.locator(".job-card")).to_have_count(0)  # nothing ran while logged out


def test_escape_closes_a_menu_and_ctrl_enter_runs_the_job(page) -> None:
    sign_up(page)
    page.set_viewport_size({"width": 390, "height": 800})  # the menu is a button on a phone
    page.get_by_text("Menu").click()
    expect(page.locator("details.nav-toggle")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(page.locator("details.nav-toggle")).not_to_have_attribute("open", "")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a kite by keyboard")
    page.get_by_label("Prompt", exact=True).press("Control+Enter")
    expect(page.locator(".job-card")).to_have_count(1)
    expect(page.locator(".job-card").first).to_contain_text("a kite by keyboard")
