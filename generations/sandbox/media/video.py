"""Video: raw RGB frames piped into ffmpeg as a browser-friendly H.264 MP4 (with AAC sound when
there is any), make_video's slow pan and zoom across a painted picture, make_poster's first
frame, and a probe of a file's video stream (size and frame rate) for the tools.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from PIL import Image, ImageDraw

from generations.sandbox.media.audio import make_audio
from generations.sandbox.media.common import (
    _BITEXACT,
    FFMPEG_TIMEOUT,
    _caption_overlay,
    _dims,
    _ffmpeg,
    _font,
    _require_bytes,
    _rng,
    _run_ffmpeg,
    _tail,
    _words,
)
from generations.sandbox.media.image import _STAR_WORDS, _mix, _paint, _palette, _style


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
