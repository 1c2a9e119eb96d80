"""Real media files for the sandbox upstream.

Everything here is generated locally and deterministically: pictures are painted with numpy and
Pillow from the prompt's words and a seed, sound is synthesised with numpy, and video and MP3 are
encoded by the ffmpeg binary that imageio-ffmpeg ships. Each public function returns the bytes of
a complete file that a browser can show or play. Bytes that are not a usable image or video raise
``ValueError``; a failure of ffmpeg itself raises ``RuntimeError``.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import math
import re
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, UnidentifiedImageError

from generations.filetypes import TooManyPixels, open_image, sniff

__all__ = [
    "face_swap",
    "make_audio",
    "make_image",
    "make_poster",
    "make_video",
    "remove_background",
    "remove_video_background",
    "sniff",
    "upscale",
]

IMAGE_FORMATS = {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG", "jpg": "JPEG"}
MAX_SIDE = 4096
MUSIC_RATE = 44100
SPEECH_RATE = 22050
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


# --------------------------------------------------------------------------------------------
# Palettes and painted scenes
# --------------------------------------------------------------------------------------------

Colour = tuple[int, int, int]

_COLOUR_WORDS: dict[str, list[Colour]] = {
    "red": [(214, 40, 40)],
    "crimson": [(170, 20, 50)],
    "scarlet": [(235, 45, 30)],
    "ruby": [(190, 20, 60)],
    "orange": [(250, 140, 20)],
    "amber": [(255, 176, 0)],
    "yellow": [(250, 214, 50)],
    "lemon": [(250, 235, 90)],
    "gold": [(225, 175, 40)],
    "golden": [(230, 180, 50)],
    "green": [(40, 165, 70)],
    "lime": [(150, 220, 50)],
    "emerald": [(20, 150, 100)],
    "mint": [(150, 230, 190)],
    "olive": [(120, 130, 40)],
    "teal": [(0, 128, 128)],
    "cyan": [(0, 200, 220)],
    "turquoise": [(50, 210, 200)],
    "aqua": [(60, 220, 230)],
    "blue": [(30, 90, 220)],
    "navy": [(20, 30, 100)],
    "azure": [(40, 140, 240)],
    "cobalt": [(0, 70, 170)],
    "indigo": [(60, 30, 140)],
    "purple": [(130, 50, 180)],
    "violet": [(140, 80, 220)],
    "lavender": [(180, 160, 230)],
    "magenta": [(220, 40, 170)],
    "pink": [(245, 120, 175)],
    "rose": [(230, 90, 130)],
    "cherry": [(215, 40, 80)],
    "brown": [(120, 75, 40)],
    "chocolate": [(90, 50, 25)],
    "coffee": [(110, 70, 45)],
    "beige": [(225, 205, 170)],
    "cream": [(250, 240, 210)],
    "black": [(18, 18, 24)],
    "dark": [(30, 30, 45)],
    "white": [(240, 242, 245)],
    "grey": [(128, 130, 138)],
    "gray": [(128, 130, 138)],
    "silver": [(190, 195, 205)],
    "sunset": [(255, 120, 60), (245, 80, 120), (110, 50, 140)],
    "sunrise": [(255, 170, 80), (255, 215, 150), (140, 180, 230)],
    "dawn": [(250, 180, 150), (200, 170, 220), (120, 150, 210)],
    "dusk": [(90, 60, 130), (230, 120, 110), (40, 40, 90)],
    "forest": [(30, 95, 45), (85, 145, 60), (20, 55, 30)],
    "jungle": [(20, 120, 50), (110, 180, 60), (10, 60, 30)],
    "grass": [(80, 170, 60)],
    "leaf": [(70, 160, 60)],
    "ocean": [(0, 90, 160), (0, 160, 205), (0, 45, 100)],
    "sea": [(0, 105, 170), (40, 170, 210), (0, 55, 110)],
    "water": [(30, 130, 200), (120, 200, 230)],
    "lake": [(40, 110, 160), (120, 180, 210)],
    "river": [(50, 120, 170), (110, 170, 200)],
    "sky": [(110, 180, 245), (200, 225, 250)],
    "night": [(12, 16, 50), (40, 45, 110), (230, 230, 190)],
    "midnight": [(8, 10, 35), (30, 30, 80)],
    "space": [(10, 6, 32), (80, 30, 120), (200, 120, 255)],
    "galaxy": [(20, 8, 45), (110, 40, 150), (240, 140, 220)],
    "cosmic": [(15, 10, 40), (90, 40, 160), (60, 200, 230)],
    "fire": [(255, 80, 0), (255, 180, 0), (180, 20, 10)],
    "flame": [(255, 100, 10), (255, 200, 40), (190, 30, 10)],
    "lava": [(230, 50, 0), (255, 140, 0), (60, 15, 10)],
    "volcano": [(200, 40, 10), (60, 20, 20), (255, 130, 0)],
    "ice": [(200, 230, 250), (130, 190, 235), (245, 250, 255)],
    "snow": [(235, 240, 250), (180, 200, 225), (255, 255, 255)],
    "winter": [(200, 220, 240), (120, 150, 190), (245, 248, 252)],
    "frost": [(210, 235, 250), (150, 200, 235)],
    "desert": [(230, 190, 120), (200, 140, 80), (250, 220, 170)],
    "sand": [(225, 200, 150), (200, 170, 120)],
    "autumn": [(200, 90, 30), (230, 160, 40), (120, 50, 20)],
    "spring": [(160, 220, 120), (255, 190, 210), (250, 240, 150)],
    "summer": [(255, 200, 60), (80, 190, 230), (255, 140, 80)],
    "neon": [(255, 0, 200), (0, 255, 240), (40, 0, 80)],
    "cyberpunk": [(255, 20, 180), (0, 230, 255), (30, 0, 60)],
    "pastel": [(250, 200, 210), (200, 230, 250), (220, 250, 210)],
    "storm": [(60, 70, 85), (110, 120, 140), (200, 200, 210)],
    "rain": [(90, 105, 125), (150, 165, 185)],
    "cloud": [(220, 225, 235), (160, 170, 190)],
    "fog": [(190, 195, 200), (150, 155, 165)],
    "sun": [(255, 200, 60)],
    "sunny": [(255, 210, 80), (120, 190, 250)],
    "moon": [(225, 225, 205), (40, 50, 90)],
    "flower": [(240, 110, 160), (250, 220, 80)],
    "wine": [(110, 20, 40)],
    "coral": [(255, 120, 100)],
    "peach": [(255, 190, 150)],
    "copper": [(185, 100, 50)],
    "rust": [(160, 70, 30)],
}
_PLURALS = {"flowers": "flower", "leaves": "leaf", "clouds": "cloud", "seas": "sea"}

_STYLE_WORDS = {
    "landscape": {
        "mountain", "mountains", "hill", "hills", "landscape", "valley", "sunset", "sunrise",
        "forest", "desert", "canyon", "peak", "peaks", "field", "meadow", "alps", "dune", "dunes",
        "volcano", "countryside", "trail", "hike", "snow", "winter",
    },
    "waves": {
        "ocean", "sea", "wave", "waves", "beach", "water", "lake", "river", "surf", "coast",
        "shore", "harbor", "harbour", "island", "boat", "sail", "underwater", "bay",
    },
    "city": {
        "city", "skyline", "building", "buildings", "street", "urban", "town", "tokyo", "york",
        "paris", "london", "downtown", "cyberpunk", "skyscraper", "skyscrapers", "metropolis",
    },
    "abstract": {
        "abstract", "pattern", "geometric", "bubble", "bubbles", "circle", "circles", "dream",
        "neon", "psychedelic", "bokeh", "logo", "minimal", "shapes", "art",
    },
}  # fmt: skip
_STAR_WORDS = {
    "night",
    "midnight",
    "space",
    "galaxy",
    "cosmic",
    "star",
    "stars",
    "moon",
    "universe",
}


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255


def _mix(a: np.ndarray, b: np.ndarray | Iterable[float], t: float) -> np.ndarray:
    return a * (1 - t) + np.asarray(b, dtype=np.float32) * t


def _palette(prompt: str) -> list[np.ndarray]:
    """At least three colours: those the prompt names, else variations of them or of its hash."""
    colours: list[Colour] = []
    for word in _words(prompt):
        for colour in _COLOUR_WORDS.get(_PLURALS.get(word, word), []):
            if colour not in colours:
                colours.append(colour)
    palette = [np.array(c, dtype=np.float32) for c in colours[:5]]
    if not palette:
        digest = hashlib.sha256((prompt or "").strip().lower().encode("utf-8")).digest()
        hue, spread = digest[0] / 255, 0.05 + digest[1] / 255 * 0.12
        palette = [
            _hsv(hue, 0.62, 0.78),
            _hsv(hue + spread, 0.45, 0.96),
            _hsv(hue + 0.5 + spread, 0.55, 0.95),
        ]
    while len(palette) < 3:
        h, s, v = colorsys.rgb_to_hsv(*(palette[0] / 255))
        if len(palette) == 1:
            palette.append(_hsv(h + 0.04, max(0.2, s * 0.7), min(1.0, v * 0.6 + 0.45)))
        else:
            palette.append(_hsv(h - 0.06, min(1.0, s * 1.1), max(0.15, v * 0.45)))
    return palette


def _style(prompt: str, rng: np.random.Generator) -> str:
    words = set(_words(prompt))
    for style, keys in _STYLE_WORDS.items():
        if words & keys:
            return style
    return ("landscape", "waves", "abstract", "city")[int(rng.integers(0, 4))]


def _ridge(w: int, rng: np.random.Generator) -> np.ndarray:
    """A mountain ridge profile in 0..1 across w columns."""
    x = np.linspace(0, 1, w, dtype=np.float32)
    ridge = np.zeros(w, dtype=np.float32)
    for k in range(1, 7):
        ridge += rng.uniform(0.3, 1.0) / k * np.sin(2 * np.pi * (k * rng.uniform(0.6, 1.4) * x))
        ridge += rng.uniform(0, 0.5) / k * np.cos(2 * np.pi * k * x + rng.uniform(0, 6.3))
    ridge -= ridge.min()
    return ridge / max(float(ridge.max()), 1e-6)


def _paint(
    w: int, h: int, palette: list[np.ndarray], style: str, rng: np.random.Generator, *, stars: bool
) -> Image.Image:
    """The generative picture (no text): a gradient sky, a glowing sun and a style's shapes."""
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    tilt = rng.uniform(-0.25, 0.25)
    t = np.clip(ys / h + (xs / w - 0.5) * tilt, 0, 1)
    top, mid, low = _mix(palette[0], (0, 0, 0), 0.45), palette[0], _mix(palette[1], (255,) * 3, 0.2)
    img = np.empty((h, w, 3), dtype=np.float32)
    for c in range(3):
        img[..., c] = np.interp(t, (0.0, 0.55, 1.0), (top[c], mid[c], low[c]))

    if stars:
        n = int(w * h / 2500)
        sy, sx = rng.integers(0, max(1, h * 2 // 3), n), rng.integers(0, w, n)
        img[sy, sx] = _mix(img[sy, sx], (255, 255, 240), 0.9)

    horizon = h * rng.uniform(0.5, 0.66)
    sun_x, sun_y = w * rng.uniform(0.18, 0.82), horizon * rng.uniform(0.3, 0.75)
    radius = min(w, h) * rng.uniform(0.06, 0.13)
    brightest = max(palette, key=lambda c: float(c @ np.array([0.3, 0.59, 0.11], np.float32)))
    sun = _mix(brightest, (255, 248, 225), 0.5)
    reach = radius * 3.2 * 2.6  # beyond this the glow is under 1/500 of its peak
    x0, x1 = int(max(0, sun_x - reach)), int(min(w, sun_x + reach + 1))
    y0, y1 = int(max(0, sun_y - reach)), int(min(h, sun_y + reach + 1))
    dist = np.sqrt((xs[:, x0:x1] - sun_x) ** 2 + (ys[y0:y1] - sun_y) ** 2)
    patch = img[y0:y1, x0:x1]
    patch += (sun * 0.55) * np.exp(-((dist / (radius * 3.2)) ** 2))[..., None]
    disc = np.clip(radius - dist + 0.5, 0, 1)[..., None]
    patch += (sun - patch) * disc

    if style == "landscape":
        layers = int(rng.integers(3, 5))
        haze = _mix(low, (255, 255, 255), 0.2)
        base = _mix(palette[-1] if len(palette) > 3 else palette[1], (0, 0, 0), 0.55)
        for i in range(layers):
            depth = i / max(1, layers - 1)
            top_y = horizon - h * (0.28 - 0.12 * depth) + h * 0.1 * depth
            height = h * (0.26 - 0.1 * depth)
            ridge = top_y + height * (1 - _ridge(w, rng))
            colour = _mix(base, haze, 0.65 * (1 - depth))
            y0 = int(max(0, ridge.min() - 1))
            mask = np.clip(ys[y0:] - ridge[None, :] + 0.5, 0, 1)[..., None]
            img[y0:] += (colour - img[y0:]) * mask
    elif style == "waves":
        sea_top, sea_low = _mix(palette[1], (255,) * 3, 0.1), _mix(palette[0], (0, 0, 0), 0.55)
        y0 = min(h - 1, math.ceil(horizon))
        depth = (ys[y0:] - horizon) / max(1.0, h - horizon)
        sea = sea_top + (sea_low - sea_top) * depth[..., None]
        phase = 9.0 / (depth + 0.07) + 2.5 * np.sin(xs / w * 2 * np.pi * rng.uniform(1, 3) + 1)
        crest = np.clip((np.sin(phase) - 0.8) / 0.2, 0, 1)[..., None]
        sea = sea + crest * 60 * (0.3 + depth[..., None])
        glint = np.exp(-(((xs - sun_x) / (radius * (0.7 + 2.5 * depth))) ** 2))[..., None]
        sea = sea + sun * 0.45 * glint * (0.4 + 0.6 * crest)
        img[y0:] = sea
    elif style == "abstract":
        for _ in range(int(rng.integers(12, 24))):
            colour = palette[int(rng.integers(0, len(palette)))]
            colour = _mix(colour, (255,) * 3, rng.uniform(0, 0.35))
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            r = min(w, h) * rng.uniform(0.04, 0.22)
            x0, x1 = int(max(0, cx - r - 2)), int(min(w, cx + r + 2))
            y0, y1 = int(max(0, cy - r - 2)), int(min(h, cy + r + 2))
            if x1 <= x0 or y1 <= y0:
                continue
            d = np.sqrt((xs[:, x0:x1] - cx) ** 2 + (ys[y0:y1] - cy) ** 2)
            if rng.random() < 0.3:
                m = np.clip(1 - np.abs(d - r * 0.85) / (r * 0.08 + 1), 0, 1)
            else:
                m = np.clip((r - d) / (r * 0.1 + 1), 0, 1)
            m = (m * rng.uniform(0.3, 0.7))[..., None]
            img[y0:y1, x0:x1] += (colour - img[y0:y1, x0:x1]) * m

    # A soft vignette ties it together.
    vx, vy = (xs / w - 0.5) * 2, (ys / h - 0.5) * 2
    img *= (1 - 0.11 * (vx**2 + vy**2))[..., None]
    picture = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")

    if style == "city":
        draw = ImageDraw.Draw(picture)
        lights = _mix(palette[2], (255, 240, 180), 0.5)
        for layer in range(2):
            shade = _mix(palette[0], (0, 0, 0), 0.55 + 0.3 * layer)
            x = -rng.uniform(0, w * 0.05)
            while x < w:
                bw = w * rng.uniform(0.05, 0.12)
                top = h * (rng.uniform(0.25, 0.6) + 0.12 * layer)
                draw.rectangle((x, top, x + bw, h), fill=tuple(int(v) for v in shade))
                step = max(4.0, min(w, h) / 45)
                for wy in np.arange(top + step, h - step, step * 1.6):
                    for wx in np.arange(x + step * 0.7, x + bw - step, step * 1.4):
                        if rng.random() < 0.35 + 0.2 * layer:
                            draw.rectangle(
                                (wx, wy, wx + step * 0.6, wy + step * 0.8),
                                fill=tuple(int(v) for v in _mix(shade, lights, 0.85)),
                            )
                x += bw + w * rng.uniform(0, 0.02)
    return picture


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


def make_image(
    prompt: str,
    *,
    aspect_ratio: str = "1:1",
    seed: int | None = None,
    fmt: str = "png",
    long_side: int = 768,
    variant: int = 0,
) -> bytes:
    """A painted picture for the prompt: its colours, a seeded composition and its text."""
    if (fmt or "").strip().lower() not in IMAGE_FORMATS:
        raise ValueError(f"unsupported image format {fmt!r}: use 'png', 'webp' or 'jpeg'")
    w, h = _dims(aspect_ratio, long_side)
    rng = _rng("image", prompt, seed, variant)
    words = set(_words(prompt))
    picture = _paint(
        w, h, _palette(prompt), _style(prompt, rng), rng, stars=bool(words & _STAR_WORDS)
    )
    picture = Image.alpha_composite(picture.convert("RGBA"), _caption_overlay(w, h, prompt))
    return _encode_image(picture.convert("RGB"), fmt)


# --------------------------------------------------------------------------------------------
# Sound
# --------------------------------------------------------------------------------------------

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4), (0, 3, 0, 4))
_MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4))
_SAD_WORDS = {"sad", "dark", "night", "rain", "melancholy", "moody", "mystery", "horror", "minor",
              "lonely", "storm", "cinematic", "epic", "noir", "winter"}  # fmt: skip
