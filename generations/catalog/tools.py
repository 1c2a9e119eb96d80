"""Tools: background removal, upscaling, face swap, video background removal.

What each costs and accepts, as API in One documents it."""

from __future__ import annotations

from generations.catalog.common import (
    ESTIMATED_SPEED,
    source_image,
)
from generations.catalog.engine import (
    Fixed,
    ModelSpec,
    Param,
)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        slug="bg-remover",
        name="Background Remover",
        kind="tool",
        route="images/tools/remove-bg",
        output="image",
        params=(source_image(help="The image to cut out."),),
        price=Fixed(1),
        price_note="1 credit per image.",
        typical_seconds=(2, 8),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"image"}),
        description="Removes the background from an image.",
    ),
    ModelSpec(
        slug="image-upscale",
        name="Image Upscale",
        kind="tool",
        route="images/tools/upscale",
        output="image",
        params=(source_image(help="The image to enlarge (up to 4x)."),),
        price=Fixed(1),
        price_note="1 credit per image.",
        typical_seconds=(3, 10),
        speed_note=ESTIMATED_SPEED,
        callback=True,
        inputs=frozenset({"image"}),
        description="Enlarges an image up to 4x with AI detail.",
    ),
    ModelSpec(
        slug="face-swap",
        name="Face Swap",
        kind="tool",
        route="images/tools/face-swap",
        output="image",
        params=(
            source_image("Target image", help="The body or scene to put the face into."),
            Param(
                "face_image",
                "image_url",
                "Face image",
                required=True,
                help="The face to swap in.",
            ),
            Param(
                "target_index",
                "int",
                "Face number",
                default=0,
                min_value=0,
                max_value=10,
                help="Which face to replace when the target has several (0 to 10).",
                advanced=True,
            ),
            Param(
                "output_format",
                "choice",
                "Output format",
                default="jpeg",
                choices=("jpeg", "png", "webp"),
            ),
        ),
        price=Fixed(4),
        price_note="4 credits per swap.",  # older pages said 3; the manual's 4 is used
        typical_seconds=(3, 8),
        callback=False,
        inputs=frozenset({"image"}),
        description="Puts a face from one photo into another.",
    ),
    ModelSpec(
        slug="video-bg-remover",
        name="Video Background Remover",
        kind="tool",
        route="videos/tools/bg-remover",
        output="video",
        params=(
            Param(
                "video",
                "video_url",
                "Video",
                required=True,
                help="The video to process.",
            ),
            Param(
                "background_image",
                "image_url",
                "New background",
                help="Optional: an image to put behind the subject.",
            ),
        ),
        price=Fixed(10),
        price_note="10 credits per video.",
        typical_seconds=(30, 180),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"video", "image"}),
        description="Removes or replaces the background of a video.",
    ),
)
