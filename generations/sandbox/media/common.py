"""Helpers every medium shares: stable seeds and random generators, aspect ratios and sizes,
fonts, the ffmpeg runner, opening and encoding images, and the caption band and SANDBOX mark
drawn on pictures and video frames. Nothing here makes a file on its own.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from generations.filetypes import TooManyPixels, open_image

IMAGE_FORMATS = {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG", "jpg": "JPEG"}
MAX_SIDE = 4096
FFMPEG_TIMEOUT = 180  # seconds; generous, the sandbox only makes short clips

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


# --------------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------------


def _seed_int(*parts: object) -> int:
    """A stable 63-bit integer for any mix of values (unlike hash(), not salted per process)."""
    text = "\x1f".join(repr(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_seed_int(*parts))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", (text or "").lower())


_ASPECT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*$")


def _aspect(aspect_ratio: str | None) -> float:
    """Width / height for "W:H" (also "WxH"); "auto" and "" mean square. Clamped to 1:4..4:1."""
    text = (aspect_ratio or "auto").strip().lower()
    if text in ("auto", "square"):
        return 1.0
    match = _ASPECT_RE.match(text)
    if not match or float(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        raise ValueError(
            f"invalid aspect_ratio {aspect_ratio!r}: expected 'W:H' such as '16:9', or 'auto'"
        )
    return min(4.0, max(0.25, float(match.group(1)) / float(match.group(2))))


def _dims(aspect_ratio: str | None, long_side: int, *, even: bool = False) -> tuple[int, int]:
    ratio = _aspect(aspect_ratio)
    long_side = int(min(MAX_SIDE, max(16, long_side)))
    if ratio >= 1:
        w, h = float(long_side), long_side / ratio
    else:
        w, h = long_side * ratio, float(long_side)
    if even:
        return max(2, round(w / 2) * 2), max(2, round(h / 2) * 2)
    return max(8, round(w)), max(8, round(h))


def _fit_even(w: int, h: int, long_side: int) -> tuple[int, int]:
    """(w, h) scaled down (never up) so the long side is at most long_side; both even."""
    scale = min(1.0, long_side / max(w, h))
    return max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _FONT_DIR / "DejaVuSans-Bold.ttf"
    if path.is_file():
        try:
            return ImageFont.truetype(str(path), size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


@functools.lru_cache(maxsize=1)
def _ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - imageio-ffmpeg is a dependency
        raise RuntimeError("imageio-ffmpeg is needed to encode video and MP3") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def _run_ffmpeg(args: Sequence[str], *, stdin: bytes | None = None) -> bytes:
    """Run ffmpeg and return its stdout; RuntimeError (with ffmpeg's own words) on failure."""
    proc = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=FFMPEG_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {_tail(proc.stderr)}")
    return proc.stdout


def _tail(stderr: bytes | str, limit: int = 400) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    text = text.strip()
    return text[-limit:] if text else "no message"


# Output options that keep ffmpeg's files free of version strings and timestamps.
_BITEXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact"]


def _open_image(data: bytes, what: str = "image") -> Image.Image:
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ValueError(f"{what} is empty: expected the bytes of a PNG, JPEG, WebP or GIF file")
    try:
        img = open_image(data, what)  # the cap checked before decoding (a 20 KB pixel bomb)
        img.load()
    except TooManyPixels as exc:
        raise ValueError(str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(
            f"{what} is not a readable image (expected PNG, JPEG, WebP or GIF bytes): {exc}"
        ) from exc
    img = ImageOps.exif_transpose(img) or img
    if img.mode not in ("RGB", "RGBA"):
        has_alpha = img.mode in ("LA", "PA") or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    return img


def _encode_image(img: Image.Image, fmt: str) -> bytes:
    key = (fmt or "png").strip().lower()
    if key not in IMAGE_FORMATS:
        raise ValueError(f"unsupported image format {fmt!r}: use 'png', 'webp' or 'jpeg'")
    kind = IMAGE_FORMATS[key]
    buf = io.BytesIO()
    if kind == "JPEG":
        if img.mode != "RGB":
            background = Image.new("RGB", img.size, (255, 255, 255))
            background.paste(img, mask=img.getchannel("A") if img.mode == "RGBA" else None)
            img = background
        img.save(buf, "JPEG", quality=90)
    elif kind == "WEBP":
        img.save(buf, "WEBP", quality=85, method=3)
    else:
        img.save(buf, "PNG", compress_level=4)
    return buf.getvalue()


def _require_bytes(data: bytes, what: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ValueError(f"{what} is empty")
    return bytes(data)


# --------------------------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------------------------


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float, max_lines: int
) -> list[str]:
    pieces: list[str] = []
    for word in text.split():
        while font.getlength(word) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            pieces.append(word[:cut])
            word = word[cut:]
        pieces.append(word)
    lines: list[str] = []
    for piece in pieces:
        if lines and font.getlength(f"{lines[-1]} {piece}") <= width:
            lines[-1] = f"{lines[-1]} {piece}"
        else:
            lines.append(piece)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "...") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "..."
    return lines or [""]


def _caption_overlay(w: int, h: int, prompt: str, *, mark: bool = True) -> Image.Image:
    """A transparent layer with the prompt on a translucent band and a small SANDBOX mark."""
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    size = max(10, round(math.sqrt(w * h) / 24))
    font = _font(size)
    pad = round(size * 0.6)
    text = " ".join((prompt or "").split()) or "(no prompt)"
    lines = _wrap(text, font, w - 2 * pad, 3)
    line_h = round(size * 1.25)
    band = line_h * len(lines) + 2 * pad
    draw.rectangle((0, h - band, w, h), fill=(0, 0, 0, 135))
    y = h - band + pad
    for line in lines:
        x = (w - font.getlength(line)) / 2
        draw.text((x + 1, y + 1), line, font=font, fill=(0, 0, 0, 170))
        draw.text((x, y), line, font=font, fill=(255, 255, 255, 255))
        y += line_h
    if mark:
        _draw_mark(draw, "SANDBOX", size)
    return overlay


def _draw_mark(draw: ImageDraw.ImageDraw, label: str, size: int) -> None:
    small = max(9, round(size * 0.55))
    font = _font(small)
    margin = round(small * 0.8)
    width = font.getlength(label)
    draw.rounded_rectangle(
        (margin, margin, margin + width + small, margin + small * 1.6),
        radius=small * 0.4,
        fill=(0, 0, 0, 125),
    )
    draw.text((margin + small / 2, margin + small * 0.25), label, font=font, fill=(255,) * 4)