_HAPPY_WORDS = {"happy", "bright", "sunny", "joy", "joyful", "cheerful", "upbeat", "summer", "fun",
                "pop", "major", "spring", "playful"}  # fmt: skip
_FAST_WORDS = {"fast", "energetic", "dance", "upbeat", "action", "run", "edm", "techno", "rock"}
_CALM_WORDS = {"calm", "slow", "ambient", "relaxing", "chill", "lofi", "sleep", "meditation"}


def _add_tone(
    buf: np.ndarray,
    start: float,
    freq: float,
    dur: float,
    *,
    gain: float,
    pan: float = 0.0,
    harmonics: Sequence[tuple[int, float]] = ((1, 1.0),),
    attack: float = 0.01,
    release: float = 0.1,
    decay: float = 0.0,
    detune: float = 0.0,
) -> None:
    """Mix one note into a stereo float buffer (in place)."""
    i0 = round(start * MUSIC_RATE)
    n = min(int((dur + release) * MUSIC_RATE), len(buf) - i0)
    if n <= 0:
        return
    t = np.arange(n, dtype=np.float32) / MUSIC_RATE
    env = np.minimum(t / attack, 1.0)
    if decay:
        env *= np.exp(-decay * t)
    tail = t > dur
    env[tail] *= np.clip(1 - (t[tail] - dur) / release, 0, 1)

    def osc(f: float) -> np.ndarray:
        wave_ = np.zeros(n, dtype=np.float32)
        for k, amp in harmonics:
            if f * k < MUSIC_RATE / 2 - 1000:
                wave_ += amp * np.sin((2 * np.pi * f * k) * t)
        return wave_

    left = osc(freq * (1 - detune))
    right = left if not detune else osc(freq * (1 + detune))
    angle = (pan + 1) * np.pi / 4
    buf[i0 : i0 + n, 0] += left * env * (gain * math.cos(angle))
    buf[i0 : i0 + n, 1] += right * env * (gain * math.sin(angle))


