from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

QUESTION = "What is a credit?"


def sign_up(page) -> str:
    username = f"chat{uuid.uuid4().hex[:6]}"
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill("a long enough password 7")
    page.get_by_label("Password confirmation").fill("a long enough password 7")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Create", exact=True)).to_be_visible()
    return username


def test_it_streams_a_reply_with_its_thoughts_and_credits(page) -> None:
    sign_up(page)
    page.goto("/chat/")  # the nav link is opened from the menu in the phone test below
    expect(page.get_by_role("heading", name="Chat", exact=True)).to_be_visible()
    page.get_by_label("Message").fill(QUESTION)
    page.get_by_role("button", name="Start chat").click()

    expect(page.get_by_role("heading", name=QUESTION)).to_be_visible()
    reply = page.locator(".bubble-assistant").last
    expect(reply.locator(".bubble-text")).to_contain_text(QUESTION, timeout=30_000)
    expect(reply.locator(".bubble-credits")).to_contain_text("credit")
    expect(reply).not_to_have_attribute("aria-busy", "true")
    thoughts = reply.locator("details.thoughts")
    expect(thoughts).to_be_visible()
    thoughts.locator("summary").click()
    expect(thoughts.locator(".thoughts-text")).to_contain_text(QUESTION)
    expect(page.locator(".chat-list")).to_contain_text(QUESTION)

    # The chat's settings change for the next reply.
    page.locator(".chat-tools summary", has_text="Settings").click()
    page.get_by_label("Reasoning effort").select_option("low")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved: the next reply uses them.")).to_be_visible()

    # A follow-up is added in place (htmx) and streams into its own bubble.
    page.get_by_label("Message").fill("And a follow-up?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".bubble-user")).to_have_count(2)
    second = page.locator(".bubble-assistant").nth(1)
    expect(second.locator(".bubble-text")).to_contain_text("In short", timeout=30_000)
    expect(second.locator(".bubble-credits")).to_contain_text("credit")
    expect(page.get_by_label("Message")).to_have_value("")
    expect(page.get_by_label("Reasoning effort")).to_have_value("low")


def test_it_refuses_an_empty_message_in_place(page) -> None:
    sign_up(page)
    page.goto("/chat/")
    page.get_by_role("button", name="Start chat").click()
    expect(page.locator("#chat-form .errorlist")).to_contain_text("Write a message first.")
    expect(page.locator(".bubble")).to_have_count(0)


def test_it_works_at_phone_width_with_the_keyboard(page) -> None:
    sign_up(page)
    page.set_viewport_size({"width": 375, "height": 740})
    page.get_by_text("Menu").click()
    page.get_by_role("link", name="Chat", exact=True).click()
    expect(page.get_by_role("heading", name="Chat", exact=True)).to_be_visible()
    page.get_by_label("Message").focus()
    page.keyboard.type(QUESTION)
    page.keyboard.press("Control+Enter")
    reply = page.locator(".bubble-assistant").last
    expect(reply.locator(".bubble-credits")).to_contain_text("credit", timeout=30_000)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.get_by_text("Menu").click()
    expect(page.get_by_role("link", name="Chat", exact=True)).to_have_attribute(
        "aria-current", "page"
    )


def test_it_answers_without_javascript(browser, live_studio) -> None:
    context = browser.new_context(base_url=live_studio.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_up(page)
        page.goto("/chat/")
        page.get_by_label("Message").fill(QUESTION)
        page.locator(".chat-settings > summary").click()
        page.get_by_label("Show thinking").uncheck()
        page.get_by_role("button", name="Start chat").click()
        reply = page.locator(".bubble-assistant").last
        expect(reply.locator(".bubble-text")).to_contain_text(QUESTION)
        expect(reply.locator(".bubble-credits")).to_contain_text("credit")
        expect(reply.locator("details.thoughts")).to_have_count(0)
    finally:
        context.close()
