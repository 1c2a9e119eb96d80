"""Choosing an input in the browser (issue 14, item 5): the gallery picker is thumbnails, newest
first, with "Load more" and a search, operable from the keyboard; an image dropped on or pasted
into an image input becomes its upload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_generate import sign_up

pytestmark = pytest.mark.browser

# A 2×2 PNG made in the page (canvas), handed to a drop or a paste as a File.
MAKE_PNG = """async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#c33"; ctx.fillRect(0, 0, 64, 64);
  const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], "dropped.png", { type: "image/png" }));
  return transfer;
}"""


def run_flux(page, prompt: str, copies: int = 1) -> None:
    page.goto("/?model=flux-2")
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.locator("#id_copies").fill(str(copies))
    page.get_by_role("button", name="Run Flux 2").click()
    cards = page.locator("#jobs .job-card")
    expect(cards.first).to_contain_text(prompt)
    for i in range(copies):
        expect(cards.nth(i).locator(".state-badge")).to_have_text("Done", timeout=30_000)


def test_pick_by_thumbnail_load_more_search_and_keyboard_then_scroll_the_gallery(
    page, browser, live_studio
) -> None:
    sign_up(page)
    for _ in range(3):
        run_flux(page, "a kite over the dunes", copies=8)
    run_flux(page, "a red fox in the snow")  # 25 jobs: one more than a page

    estimates: list[str] = []
    page.on("request", lambda r: estimates.append(r.url) if "/estimate" in r.url else None)
    page.goto("/?model=bg-remover")
    picker = page.locator("#picks-image__pick")
    thumbs = picker.locator(".thumbs .thumb")
    expect(thumbs).to_have_count(24)
    expect(thumbs.first).to_contain_text("a red fox in the snow")  # newest first
    expect(thumbs.first.locator("img")).to_have_js_property("complete", True)
    assert thumbs.first.locator("img").evaluate("img => img.naturalWidth") > 0
    picker.get_by_role("button", name="Load more").click()
    expect(thumbs).to_have_count(25)
    expect(picker.get_by_role("button", name="Load more")).to_have_count(0)

    before = len(estimates)
    picker.get_by_label("Search the gallery by prompt words").fill("fox")
    expect(thumbs).to_have_count(1)
    page.wait_for_timeout(600)  # longer than the estimate's delay: typing a search is not a change
    assert len(estimates) == before, estimates[before:]

    # From the keyboard: Tab from the search box into the radio group (on "None", the chosen
    # one), an arrow key to the fox.
    page.get_by_label("Search the gallery by prompt words").press("Tab")
    focused = page.evaluate("document.activeElement.name + '=' + document.activeElement.value")
    assert focused == "image__pick=", focused
    page.keyboard.press("ArrowRight")
    expect(thumbs.first.locator("input")).to_be_checked()
    expect(thumbs.first.locator("input")).to_be_focused()
    page.get_by_role("button", name="Run Background Remover").click()
    card = page.locator("#jobs .job-card").first
    expect(card).to_contain_text("Background Remover")
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    card.get_by_role("link", name="Details").click()
    expect(page.locator(".lineage")).to_contain_text("Made from")
    page.locator(".lineage").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Flux 2")).to_be_visible()
    expect(page.locator("main")).to_contain_text("a red fox in the snow")

    # The gallery (26 results with the cutout): 24, then the rest as one scrolls to the end.
    page.goto("/gallery/")
    items = page.locator(".gallery-item")
    expect(items).to_have_count(24)
    page.locator("#gallery-more").scroll_into_view_if_needed()
    expect(items).to_have_count(26)
    expect(page.locator("#gallery-more")).to_have_count(0)
    assert "after=" not in page.url  # loading more is not a new address

    # Without JavaScript: a plain next-page link (rel=next), the filters kept.
    plain = browser.new_context(
        base_url=live_studio.url,
        java_script_enabled=False,
        storage_state=page.context.storage_state(),
    )
    try:
        bare = plain.new_page()
        bare.goto("/gallery/?q=the")  # the 24 kites and the fox
        expect(bare.locator(".gallery-item")).to_have_count(24)
        bare.locator("a[rel=next]").click()
        expect(bare).to_have_url(re.compile(r"q=the&after="))
        expect(bare.locator(".gallery-item")).to_have_count(1)
        expect(bare.locator(".gallery-item").first).to_contain_text("a kite over the dunes")
        expect(bare.locator("a[rel=next]")).to_have_count(0)
    finally:
        plain.close()


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_an_image_dropped_or_pasted_becomes_the_upload(page, how) -> None:
    sign_up(page)
    page.goto("/?model=bg-remover")
    box = page.locator(".media-input").first
    transfer = page.evaluate_handle(MAKE_PNG)
    if how == "drop":
        box.dispatch_event("dragover", {"dataTransfer": transfer})
        expect(box).to_have_class(re.compile(r"\bdrop-over\b"))
        box.dispatch_event("drop", {"dataTransfer": transfer})
    else:
        box.evaluate(
            """(el, transfer) => el.querySelector("input[type=url], input[type=text]")
                 .dispatchEvent(new ClipboardEvent("paste", {clipboardData: transfer,
                                                             bubbles: true}))""",
            transfer,
        )
    upload = page.locator("input[name=image__upload]")
    assert upload.evaluate("el => el.files.length && el.files[0].name") == "dropped.png"
    preview = box.locator(".drop-preview")
    expect(preview).to_contain_text("dropped.png")
    expect(preview.locator("img")).to_have_count(1)
    page.get_by_role("button", name="Run Background Remover").click()
    card = page.locator("#jobs .job-card").first
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