def _add_drum(
    buf: np.ndarray, start: float, rng: np.random.Generator, *, kick: bool, gain: float
) -> None:
    i0 = round(start * MUSIC_RATE)
    n = min(int((0.25 if kick else 0.06) * MUSIC_RATE), len(buf) - i0)
    if n <= 0:
        return
    t = np.arange(n, dtype=np.float32) / MUSIC_RATE
    if kick:
        freq = 45 + 75 * np.exp(-t * 30)
        sig = np.sin(2 * np.pi * np.cumsum(freq) / MUSIC_RATE) * np.exp(-t * 14)
        buf[i0 : i0 + n] += (sig * gain)[:, None]
    else:
        noise = np.diff(rng.standard_normal(n + 1).astype(np.float32))
        sig = noise * np.exp(-t * 70) * gain
        buf[i0 : i0 + n, 0] += sig * 0.6
        buf[i0 : i0 + n, 1] += sig


def _music(text: str, seconds: float, seed: int | None) -> np.ndarray:
    """A short tune: pad chords, bass, a plucked melody with an echo, and a soft beat."""
    rng = _rng("music", text, seed)
    words = set(_words(text))
    minor = bool(words & _SAD_WORDS) or (not words & _HAPPY_WORDS and rng.random() < 0.4)
    scale = _MINOR if minor else _MAJOR
    progressions = _MINOR_PROGRESSIONS if minor else _MAJOR_PROGRESSIONS
    progression = progressions[int(rng.integers(0, len(progressions)))]
    if words & _FAST_WORDS:
        bpm = rng.uniform(118, 136)
    elif words & _CALM_WORDS:
        bpm = rng.uniform(64, 80)
    else:
        bpm = rng.uniform(82, 112)
    beat = 60.0 / bpm
    root = int(rng.integers(53, 61))  # F3..C4

    def freq(degree: int, octave: int = 0) -> float:
        o, i = divmod(degree, 7)
        return 440.0 * 2 ** ((root + 12 * (o + octave) + scale[i] - 69) / 12)

    total = int(seconds * MUSIC_RATE)
    mix = np.zeros((total, 2), dtype=np.float32)
    melody = np.zeros_like(mix)
    bar = 4 * beat
    current = 7 + int(rng.integers(0, 5))
    pad_voice = ((1, 1.0), (2, 0.22), (3, 0.07))
    for b in range(math.ceil(seconds / bar)):
        degree = progression[b % len(progression)]
        t0 = b * bar
        for k in (0, 2, 4):
            _add_tone(
                mix,
                t0,
                freq(degree + k),
                bar,
                gain=0.075,
                attack=0.3,
                release=0.5,
                harmonics=pad_voice,
                detune=0.0025,
                pan=(k - 2) * 0.25,
            )
        for step in (0, 2) if bpm > 100 else (0, 1, 2, 3):
            _add_tone(
                mix,
                t0 + step * beat,
                freq(degree, -1),
                beat * 0.9,
                gain=0.2,
                attack=0.008,
                release=0.08,
                decay=2.2,
                harmonics=((1, 1.0), (2, 0.45), (3, 0.15)),
            )
        for eighth in range(8):
            if eighth == 0:
                chord = [degree + k + 7 * o for k in (0, 2, 4) for o in (1, 2)]
                current = min(chord, key=lambda d: abs(d - current))
            elif rng.random() < (0.75 if eighth % 2 == 0 else 0.3):
                current = int(np.clip(current + rng.choice((-2, -1, -1, 1, 1, 2, 0)), 5, 16))
            else:
                continue
            _add_tone(
                melody,
                t0 + eighth * beat / 2,
                freq(current),
                beat * 0.8,
                gain=0.15,
                attack=0.005,
                release=0.1,
                decay=3.0,
                pan=-0.25,
                harmonics=((1, 1.0), (2, 0.35), (3, 0.12), (4, 0.05)),
            )
        for eighth in range(8):
            t = t0 + eighth * beat / 2
            _add_drum(mix, t, rng, kick=False, gain=0.035 if eighth % 2 else 0.02)
            if eighth in (0, 4) or (eighth == 6 and rng.random() < 0.4):
                _add_drum(mix, t, rng, kick=True, gain=0.3)
    delay = int(beat * 0.75 * MUSIC_RATE)
    mix += melody
    if delay < total:
        mix[delay:] += melody[:-delay, ::-1] * 0.3
    peak = float(np.abs(mix).max()) or 1.0
    mix *= 0.85 / peak
    fade_in, fade_out = int(0.01 * MUSIC_RATE), int(min(0.8, seconds * 0.15) * MUSIC_RATE)
    mix[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)[:, None]
    if fade_out:
        mix[-fade_out:] *= np.linspace(1, 0, fade_out, dtype=np.float32)[:, None] ** 2
    return mix


