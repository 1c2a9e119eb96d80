"""Small pictures of results: a thumbnail for an image, a poster frame for a video."""

from __future__ import annotations

import subprocess
import tempfile
from io import BytesIO
from pathlib import Path

from PIL import Image

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
