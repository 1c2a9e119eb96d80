"""Tools on files the user sends: cutting out an image's background (the dominant border
colour, grown from the edge), upscaling, pasting a face into a picture, and replacing a
video's background frame by frame. Unreadable input raises ValueError.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from generations.sandbox.media.common import (
    FFMPEG_TIMEOUT,
    IMAGE_FORMATS,
    MAX_SIDE,
    _encode_image,
    _ffmpeg,
    _fit_even,
    _open_image,
    _require_bytes,
    _tail,
)
from generations.sandbox.media.video import _encode_frames, _probe


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
