"""Parameter shapes several models share (prompts, aspect ratios, start images), and the notes
that mark the studio's own estimates."""

from __future__ import annotations

from generations.catalog.engine import Param

IMAGE_PROMPT_MIN = 3
IMAGE_PROMPT_MAX = 5000
VIDEO_PROMPT_MAX = 2500
VIDEO_ASPECT_RATIOS = ("1:1", "9:16", "16:9")
VIDEO_RESOLUTIONS = ("480p", "720p", "1080p")
GENERIC_IMAGE_ASPECT_RATIOS = ("1:1", "16:9", "9:16")


def image_prompt(*, required: bool = True, help: str = "") -> Param:
    return Param(
        "prompt",
        "longtext",
        "Prompt",
        required=required,
        min_length=IMAGE_PROMPT_MIN,
        max_length=IMAGE_PROMPT_MAX,
        help=help or "Describe the image (3 to 5000 characters).",
    )


def video_prompt(*, required: bool = True, help: str = "") -> Param:
    return Param(
        "prompt",
        "longtext",
        "Prompt",
        required=required,
        max_length=VIDEO_PROMPT_MAX,
        help=help or "Describe the video (up to 2500 characters).",
    )


def aspect(choices: tuple[str, ...], default: str) -> Param:
    return Param("aspect_ratio", "choice", "Aspect ratio", default=default, choices=choices)


def start_image() -> Param:
    return Param(
        "image",
        "image_url",
        "Start image",
        help="Optional: an image to animate (image-to-video).",
    )


def video_resolution(default: str = "720p") -> Param:
    return Param("resolution", "choice", "Resolution", default=default, choices=VIDEO_RESOLUTIONS)


def source_image(label: str = "Image", help: str = "") -> Param:
    return Param("image", "image_url", label, required=True, help=help)


ESTIMATED_PRICE = "The studio's estimate: API in One publishes no price for this model."
ESTIMATED_SPEED = "The studio's estimate: no speed is published for this model."

SUNO_SHORT_LIMIT_MODELS = ("chirp-v3-5", "chirp-v4-0")