_VOWEL_CHARS = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüœ"
_VOWEL_CLASS = dict.fromkeys("aàáâãäåæ", "a") | dict.fromkeys("eèéêëœ", "e")
_VOWEL_CLASS |= dict.fromkeys("iìíîïy", "i") | dict.fromkeys("oòóôõöø", "o")
_VOWEL_CLASS |= dict.fromkeys("uùúûü", "u")
_FORMANTS = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (300, 2200, 2950),
    "o": (570, 840, 2410),
    "u": (320, 870, 2240),
    "m": (280, 1100, 2400),
}
_SYLLABLE_RE = re.compile(f"([^{_VOWEL_CHARS}]*)([{_VOWEL_CHARS}]+)")
_TOKEN_RE = re.compile(r"[^\W\d_]+|\d+|[.,!?;:]")
_PITCHES = (118.0, 205.0, 150.0, 235.0, 100.0, 175.0)


def _syllables(word: str) -> list[tuple[str, str, str]]:
    """(onset consonants, vowel class, coda consonants) for each syllable of a word."""
    word = word.lower()
    if word.isdigit():
        return [("n", "aeiou"[int(c) % 5], "") for c in word[:24]]
    parts = _SYLLABLE_RE.findall(word)
    if not parts:  # no Latin vowels (e.g. CJK): one syllable per character
        return [("", "aeiou"[ord(c) % 5], "") for c in word[:60]]
    coda = word[sum(len(o) + len(v) for o, v in parts) :]
    result = [(onset, _VOWEL_CLASS.get(vowel[0], "a"), "") for onset, vowel in parts]
    result[-1] = (result[-1][0], result[-1][1], coda)
    return result


