"""What a file is, from its first bytes (never from its name or a claimed Content-Type)."""

from __future__ import annotations

import warnings
from io import BytesIO

from PIL import Image

# Types a browser may show inline from the studio's origin: raster images, video and audio (what
# sniff() recognises). Anything else (an SVG, HTML, a type someone claimed) is a download.
INLINE_TYPES = frozenset(
    {
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/heic",
        "video/mp4", "video/webm", "video/quicktime", "video/x-matroska",
        "audio/mpeg", "audio/wav", "audio/ogg", "audio/mp4", "audio/flac", "audio/aac",
    }
)  # fmt: skip
# Sent with every stored file: even shown inline, it runs no script and loads nothing else.
FILE_CSP = (
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
)


class TooManyPixels(ValueError):
    """An image whose header claims more pixels than the studio decodes (a pixel bomb)."""


def _too_many(what: str, size: str) -> TooManyPixels:
    cap = Image.MAX_IMAGE_PIXELS or 0
    return TooManyPixels(
        f"{what} {size}; the studio takes images of at most {cap / 1_000_000:.0f} megapixels."
    )


def check_pixels(image: Image.Image, what: str = "The image") -> Image.Image:
    """Refuses, before anything is decoded, an opened image above Image.MAX_IMAGE_PIXELS (the
    studio's MAX_IMAGE_PIXELS; Pillow itself only warns up to twice that)."""
    width, height = image.size
    cap = Image.MAX_IMAGE_PIXELS
    if cap and width * height > cap:
        raise _too_many(what, f"is {width} × {height} pixels")
    return image


def open_image(data: bytes, what: str = "The image") -> Image.Image:
    """Image.open (lazy: the header only) with the pixel cap checked; TooManyPixels above it."""
    try:
        with warnings.catch_warnings():  # Pillow warns past the cap; the studio refuses below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(bytes(data)))
    except Image.DecompressionBombError:  # Pillow's own refusal, past twice the cap
        cap = Image.MAX_IMAGE_PIXELS or 0
        raise _too_many(what, f"has more than {2 * cap / 1_000_000:.0f} megapixels") from None
    return check_pixels(image, what)


def pixel_problem(data: bytes, what: str = "The image") -> str | None:
    """Why these image bytes are not decoded (too many pixels), read from the header only."""
    try:
        open_image(data, what).close()
    except TooManyPixels as e:
        return str(e)
    except Exception:  # not an image Pillow reads: sniffing says what it is
        return None
    return None


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav"}
_FTYP = {  # ISO media by brand; any other brand is taken as MP4 video
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heic",
}
_EBML = b"\x1a\x45\xdf\xa3"


def sniff(data: bytes) -> str | None:
    """The MIME type of a media file from its first bytes, or None when unrecognised."""
    head = bytes(data[:64]) if data else b""
    for prefix, mime in _MAGIC:
        if head.startswith(prefix):
            return mime
    if head[:4] == b"RIFF":
        return _RIFF.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], "video/mp4")
    if head.startswith(_EBML):
        window = bytes(data[:4096])
        if b"webm" in window:
            return "video/webm"
        return "video/x-matroska" if b"matroska" in window else None
    return _mpeg_frame(head)


def _mpeg_frame(head: bytes) -> str | None:
    """MP3 or ADTS (AAC) from a frame header at the start, without an ID3 tag."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    if layer == 0:  # ADTS (AAC) has a 12-bit sync word and layer 0
        return "audio/aac" if head[1] & 0xF0 == 0xF0 else None
    if version != 1 and bitrate != 15 and rate != 3:
        return "audio/mpeg"
    return None
