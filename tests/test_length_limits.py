"""Over-long text is refused with the catalog's message, never cut short: the fields carry their
limit for the page's counter (data-max-length), not the `maxlength` that truncates a paste."""

from __future__ import annotations

import re

import pytest

from generations import catalog
from generations.models import Generation
from tests.conftest import sandbox_tasks

pytestmark = pytest.mark.django_db


def test_a_prompt_one_character_over_is_refused_with_the_catalogs_message(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/create/flux-2/", {"token": "t1", "prompt": "a" * 5001})
    assert response.status_code == 200
    assert response.context["form"].errors["prompt"] == [
        "Prompt must be at most 5000 characters (it has 5001)."
    ]
    assert Generation.objects.count() == 0
    assert sandbox_tasks(upstream) == 0


def test_text_fields_carry_their_limit_to_count_against_and_none_that_cuts(alice_client) -> None:
    page = alice_client.get("/?model=flux-2").content.decode()
    prompt = re.search(r"<textarea[^>]*name=\"prompt\"[^>]*>", page).group(0)
    assert 'data-max-length="5000"' in prompt
    for spec in catalog.MODELS.values():
        if spec.async_task:
            page = alice_client.get(f"/?model={spec.slug}").content.decode()
            assert "maxlength" not in page, spec.slug
    shots = alice_client.get("/?model=kling-3").content.decode()
    assert re.search(r'name="multi_prompt-0-prompt"[^>]*data-max-length="2500"|'
                     r'data-max-length="2500"[^>]*name="multi_prompt-0-prompt"', shots)  # fmt: skip


def test_a_line_break_counts_once_as_on_the_page(alice_client, upstream) -> None:
    """A textarea sends CRLF; 4,999 characters and a line break are 5,000, as the counter says."""
    text = "a" * 4998 + "\r\nb"
    response = alice_client.post("/create/flux-2/", {"token": "t2", "prompt": text})
    assert response.status_code in (200, 302)
    assert Generation.objects.get().params["prompt"] == "a" * 4998 + "\nb"
