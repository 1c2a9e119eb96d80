"""Real media files for the sandbox upstream, one module per medium.

Everything here is generated locally and deterministically: pictures are painted with numpy and
Pillow from the prompt's words and a seed (image), sound is synthesised with numpy (audio), and
video and MP3 are encoded by the ffmpeg binary that imageio-ffmpeg ships (video); the tools on
sent files are in tools, the helpers they all share in common. Each public function returns the
bytes of a complete file that a browser can show or play. Bytes that are not a usable image or
video raise ``ValueError``; a failure of ffmpeg itself raises ``RuntimeError``. Callers use the
package (``media.make_image(...)``), so the bench can swap a maker for a cached one here.
"""

from __future__ import annotations

from generations.filetypes import sniff
from generations.sandbox.media.audio import MUSIC_RATE, SPEECH_RATE, make_audio
from generations.sandbox.media.common import FFMPEG_TIMEOUT, IMAGE_FORMATS, MAX_SIDE
from generations.sandbox.media.image import make_image
from generations.sandbox.media.tools import (
    face_swap,
    remove_background,
    remove_video_background,
    upscale,
)
from generations.sandbox.media.video import make_poster, make_video

__all__ = [
    "FFMPEG_TIMEOUT",
    "IMAGE_FORMATS",
    "MAX_SIDE",
    "MUSIC_RATE",
    "SPEECH_RATE",
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