def _voiced(
    n: int,
    f_start: float,
    f_end: float,
    formants: Sequence[float],
    gain: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A vowel-ish sound: harmonics of a gliding pitch, weighted by three formant peaks."""
    t = np.arange(n, dtype=np.float32) / SPEECH_RATE
    f0 = np.linspace(f_start, f_end, n, dtype=np.float32) * (
        1 + 0.012 * np.sin(2 * np.pi * 5.3 * t)
    )
    phase = 2 * np.pi * np.cumsum(f0) / SPEECH_RATE
    mean_f = float(f0.mean())
    k = np.arange(1, max(2, int(3800 / mean_f)) + 1, dtype=np.float32)
    hk = k * mean_f
    f1, f2, f3 = formants
    amp = (1 / k**0.8) * (
        np.exp(-(((hk - f1) / 140) ** 2))
        + 0.7 * np.exp(-(((hk - f2) / 170) ** 2))
        + 0.35 * np.exp(-(((hk - f3) / 230) ** 2))
        + 0.06
    )
    keep = amp > amp.max() * 0.02
    amp, k = amp[keep], k[keep]
    sig = (amp / amp.sum()) @ np.sin(np.outer(k, phase))
    sig += rng.standard_normal(n).astype(np.float32) * 0.015
    edge = min(n // 2, int(0.03 * SPEECH_RATE))
    env = np.ones(n, dtype=np.float32)
    if edge:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge, dtype=np.float32))
        env[:edge], env[-edge:] = ramp, ramp[::-1]
    return (sig * env * gain * 3.0).astype(np.float32)


def _noise(n: int, rng: np.random.Generator, *, hiss: bool, gain: float) -> np.ndarray:
    order = 2 if hiss else 1
    sig = np.diff(rng.standard_normal(n + order).astype(np.float32), n=order)
    env = np.sin(np.linspace(0, np.pi, n, dtype=np.float32))
    return sig * env * gain


def _consonant(letters: str, f0: float, rng: np.random.Generator, *, coda: bool) -> np.ndarray:
    scale = 0.6 if coda else 1.0
    if any(c in "szcxj" for c in letters) or "sh" in letters:
        return _noise(int(0.075 * scale * SPEECH_RATE), rng, hiss=True, gain=0.06)
    if "th" in letters or any(c in "fvh" for c in letters):
        return _noise(int(0.06 * scale * SPEECH_RATE), rng, hiss=False, gain=0.08)
    if any(c in "ptkbdgq" for c in letters):
        burst = _noise(int(0.02 * SPEECH_RATE), rng, hiss=False, gain=0.12)
        return np.concatenate([np.zeros(int(0.025 * SPEECH_RATE), np.float32), burst])
    if any(c in "mnlrw" for c in letters):
        return _voiced(int(0.055 * scale * SPEECH_RATE), f0, f0, _FORMANTS["m"], 0.18, rng)
    return np.zeros(0, dtype=np.float32)


def _speak(
    lines: list[tuple[str, str]],
    pitches: dict[str, float],
    rng: np.random.Generator,
    max_seconds: float,
) -> np.ndarray:
    """Mono speech-like audio for (voice, text) lines; stops adding syllables at max_seconds."""
    pieces: list[tuple[int, np.ndarray]] = []
    cursor = 0.15

    def add(part: np.ndarray, advance: float = 1.0) -> None:
        nonlocal cursor
        if len(part):
            pieces.append((int(cursor * SPEECH_RATE), part))
            cursor += advance * len(part) / SPEECH_RATE

    for number, (voice, text) in enumerate(lines):
        if number:
            cursor += 0.45
        f0 = pitches[voice]
        formant_scale = 1.0 + float(np.clip((f0 - 120) / 450, 0, 0.2))
        in_phrase = 0
        last: tuple[int, int, float, list[float]] | None = None  # piece index, n, pitch, formants
        for token in _TOKEN_RE.findall(text):
            if cursor > max_seconds - 0.3:
                break
            if token in ".!?;:,":
                if token == "?" and last is not None:  # a question ends on a rising pitch
                    index, n, pitch, formants = last
                    rising = _voiced(n, pitch, pitch * 1.3, formants, 0.5, rng)
                    pieces[index] = (pieces[index][0], rising)
                cursor += 0.18 if token in ",;:" else 0.32
                in_phrase, last = 0, None
                continue
            for position, (onset, vowel, coda) in enumerate(_syllables(token)):
                pitch = f0 * max(0.82, 1.1 - 0.018 * in_phrase) * rng.uniform(0.94, 1.06)
                add(_consonant(onset, pitch, rng, coda=False))
                n = int(rng.uniform(0.12, 0.2) * (1.15 if position == 0 else 1.0) * SPEECH_RATE)
                formants = [f * formant_scale for f in _FORMANTS[vowel]]
                glide = pitch * rng.uniform(0.93, 1.03)
                last = (len(pieces), n, pitch, formants)
                add(_voiced(n, pitch, glide, formants, 0.5, rng), advance=0.92)
                if coda:
                    add(_consonant(coda, glide, rng, coda=True))
                in_phrase += 1
            cursor += 0.05
    length = min(max_seconds, max(1.0, cursor + 0.2))
    out = np.zeros(int(length * SPEECH_RATE), dtype=np.float32)
    for start, piece in pieces:
        end = min(len(out), start + len(piece))
        if end > start:
            out[start:end] += piece[: end - start]
    peak = float(np.abs(out).max())
    if peak > 0:
        out *= 0.8 / peak
    return out


def _speech_lines(kind: str, text: str, voices: Sequence[str] | None) -> list[tuple[str, str]]:
    names = [str(v) for v in voices or [] if str(v).strip()]
    if kind == "speech":
        return [(names[0] if names else "narrator", " ".join(text.split()))]
    raw = [line.strip() for line in text.splitlines() if line.strip()]
    parsed = [re.match(r"^([^:]{1,32}):\s*(.*)$", line) for line in raw]
    speakers: list[str] = []
    lines: list[tuple[str, str]] = []
    for i, (line, match) in enumerate(zip(raw, parsed, strict=True)):
        if match:
            speaker = match.group(1).strip()
            if speaker not in speakers:
                speakers.append(speaker)
            voice = names[speakers.index(speaker) % len(names)] if names else speaker
            lines.append((voice, match.group(2)))
        else:
            lines.append((names[i % len(names)] if names else f"speaker {i % 2 + 1}", line))
    return lines


def _babble(seconds: float, rng: np.random.Generator) -> str:
    syllables = ("ba", "lo", "mi", "ta", "ne", "ro", "su", "ka", "de", "vi", "po", "la")
    words = [
        "".join(syllables[int(i)] for i in rng.integers(0, len(syllables), int(rng.integers(1, 4))))
        for _ in range(int(seconds * 3) + 2)
    ]
    return " ".join(w + ("." if rng.random() < 0.12 else "") for w in words)


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def _mp3_bytes(wav: bytes, bitrate: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="sandbox-mp3-") as tmp:
        src, dst = Path(tmp, "in.wav"), Path(tmp, "out.mp3")
        src.write_bytes(wav)
        _run_ffmpeg(["-i", str(src), "-c:a", "libmp3lame", "-b:a", bitrate, *_BITEXACT, str(dst)])
        return dst.read_bytes()


def make_audio(
    kind: str,
    *,
    text: str = "",
    seconds: float = 8.0,
    seed: int | None = None,
    fmt: str = "wav",
    voices: list[str] | None = None,
) -> bytes:
    """Music (a seeded tune of `seconds`) or speech/dialogue (voice-like, as long as the text)."""
    kind = (kind or "").strip().lower()
    fmt = (fmt or "wav").strip().lower()
    if fmt not in ("wav", "mp3"):
        raise ValueError(f"unsupported audio format {fmt!r}: use 'wav' or 'mp3'")
    text = text or ""
    if kind == "music":
        seconds = float(min(300.0, max(0.5, seconds)))
        samples, rate, bitrate = _music(text, seconds, seed), MUSIC_RATE, "128k"
    elif kind in ("speech", "dialogue"):
        rng = _rng("speech", kind, text, seed, tuple(voices or ()))
        limit = 60.0
        if not text.strip():
            limit = float(min(60.0, max(1.0, seconds)))
            text = _babble(limit, rng)
            if kind == "dialogue":
                text = "\n".join(_babble(limit / 3, rng) for _ in range(3))
        lines = _speech_lines(kind, text, voices)
        pitches: dict[str, float] = {}
        for voice, _ in lines:
            if voice not in pitches:
                jitter = 1 + (_seed_int("voice", voice) % 17 - 8) / 200
                slot = len(pitches) if kind == "dialogue" else _seed_int("slot", voice)
                pitches[voice] = _PITCHES[slot % len(_PITCHES)] * jitter
        samples, rate, bitrate = _speak(lines, pitches, rng, limit), SPEECH_RATE, "64k"
    else:
        raise ValueError(f"unknown audio kind {kind!r}: use 'music', 'speech' or 'dialogue'")
    wav = _wav_bytes(samples, rate)
    return wav if fmt == "wav" else _mp3_bytes(wav, bitrate)


# --------------------------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------------------------


def _encode_frames(
    frames: Iterable[bytes],
    size: tuple[int, int],
    fps: float,
    out: Path,
    *,
    audio: Path | None = None,
    audio_optional: bool = False,
    seconds: float | None = None,
) -> None:
    """Pipe raw RGB frames into ffmpeg and write a browser-friendly H.264 MP4 (+AAC) to out."""
    cmd = [
        _ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}",
        "-framerate", f"{fps:g}", "-i", "pipe:0",
    ]  # fmt: skip
    if audio is not None:
        cmd += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0?" if audio_optional else "1:a:0"]
    cmd += [
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-g", str(max(1, round(fps * 2))),
    ]  # fmt: skip
    cmd += ["-c:a", "aac", "-b:a", "128k"] if audio is not None else ["-an"]
    if seconds is not None:
        cmd += ["-t", f"{seconds:.3f}"]
    cmd += ["-movflags", "+faststart", *_BITEXACT, str(out)]
    errors = out.with_suffix(".log")
    with errors.open("wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        stdin: IO[bytes] = proc.stdin  # type: ignore[assignment]
        try:
            for frame in frames:
                stdin.write(frame)
            stdin.close()
            proc.wait(timeout=FFMPEG_TIMEOUT)
        except BrokenPipeError:
            proc.wait(timeout=FFMPEG_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"ffmpeg could not encode the video: {_tail(errors.read_bytes())}")


def make_video(
    prompt: str,
    *,
    seconds: float = 5.0,
    aspect_ratio: str = "16:9",
    sound: bool = True,
    seed: int | None = None,
    fps: int = 12,
    long_side: int = 640,
) -> bytes:
    """An H.264 MP4 that slowly pans and zooms across the prompt's picture, with music if asked."""
    seconds = float(min(30.0, max(0.5, seconds)))
    fps = int(min(60, max(1, fps)))
    w, h = _dims(aspect_ratio, int(min(1920, max(64, long_side))), even=True)
    n_frames = max(1, round(seconds * fps))
    rng = _rng("video", prompt, seed)
    words = set(_words(prompt))
    palette = _palette(prompt)
    big_w, big_h = round(w * 1.3), round(h * 1.3)
    scene = _paint(big_w, big_h, palette, _style(prompt, rng), rng, stars=bool(words & _STAR_WORDS))
    caption = _caption_overlay(w, h, prompt, mark=False)
    caption_rgb, caption_alpha = caption.convert("RGB"), caption.getchannel("A")
    direction = 1 if rng.random() < 0.5 else -1
    particles = rng.uniform(0, 1, (14, 4))  # x, y, speed, size
    light = tuple(int(v) for v in _mix(palette[2], (255, 255, 255), 0.6))
    size = max(10, round(math.sqrt(w * h) / 24))
    small_size = max(9, round(size * 0.55))
    small = _font(small_size)
    margin, label_h = round(small_size * 0.8), round(small_size * 1.6)

    def frames() -> Iterable[bytes]:
        for i in range(n_frames):
            p = i / max(1, n_frames - 1)
            ease = 0.5 - 0.5 * math.cos(math.pi * p)
            zoom = 1 + 0.15 * ease
            cw, ch = w * 1.22 / zoom, h * 1.22 / zoom
            cx = big_w / 2 + direction * (ease - 0.5) * (big_w - cw) * 0.9
            cy = big_h / 2 + (0.5 - ease) * (big_h - ch) * 0.4
            box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
            frame = scene.resize((w, h), Image.Resampling.BILINEAR, box=box)
            draw = ImageDraw.Draw(frame)
            now = i / fps
            for x, y, speed, radius in particles:
                px = (x + 0.03 * speed * now * direction) % 1 * w
                py = (y - 0.05 * (0.5 + speed) * now) % 1 * h * 0.7
                r = 1 + radius * min(w, h) / 120
                draw.ellipse((px - r, py - r, px + r, py + r), fill=light)
            frame.paste(caption_rgb, (0, 0), caption_alpha)
            label = f"SANDBOX  {int(now // 60):02d}:{now % 60:04.1f}  frame {i + 1}/{n_frames}"
            label_w = small.getlength(label)
            draw.rectangle(
                (margin, margin, margin + label_w + 12, margin + label_h), fill=(0, 0, 0)
            )
            draw.text((margin + 6, margin + label_h * 0.15), label, font=small, fill=(255,) * 3)
            draw.rectangle((0, h - 3, round(w * (i + 1) / n_frames), h), fill=light)
            yield frame.tobytes()

    with tempfile.TemporaryDirectory(prefix="sandbox-video-") as tmp:
        out = Path(tmp, "out.mp4")
        audio = None
        if sound:
            audio = Path(tmp, "music.wav")
            audio.write_bytes(make_audio("music", text=prompt, seconds=n_frames / fps, seed=seed))
        _encode_frames(frames(), (w, h), fps, out, audio=audio, seconds=n_frames / fps)
        return out.read_bytes()


def _probe(path: Path) -> dict[str, float] | None:
    """Width, height (as displayed) and frame rate of a file's first video stream, from the
    banner `ffmpeg -i` prints; None when ffmpeg finds no video stream in it."""
    proc = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    text = proc.stderr.decode("utf-8", "replace")
    stream = re.search(r"Stream #[^\n]*?Video:([^\n]*)", text)
    size = re.search(r"[ ,](\d{1,5})x(\d{1,5})[ ,\[]", stream.group(1) + " ") if stream else None
    if not stream or not size or not int(size.group(1)) or not int(size.group(2)):
        return None
    width, height = float(size.group(1)), float(size.group(2))
    rotation = re.search(r"rotation of (-?[\d.]+)", text)
    if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:  # ffmpeg autorotates
        width, height = height, width
    rate = re.search(r"([\d.]+) (?:fps|tbr)", stream.group(1))
    return {"width": width, "height": height, "fps": float(rate.group(1)) if rate else 0.0}


def _require_bytes(data: bytes, what: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ValueError(f"{what} is empty")
    return bytes(data)


_FIRST_FRAME_PNG = [
    "-frames:v", "1", "-an", "-pix_fmt", "rgb24", "-c:v", "png", "-f", "image2pipe", "pipe:1",
]  # fmt: skip


def make_poster(video: bytes) -> bytes:
    """A PNG of the video's first frame."""
    data = _require_bytes(video, "video")
    with tempfile.TemporaryDirectory(prefix="sandbox-poster-") as tmp:
        src = Path(tmp, "input")
        src.write_bytes(data)
        try:
            png = _run_ffmpeg(["-i", str(src), *_FIRST_FRAME_PNG])
        except RuntimeError as exc:
            raise ValueError(f"video is not a decodable video file: {exc}") from exc
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("video is not a decodable video file: no frame found")
    return png


# --------------------------------------------------------------------------------------------
# Tools on images and video
# --------------------------------------------------------------------------------------------


def _dominant_border_colour(pixels: np.ndarray, *, bottom: bool = True) -> np.ndarray:
    """The most common colour (16 levels per channel, then averaged) around the picture's edge.

    Video leaves the bottom edge out: captions and the ground usually sit there."""
    h, w = pixels.shape[:2]
    b = max(1, min(h, w) // 50)
    edges = [pixels[:b], pixels[:, :b], pixels[:, -b:]] + ([pixels[-b:]] if bottom else [])
    border = np.concatenate([edge.reshape(-1, 3) for edge in edges]).astype(np.int32)
    q = border // 16
    keys = q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]
    top = int(np.bincount(keys).argmax())
    return border[keys == top].mean(axis=0).astype(np.float32)


def _colour_distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    diff = pixels.astype(np.float32) - colour
    return np.sqrt(np.einsum("...c,...c->...", diff, diff))


def _grow_from_border(candidate: np.ndarray) -> np.ndarray:
    """The part of a boolean mask that is 4-connected to the image border (iterative dilation)."""
    grown = np.zeros_like(candidate)
    grown[0], grown[-1], grown[:, 0], grown[:, -1] = (
        candidate[0],
        candidate[-1],
        candidate[:, 0],
        candidate[:, -1],
    )
    for _ in range(4 * sum(candidate.shape)):
        previous = grown
        for _ in range(4):
            nxt = grown.copy()
            nxt[1:] |= grown[:-1]
            nxt[:-1] |= grown[1:]
            nxt[:, 1:] |= grown[:, :-1]
            nxt[:, :-1] |= grown[:, 1:]
            grown = nxt & candidate
        if np.array_equal(grown, previous):
            break
    return grown


def remove_background(image: bytes) -> bytes:
    """A PNG whose background (the dominant border colour, connected to the edge) is transparent.

    Pictures over 2048 px on the long side are scaled down to that first."""
    img = _open_image(image)
    if max(img.size) > 2048:  # keeps memory and time bounded (a 4000 px photo took 4 s)
        img.thumbnail((2048, 2048), Image.Resampling.LANCZOS)
    rgba = img.convert("RGBA")
    pixels = np.asarray(rgba)[..., :3]
    background = _dominant_border_colour(pixels)
    distance = _colour_distance(pixels, background)
    near, far = 28.0, 70.0
    # Which background-ish pixels touch the edge, worked out on a small copy for speed.
    small = rgba.copy()
    small.thumbnail((256, 256), Image.Resampling.BILINEAR)
    small_pixels = np.asarray(small)[..., :3]
    connected = _grow_from_border(_colour_distance(small_pixels, background) < far)
    mask = Image.fromarray(connected.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))
    reach = np.asarray(mask.resize(img.size, Image.Resampling.BILINEAR), dtype=np.float32) / 255
    backgroundness = np.clip((far - distance) / (far - near), 0, 1) * reach
    alpha = (1 - backgroundness) * (np.asarray(rgba)[..., 3].astype(np.float32) / 255)
    alpha_img = Image.fromarray(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8))
    rgba.putalpha(alpha_img.filter(ImageFilter.GaussianBlur(0.7)))
    return _encode_image(rgba, "png")


