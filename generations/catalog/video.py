"""Video models: text or image to video. What each costs and accepts, as API in One documents it."""

from __future__ import annotations

from generations.catalog.common import (
    ESTIMATED_PRICE,
    ESTIMATED_SPEED,
    VIDEO_ASPECT_RATIOS,
    VIDEO_PROMPT_MAX,
    aspect,
    start_image,
    video_prompt,
    video_resolution,
)
from generations.catalog.engine import (
    ModelSpec,
    Param,
    PerSecond,
    Require,
    ShotTotal,
    When,
)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        slug="kling-3",
        name="Kling 3.0",
        kind="video",
        route="videos/generations",
        output="video",
        model_value="kling-3",
        params=(
            video_prompt(
                required=False,
                help="Describe the video (up to 2500 characters). Not needed in multi-shot.",
            ),
            Param(
                "mode",
                "choice",
                "Quality",
                default="std",
                choices=("std", "pro"),
                help="std: 40 credits a second. pro: 60.",
            ),
            Param(
                "duration",
                "int",
                "Duration (seconds)",
                default=5,
                min_value=3,
                max_value=15,
            ),
            aspect(VIDEO_ASPECT_RATIOS, "16:9"),
            Param(
                "sound",
                "bool",
                "Sound",
                default=True,
                help="Generate audio with the video (+20 credits a second).",
            ),
            start_image(),
            Param(
                "multi_shots",
                "bool",
                "Multi-shot",
                default=False,
                help="Describe several shots instead of one prompt.",
                advanced=True,
            ),
            Param(
                "multi_prompt",
                "multi_prompt",
                "Shots",
                max_length=VIDEO_PROMPT_MAX,
                help="Each shot has a prompt and a duration; durations add up to 3-15 s.",
                advanced=True,
            ),
        ),
        rules=(
            Require(
                "prompt",
                When("multi_shots", (False,)),
                "Prompt is required (or turn on multi-shot and describe each shot).",
            ),
            Require(
                "multi_prompt",
                When("multi_shots", (True,)),
                "Multi-shot needs at least one shot.",
            ),
            ShotTotal("multi_prompt", 3, 15, When("multi_shots", (True,))),
        ),
        price=PerSecond(
            base=40,
            extras=(("mode", "pro", 20), ("sound", True, 20)),
            shots="multi_prompt",
            shots_switch="multi_shots",
        ),
        # Published: 120 to 1200 credits; std, 5 s, with sound = 300. The per-second split
        # below is the studio's fit to those figures.
        price_note=(
            "40 credits a second (std), +20 a second for pro and +20 with sound; multi-shot "
            "by the total length of its shots."
        ),
        typical_seconds=(60, 180),
        callback=True,
        inputs=frozenset({"text", "image"}),
        description="Kuaishou's Kling 3.0: cinematic 3-15 s video with sound and multi-shot.",
    ),
    ModelSpec(
        slug="seedance",
        name="Seedance",
        kind="video",
        route="videos/generations",
        output="video",
        model_value="seedance",
        params=(
            video_prompt(),
            start_image(),
            Param(
                "duration",
                "choice",
                "Duration (seconds)",
                default="5",
                choices=("5", "10"),
            ),
            aspect(VIDEO_ASPECT_RATIOS, "16:9"),
            video_resolution(),
            Param(
                "generateAudio",
                "bool",
                "Sound",
                default=False,
                help="Generate audio with the video.",
            ),
        ),
        price=PerSecond(
            base=6,
            extras=(
                ("resolution", "720p", 6),
                ("resolution", "1080p", 18),
                ("generateAudio", True, 12),
            ),
        ),
        price_note=(
            ESTIMATED_PRICE + " Per second: 480p 6, 720p 12, 1080p 24 credits, +12 with sound."
        ),
        typical_seconds=(30, 120),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"text", "image"}),
        description="ByteDance's Seedance: text-to-video and image-to-video.",
    ),
    ModelSpec(
        slug="pixverse",
        name="PixVerse",
        kind="video",
        route="videos/generations",
        output="video",
        model_value="pixverse",
        params=(
            video_prompt(),
            start_image(),
            Param(
                "duration",
                "choice",
                "Duration (seconds)",
                default="5",
                choices=("5", "8"),
            ),
            aspect(VIDEO_ASPECT_RATIOS, "16:9"),
            video_resolution(),
            Param(
                "generate_audio_switch",
                "bool",
                "Sound",
                default=False,
                help="Generate audio with the video.",
            ),
        ),
        price=PerSecond(
            base=6,
            extras=(
                ("resolution", "720p", 2),
                ("resolution", "1080p", 10),
                ("generate_audio_switch", True, 4),
            ),
        ),
        price_note=(
            ESTIMATED_PRICE + " Per second: 480p 6, 720p 8, 1080p 16 credits, +4 with sound."
        ),
        typical_seconds=(30, 90),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"text", "image"}),
        description="PixVerse: stylised short videos from text or an image.",
    ),
)
