"""Stored files cannot run script on the studio's origin: only raster images, video and audio
are kept as results (by their bytes, not their claimed type), and every stored file is served
with nosniff and a sandboxing CSP, inline only when it is a known-safe media type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from generations.filetypes import sniff
from generations.models import Generation, GenerationFile, State
from generations.sandbox.server import HOSTILE_SVG
from studio import ledger
from tests.test_generate import png_bytes, post_form

pytestmark = pytest.mark.django_db


def test_an_svg_result_is_not_kept_and_the_bill_is_what_the_upstream_charged(
    alice_client, upstream, django_capture_on_commit_callbacks
) -> None:
    post_form(
        alice_client,
        "flux-2",
        {"token": "svg", "prompt": "a logo [sandbox:svg]", "type": "pro", "resolution": "1K"},
        django_capture_on_commit_callbacks,
    )
    job = Generation.objects.get()
    assert job.state == State.FAILED
    assert job.error_message == (
        "API in One finished this job, but a result was not an image file the studio keeps "
        "(it said it was image/svg+xml): the studio did not keep it."
    )
    assert not job.files.exists()
    assert job.consumed_credits is not None
    assert ledger.job_cost(job) == job.consumed_credits  # charged upstream: not "nothing"
    card = alice_client.get(f"/g/{job.code}/card").content.decode()
    assert "API in One finished this job, but a result was not an image" in card


def planted(alice, content_type: str, data: bytes, name: str) -> Generation:
    """A result stored by an older studio (or any bug) with whatever type it claimed."""
    job = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "x"}, estimate=5, token=name, state=State.SUCCEEDED,
        consumed_credits=Decimal(5),
    )  # fmt: skip
    result = GenerationFile(generation=job, kind="image", content_type=content_type, size=len(data))
    result.file.save(name, ContentFile(data), save=False)
    result.save()
    return job


def test_a_stored_svg_is_a_download_with_a_sandboxing_policy(alice, alice_client) -> None:
    job = planted(alice, "image/svg+xml", HOSTILE_SVG, "old.svg")
    response = alice_client.get(f"/g/{job.code}/files/0")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox;")
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_a_png_is_shown_inline_but_still_sandboxed(alice, alice_client) -> None:
    job = planted(alice, "image/png", png_bytes(), "ok.png")
    response = alice_client.get(f"/g/{job.code}/files/0")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["Content-Security-Policy"].startswith("sandbox;")
    download = alice_client.get(f"/g/{job.code}/files/0?download=1")
    assert download["Content-Disposition"].startswith("attachment;")


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_players_can_seek_a_stored_file_by_its_byte_ranges(alice, alice_client) -> None:
    data = png_bytes()
    job = planted(alice, "image/png", data, "range.png")
    url = f"/g/{job.code}/files/0"
    whole = alice_client.get(url)
    assert whole.status_code == 200
    assert whole["Accept-Ranges"] == "bytes"
    part = alice_client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert part["Content-Length"] == "10"
    assert body(part) == data[10:20]
    assert part["Content-Security-Policy"].startswith("sandbox;")
    tail = alice_client.get(url, HTTP_RANGE="bytes=-8")
    assert body(tail) == data[-8:]
    rest = alice_client.get(url, HTTP_RANGE="bytes=100-")
    assert body(rest) == data[100:]
    past = alice_client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert past.status_code == 416
    assert past["Content-Range"] == f"bytes */{len(data)}"


def test_a_file_gone_from_storage_is_a_404_with_a_sentence(alice, alice_client) -> None:
    job = planted(alice, "image/png", png_bytes(), "gone.png")
    result = job.files.get()
    result.file.storage.delete(result.file.name)
    response = alice_client.get(f"/g/{job.code}/files/0")
    assert response.status_code == 404
    assert "no longer exists (a file removed from the studio's storage" in response.content.decode()


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"GIF87a" + bytes(8), "image/gif"),
        (b"\x00\x00\x00\x1cftypavif" + bytes(8), "image/avif"),
        (b"\x00\x00\x00\x1cftypheic" + bytes(8), "image/heic"),
        (b"\x00\x00\x00\x1cftypM4A " + bytes(8), "audio/mp4"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", None),  # RIFF, but neither WebP nor WAV
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", None),  # EBML, but neither kind
        (b"\xff\xf1\x50\x80" + bytes(8), "audio/aac"),  # ADTS
        (b"\xff\xe2\x90\x64" + bytes(8), "audio/mpeg"),  # MPEG 2.5, layer 3
        (b"\xff\xea\x90\x64" + bytes(8), None),  # version bits 01 are reserved
        (b"\xff\xfb\xf0\x64" + bytes(8), None),  # bitrate index 15 is not a frame
        (b"\xff\xfb", None),  # too short for a frame header
    ],
)
def test_it_sniffs_every_kind_it_names(head: bytes, mime: str | None) -> None:
    assert sniff(head) == mime
