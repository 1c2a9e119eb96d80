"""A 20 KB PNG that claims 13000 × 13000 pixels is refused wherever the studio or its sandbox
would decode it, before anything is decoded."""

from __future__ import annotations

import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generations import previews
from generations.models import Generation
from generations.sandbox import media

pytestmark = pytest.mark.django_db


def png_bomb(side: int = 13000) -> bytes:
    """A valid 1-bit greyscale PNG of side × side black pixels: tiny on disk, 169 MP decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    pixels = zlib.compress(row * side, 9)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


BOMB = png_bomb()


def test_the_bomb_is_small() -> None:
    assert len(BOMB) < 40_000


@pytest.mark.parametrize("tool", [media.remove_background, media.upscale])
def test_the_sandbox_tools_refuse_it_undecoded(tool) -> None:
    with pytest.raises(ValueError, match="the studio takes images of at most 50 megapixels"):
        tool(BOMB)


def test_the_sandbox_face_swap_refuses_it() -> None:
    with pytest.raises(ValueError, match="megapixels"):
        media.face_swap(BOMB, BOMB)


def test_no_preview_is_made_of_it() -> None:
    assert previews.thumbnail(BOMB) is None


def test_below_twice_the_cap_it_is_refused_with_its_size() -> None:
    with pytest.raises(ValueError, match="is 9000 × 9000 pixels; the studio takes images of"):
        media.upscale(png_bomb(9000))


def test_an_upload_of_it_is_refused_beside_its_box(alice_client, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "http://studio.example"
    upload = SimpleUploadedFile("bomb.png", BOMB, content_type="image/png")
    page = alice_client.post(
        "/create/bg-remover/", {"token": "bomb", "image__upload": upload}
    ).content.decode()
    expected = "bomb.png has more than 100 megapixels; the studio takes images of at most 50"
    assert expected in page
    assert not Generation.objects.exists()


def test_the_cap_is_a_setting(settings) -> None:
    from PIL import Image

    assert Image.MAX_IMAGE_PIXELS == settings.MAX_IMAGE_PIXELS == 50_000_000
