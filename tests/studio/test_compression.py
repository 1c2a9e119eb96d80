"""Pages are compressed for browsers that say they take gzip; media and streams never are."""

from __future__ import annotations

import gzip

import pytest
from django.urls import reverse

from tests.test_gallery import done

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


def test_pages_are_gzipped_media_and_streams_are_not(alice, alice_client) -> None:
    page = alice_client.get("/?model=flux-2", HTTP_ACCEPT_ENCODING="gzip")
    assert page["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page["Vary"]
    assert b"Run Flux 2" in gzip.decompress(page.content)
    plain = alice_client.get("/?model=flux-2")
    assert "Content-Encoding" not in plain
    assert len(page.content) * 3 < len(plain.content)  # several times smaller
    job = done(alice, alice.memberships.get().workspace, "a fox")
    image = alice_client.get(
        reverse("generation-file", args=[job.code, 0]), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert "Content-Encoding" not in image
    zipped = alice_client.get(reverse("gallery-zip"), HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in zipped
