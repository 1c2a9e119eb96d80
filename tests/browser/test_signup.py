from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOTS = "docs/screenshots"


def test_it_signs_up_and_lands_on_create(page) -> None:
    username = f"dana{uuid.uuid4().hex[:6]}"
    page.goto("/")
    expect(page).to_have_url("/accounts/login/?next=/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill("a long enough password 7")
    page.get_by_label("Password confirmation").fill("a long enough password 7")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", name="Create", exact=True)).to_be_visible()
    expect(page.locator(".topbar .workspace-name")).to_have_text(f"{username}'s workspace")
    expect(page.locator(".badge-sandbox")).to_be_visible()
    expect(page.locator(".footer")).to_contain_text("API in One Studio v")


def test_it_works_at_phone_width_with_the_keyboard(page) -> None:
    username = f"erin{uuid.uuid4().hex[:6]}"
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/accounts/signup/")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(f"{username}@example.com")  # optional: for password resets
    page.keyboard.press("Tab")
    page.keyboard.type("a long enough password 7")
    page.keyboard.press("Tab")
    page.keyboard.type("a long enough password 7")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Create", exact=True)).to_be_visible()
    page.keyboard.press("Tab")  # from the top of a page, the skip link comes first
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    # Nothing spills sideways on a phone.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.get_by_text("Menu").click()
    expect(page.get_by_role("link", name="Create", exact=True)).to_be_visible()