def upscale(image: bytes, factor: int = 2) -> bytes:
    """A PNG factor times larger (Lanczos plus a mild sharpen), at most 4096 px on the long side."""
    if not isinstance(factor, (int, float)) or factor < 1 or factor > 16:
        raise ValueError(f"upscale factor must be between 1 and 16, not {factor!r}")
    img = _open_image(image)
    w, h = img.size
    scale = min(float(factor), MAX_SIDE / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    bigger = img.resize(size, Image.Resampling.LANCZOS)
    bigger = bigger.filter(ImageFilter.UnsharpMask(radius=1.5, percent=60, threshold=2))
    return _encode_image(bigger, "png")


_FACE_SPOTS = ((0.5, 0.36), (0.3, 0.4), (0.7, 0.4), (0.5, 0.64), (0.22, 0.68), (0.78, 0.68))


def face_swap(
    image: bytes, face_image: bytes, *, target_index: int = 0, fmt: str = "jpeg"
) -> bytes:
    """The target image with the middle of face_image pasted, feathered, as an ellipse."""
    if (fmt or "").strip().lower() not in IMAGE_FORMATS:
        raise ValueError(f"unsupported image format {fmt!r}: use 'png', 'webp' or 'jpeg'")
    target = _open_image(image, "image")
    face = _open_image(face_image, "face_image").convert("RGB")
    w, h = target.size
    fx, fy = _FACE_SPOTS[int(target_index) % len(_FACE_SPOTS)]
    ew = max(8, round(min(w, h) * 0.3))
    eh = max(8, round(ew * 1.3))
    # The centre of the face picture, cropped to the ellipse's proportions.
    sw, sh = face.size
    cw = min(sw, sh / 1.3) * 0.75
    ch = cw * 1.3
    crop = face.crop(((sw - cw) / 2, (sh - ch) / 2, (sw + cw) / 2, (sh + ch) / 2))
    crop = crop.resize((ew, eh), Image.Resampling.LANCZOS)
    x0, y0 = round(fx * w - ew / 2), round(fy * h - eh / 2)
    # Nudge the face's tone a little towards the spot it lands on, as a real swap would.
    region = target.convert("RGB").crop((x0, y0, x0 + ew, y0 + eh))
    shift = np.asarray(region, np.float32).mean((0, 1)) - np.asarray(crop, np.float32).mean((0, 1))
    crop = Image.fromarray(
        np.clip(np.asarray(crop, np.float32) + shift * 0.25, 0, 255).astype(np.uint8)
    )
    mask = Image.new("L", (ew, eh), 0)
    inset = max(1, round(ew * 0.08))
    ImageDraw.Draw(mask).ellipse((inset, inset, ew - inset, eh - inset), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, ew * 0.05)))
    result = target.copy()
    if result.mode == "RGBA":
        crop = crop.convert("RGBA")
    result.paste(crop, (x0, y0), mask)
    return _encode_image(result, fmt)


