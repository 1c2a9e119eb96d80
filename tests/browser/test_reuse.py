"""Reusing a result in the browser (issue 15): Remix fills the same model's form with every
setting (seed included); Remix on another model fills what carries and names what did not."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_generate import sign_up

pytestmark = pytest.mark.browser


def test_remix_here_and_on_another_model(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Imagen 4").click()
    page.get_by_label("Prompt", exact=True).fill("a fox in the snow")
    page.get_by_label("Aspect ratio").select_option("4:3")
    page.locator("details.advanced > summary").click()
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Run Imagen 4").click()
    card = page.locator(".job-card").first
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    card.get_by_role("link", name="Details").click()
    details = page.url

    page.get_by_role("link", name="Remix", exact=True).click()
    expect(page.locator(".remix-note")).to_contain_text("every setting carried over")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a fox in the snow")
    expect(page.get_by_label("Aspect ratio")).to_have_value("4:3")
    expect(page.get_by_label("Seed")).to_have_value("7")

    page.goto(details)
    page.get_by_text("Remix on another model…").click()
    page.get_by_role("link", name="Flux 2").click()
    expect(page.get_by_role("heading", name="Flux 2")).to_be_visible()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a fox in the snow")
    note = page.locator(".remix-note")
    expect(note).to_contain_text("Aspect ratio 4:3: Flux 2 takes 1:1, 16:9, 9:16")
    expect(note).to_contain_text("Seed: Flux 2 does not take one.")


def test_run_three_copies_see_three_cards_one_set_and_compare_them(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a kite over the dunes")
    page.locator("#id_copies").fill("3")
    expect(page.locator("#estimate")).to_contain_text("× 3 = 15 credits")
    page.get_by_role("button", name="Run Flux 2").click()
    cards = page.locator("#jobs .job-card")
    expect(cards).to_have_count(3)
    for i in range(3):
        expect(cards.nth(i).locator(".state-badge")).to_have_text("Done", timeout=30_000)
    cards.first.get_by_role("link", name="Details").click()
    expect(page.get_by_role("heading", name="One of a set of 3")).to_be_visible()
    page.get_by_role("link", name="Compare the set").click()
    expect(page.get_by_role("heading", name="Compare")).to_be_visible()
    expect(page.locator(".compare-item img")).to_have_count(3)
    boxes = [page.locator(".compare-item img").nth(i).bounding_box() for i in range(3)]
    assert len({round(box["width"]) for box in boxes}) == 1  # the same size


def test_an_image_used_as_a_tools_input_shows_its_lineage(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a lighthouse on a cliff")
    page.get_by_role("button", name="Run Flux 2").click()
    card = page.locator("#jobs .job-card").first
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    page.goto("/gallery/")
    page.get_by_text("Use in…").first.click()
    page.get_by_role("link", name="Background Remover").first.click()
    expect(page.get_by_role("heading", name="Background Remover")).to_be_visible()
    page.get_by_role("button", name="Run Background Remover").click()
    expect(page.locator("#jobs .job-card")).to_have_count(2)  # the new card, above the first
    tool = page.locator("#jobs .job-card").first
    expect(tool).to_contain_text("Background Remover")
    expect(tool.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    tool.get_by_role("link", name="Details").click()
    lineage = page.locator(".lineage")
    expect(lineage).to_contain_text("Made from")
    lineage.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Flux 2")).to_be_visible()
    expect(page.locator(".lineage")).to_contain_text("Used in")


def test_star_a_result_and_find_it_under_starred(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a heron in the reeds")
    page.locator("#id_copies").fill("2")
    page.get_by_role("button", name="Run Flux 2").click()
    cards = page.locator("#jobs .job-card")
    expect(cards).to_have_count(2)
    for i in range(2):
        expect(cards.nth(i).locator(".state-badge")).to_have_text("Done", timeout=30_000)
    cards.first.get_by_role("link", name="Details").click()
    star = page.locator(".star-button")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    page.goto("/gallery/")
    expect(page.locator(".gallery-item")).to_have_count(2)
    page.get_by_label("Starred").check()
    expect(page.locator(".gallery-item")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"starred=on"))
    expect(page.locator(".gallery-item .gallery-star")).to_have_count(1)


def test_tick_results_then_star_them_and_download_them_as_a_zip(page, tmp_path) -> None:
    import json
    import zipfile

    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a lantern in the fog")
    page.locator("#id_copies").fill("3")
    page.get_by_role("button", name="Run Flux 2").click()
    cards = page.locator("#jobs .job-card")
    expect(cards).to_have_count(3)
    for i in range(3):
        expect(cards.nth(i).locator(".state-badge")).to_have_text("Done", timeout=30_000)
    page.goto("/gallery/")
    bar = page.locator("#gallery-selection")
    expect(bar.get_by_role("button", name="Download chosen (.zip)")).to_be_disabled()
    ticks = page.locator(".gallery-pick input")
    ticks.nth(0).check()
    ticks.nth(2).check()
    expect(bar.locator(".selection-count")).to_have_text("2 chosen")

    with page.expect_download() as download:
        bar.get_by_role("button", name="Download chosen (.zip)").click()
    path = tmp_path / "chosen.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert len([n for n in names if n != "manifest.json"]) == 2
    entries = manifest["jobs"]
    assert len(entries) == 2
    assert all("a lantern in the fog" in json.dumps(entry) for entry in entries)

    bar.get_by_role("button", name="★ Star chosen").click()
    expect(page.locator(".messages")).to_contain_text("Starred 2 results.")
    page.locator(".gallery-pick input").nth(1).check()
    page.locator(".gallery-pick input").nth(2).check()
    bar.get_by_role("button", name="Compare chosen").click()
    expect(page.get_by_role("heading", name="Compare")).to_be_visible()
    expect(page.locator(".compare-item img")).to_have_count(2)
    page.go_back()
    page.get_by_label("Starred").check()
    expect(page.locator(".gallery-item")).to_have_count(2)
    # The other filters answer as one sets them, kept in the address.
    page.get_by_label("Cost from (credits)").fill("6")
    page.get_by_label("Cost from (credits)").press("Tab")
    expect(page).to_have_url(re.compile(r"cost_min=6"))
    expect(page.get_by_text("Nothing matches")).to_be_visible()  # each cost 5
    page.get_by_label("Cost from (credits)").fill("")
    page.get_by_label("Cost from (credits)").press("Tab")
    expect(page.locator(".gallery-item")).to_have_count(2)
    page.get_by_label("Made by").select_option(index=1)  # the one member: whoever ran them
    expect(page).to_have_url(re.compile(r"member="))
    expect(page.locator(".gallery-item")).to_have_count(2)


def test_bulk_delete_then_undo(page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a paper boat on a pond")
    page.locator("#id_copies").fill("3")
    page.get_by_role("button", name="Run Flux 2").click()
    cards = page.locator("#jobs .job-card")
    expect(cards).to_have_count(3)
    for i in range(3):
        expect(cards.nth(i).locator(".state-badge")).to_have_text("Done", timeout=30_000)
    page.goto("/gallery/")
    items = page.locator(".gallery-item")
    expect(items).to_have_count(3)
    bar = page.locator("#gallery-selection")
    assert bar.evaluate("el => getComputedStyle(el).position") != "fixed"
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the grid is long
    page.locator(".gallery-pick input").nth(2).scroll_into_view_if_needed()
    page.locator(".gallery-pick input").nth(0).check()
    page.locator(".gallery-pick input").nth(1).check()
    # Once ticked, the actions float at the foot of the screen, wherever one has scrolled.
    assert bar.evaluate("el => getComputedStyle(el).position") == "fixed"
    box = bar.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 844 + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Delete chosen").click()
    expect(page.locator(".messages")).to_contain_text("Deleted 2 results.")
    expect(items).to_have_count(1)
    undo = page.locator(".undo-bar")
    expect(undo).to_contain_text("2 results deleted.")
    undo.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("Restored 2 results.")
    expect(items).to_have_count(3)
    expect(page.locator(".undo-bar")).to_have_count(0)


def test_add_to_a_board_open_it_and_share_it_with_a_client(page, browser, live_studio) -> None:
    sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a teapot on a shelf")
    page.locator("#id_copies").fill("3")
    page.get_by_role("button", name="Run Flux 2").click()
    cards = page.locator("#jobs .job-card")
    expect(cards).to_have_count(3)
    for i in range(3):
        expect(cards.nth(i).locator(".state-badge")).to_have_text("Done", timeout=30_000)
    page.goto("/gallery/")
    page.locator(".gallery-pick input").nth(0).check()
    page.locator(".gallery-pick input").nth(2).check()
    page.get_by_label("A new board's name").fill("For the client")
    page.get_by_role("button", name="Add to board").click()
    expect(page.locator(".messages")).to_contain_text("Added 2 results to “For the client”.")

    page.get_by_role("link", name="Boards").first.click()
    page.get_by_role("link", name="For the client").click()
    expect(page.get_by_role("heading", name="Board: For the client")).to_be_visible()
    expect(page).to_have_url(re.compile(r"board="))
    expect(page.locator(".gallery-item")).to_have_count(2)
    page.get_by_role("button", name="Make a share link").click()
    expect(page.locator(".messages")).to_contain_text("Share link made")
    link = page.locator(".share-links code").first.inner_text()

    client = browser.new_context()  # a client: no account, no cookies
    try:
        shared = client.new_page()
        shared.goto(link)
        expect(shared.get_by_role("heading", name="For the client")).to_be_visible()
        expect(shared.locator(".gallery-item")).to_have_count(2)
        picture = shared.locator(".gallery-item img").first
        picture.scroll_into_view_if_needed()
        expect(picture).to_have_js_property("complete", True)  # lazy: loaded once in view
        assert picture.evaluate("img => img.naturalWidth") > 0
        expect(shared.locator("main")).not_to_contain_text("credit")
        page.get_by_role("button", name="Revoke").click()
        expect(page.locator(".messages")).to_contain_text("revoked")
        shared.reload()
        expect(shared.get_by_role("heading", name="This link no longer opens")).to_be_visible()
    finally:
        client.close()
