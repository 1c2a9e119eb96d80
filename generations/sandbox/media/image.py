"""Painted pictures: a palette from the prompt's colour words (or its hash), a seeded scene in
one of four styles (landscape, waves, city, abstract) under a gradient sky and a sun, and the
prompt's text on a band. make_image is the public maker; video reuses the painting.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageDraw

from generations.sandbox.media.common import (
    IMAGE_FORMATS,
    _caption_overlay,
    _dims,
    _encode_image,
    _rng,
    _words,
)

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
        _abstract(img, palette, rng, xs, ys)

    # A soft vignette ties it together.
    vx, vy = (xs / w - 0.5) * 2, (ys / h - 0.5) * 2
    img *= (1 - 0.11 * (vx**2 + vy**2))[..., None]
    picture = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")

    if style == "city":
        _city(picture, palette, rng)
    return picture


def _abstract(img: np.ndarray, palette: list[np.ndarray], rng: np.random.Generator, xs, ys) -> None:
    """Overlapping soft discs and rings in the palette's colours, painted into `img`."""
    h, w = img.shape[:2]
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


def _city(picture: Image.Image, palette: list[np.ndarray], rng: np.random.Generator) -> None:
    """Two rows of dark towers with lit windows, drawn over `picture`."""
    w, h = picture.size
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