def _checkerboard(w: int, h: int) -> np.ndarray:
    cell = max(8, min(w, h) // 16)
    ys, xs = np.indices((h, w))
    light = ((ys // cell + xs // cell) % 2 == 0)[..., None]
    return np.where(light, np.float32(236), np.float32(196)) * np.ones(3, np.float32)


def remove_video_background(video: bytes, background_image: bytes | None = None) -> bytes:
    """An MP4 in which the frames' dominant background colour shows background_image instead
    (or a checkerboard). At most the first 10 s, at most 640 px on the long side and 30 fps."""
    data = _require_bytes(video, "video")
    backdrop_img = _open_image(background_image, "background_image") if background_image else None
    with tempfile.TemporaryDirectory(prefix="sandbox-vbg-") as tmp:
        src = Path(tmp, "input")
        src.write_bytes(data)
        info = _probe(src)
        if not info:
            raise ValueError("video is not a decodable video file: no video stream found")
        w, h = _fit_even(int(info["width"]), int(info["height"]), 640)
        fps = round(min(30.0, info["fps"] or 12.0), 3)
        if backdrop_img is not None:
            fitted = ImageOps.fit(backdrop_img.convert("RGB"), (w, h), Image.Resampling.BILINEAR)
            backdrop = np.asarray(fitted, dtype=np.float32)
        else:
            backdrop = _checkerboard(w, h)
        frame_size = w * h * 3
        decode_log = Path(tmp, "decode.log")
        with decode_log.open("wb") as log:
            decoder = subprocess.Popen(
                [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-t", "10",
                 "-i", str(src), "-an", "-vf", f"fps={fps},scale={w}:{h}:flags=bilinear,setsar=1",
                 "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
                stdout=subprocess.PIPE, stderr=log,
            )  # fmt: skip
            stdout: IO[bytes] = decoder.stdout  # type: ignore[assignment]
            try:
                first = stdout.read(frame_size)
                if len(first) < frame_size:
                    decoder.wait(timeout=FFMPEG_TIMEOUT)
                    raise ValueError(
                        f"video is not a decodable video file: {_tail(decode_log.read_bytes())}"
                    )
                colour = _dominant_border_colour(
                    np.frombuffer(first, np.uint8).reshape(h, w, 3), bottom=False
                )
                near, far = 35.0, 80.0

                def frames() -> Iterable[bytes]:
                    raw = first
                    while len(raw) == frame_size:
                        pixels = np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.float32)
                        keep = np.clip(
                            (_colour_distance(pixels, colour) - near) / (far - near), 0, 1
                        )
                        out = backdrop + (pixels - backdrop) * keep[..., None]
                        yield (out + 0.5).astype(np.uint8).tobytes()
                        raw = stdout.read(frame_size)

                out = Path(tmp, "out.mp4")
                _encode_frames(frames(), (w, h), fps, out, audio=src, audio_optional=True)
                decoder.wait(timeout=FFMPEG_TIMEOUT)
            finally:
                if decoder.poll() is None:
                    decoder.kill()
                    decoder.wait()
                stdout.close()
        return out.read_bytes()


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------
