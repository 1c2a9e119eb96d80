"""Small pictures of results: a thumbnail for an image, a poster frame for a video, a waveform
for a sound."""

from __future__ import annotations

import subprocess
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generations.filetypes import open_image

THUMB_SIZE = (480, 480)


def image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(BytesIO(data)) as image:
            return image.size
    except Exception:
        return None


def thumbnail(data: bytes) -> bytes | None:
    """A WebP no larger than 480 px a side, or None when the bytes are no image Pillow reads."""
    try:
        with open_image(data) as image:  # no thumbnail of a pixel bomb: nothing is decoded
            image.thumbnail(THUMB_SIZE)
            out = BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(
                out, "WEBP", quality=80
            )
            return out.getvalue()
    except Exception:
        return None


def poster(video: bytes) -> bytes | None:
    """The first frame of a video as a WebP thumbnail (ffmpeg from imageio-ffmpeg)."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as folder:
        source, frame = Path(folder) / "in.mp4", Path(folder) / "frame.png"
        source.write_bytes(video)
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(source)]
        command += ["-frames:v", "1", "-y", str(frame)]
        result = subprocess.run(command, capture_output=True, timeout=60, check=False)
        if result.returncode != 0 or not frame.exists():
            return None
        return thumbnail(frame.read_bytes())


WAVE_SIZE = (480, 160)
WAVE_RATE = 8000  # samples a second read for the picture (enough for its 480 columns)
WAVE_SECONDS = 600  # of a longer sound, the first ten minutes


def waveform(audio: bytes) -> bytes | None:
    """A picture of a sound's loudness over time (a WebP, 480×160), or None when ffmpeg reads
    no audio in the bytes."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.audio"
        source.write_bytes(audio)
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(source)]
        command += ["-t", str(WAVE_SECONDS), "-ac", "1", "-ar", str(WAVE_RATE)]
        command += ["-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
        result = subprocess.run(command, capture_output=True, timeout=60, check=False)
    samples = np.frombuffer(result.stdout, dtype="<i2")
    if result.returncode != 0 or samples.size < WAVE_SIZE[0]:
        return None
    width, height = WAVE_SIZE
    columns = np.array_split(np.abs(samples.astype(np.int32)), width)
    peaks = np.array([column.max() for column in columns], dtype=float)
    peaks = peaks / max(peaks.max(), 1.0)
    picture = Image.new("RGB", WAVE_SIZE, (238, 242, 255))
    draw = ImageDraw.Draw(picture)
    middle = height / 2
    for x, peak in enumerate(peaks):
        half = max(1.0, peak * (middle - 6))
        draw.line([(x, middle - half), (x, middle + half)], fill=(67, 56, 202))
    out = BytesIO()
    picture.save(out, "WEBP", quality=80)
    return out.getvalue()
