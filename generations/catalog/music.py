"""Music models: songs with or without lyrics.

What each costs and accepts, as API in One documents it."""

from __future__ import annotations

from generations.catalog.common import (
    ESTIMATED_PRICE,
    ESTIMATED_SPEED,
    SUNO_SHORT_LIMIT_MODELS,
)
from generations.catalog.engine import (
    BySubModel,
    Fixed,
    MaxLength,
    Mode,
    ModelSpec,
    Modes,
    Param,
    SubModel,
    When,
)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        slug="suno",
        name="Suno",
        kind="music",
        route="audio/music",
        output="audio",
        sub_models=(
            SubModel("chirp-v3-5", "v3.5", 5),
            SubModel("chirp-v4-0", "v4", 8),
            SubModel("chirp-v4-5", "v4.5", 10),
            SubModel("chirp-v4-5-plus", "v4.5+", 10),
            SubModel("chirp-v5", "v5", 12),
            SubModel("chirp-v5-5", "v5.5", 12),
        ),
        aliases=("suno",),
        params=(
            Param(
                "gpt_description_prompt",
                "longtext",
                "Song description",
                max_length=400,
                help="Inspiration mode: describe the song; Suno writes lyrics and style.",
            ),
            Param(
                "prompt",
                "longtext",
                "Lyrics",
                max_length=5000,
                help="Custom mode: the lyrics (3000 characters for v3.5/v4, 5000 for v4.5+).",
            ),
            Param(
                "style",
                "text",
                "Style",
                max_length=1000,
                help="Custom mode: genre and mood (200 characters for v3.5/v4, 1000 after).",
            ),
            Param("title", "text", "Title", max_length=80),
            Param("make_instrumental", "bool", "Instrumental", default=False),
            Param(
                "tags",
                "text",
                "Avoid",
                help="Styles or elements to keep out (negative tags).",
                advanced=True,
            ),
            Param(
                "gender",
                "choice",
                "Vocal gender",
                choices=("male", "female"),
                advanced=True,
            ),
            Param(
                "style_weight",
                "float",
                "Style weight",
                min_value=0,
                max_value=1,
                help="0 to 1: how closely to follow the style.",
                advanced=True,
            ),
            Param(
                "weirdness_constraint",
                "float",
                "Weirdness",
                min_value=0,
                max_value=1,
                help="0 to 1: how far to stray creatively.",
                advanced=True,
            ),
            Param(
                "audio_weight",
                "float",
                "Audio weight",
                min_value=0,
                max_value=1,
                help="0 to 1: balance of audio features.",
                advanced=True,
            ),
        ),
        rules=(
            Modes(
                modes=(
                    Mode("inspiration", "gpt_description_prompt", ("gpt_description_prompt",)),
                    Mode("custom", "prompt", ("prompt", "style")),
                ),
                none_message=(
                    "Describe the song (inspiration mode) or enter lyrics (custom mode)."
                ),
                both_message=(
                    "Use either a song description (inspiration mode) or lyrics and "
                    "style (custom mode), not both."
                ),
            ),
            MaxLength("prompt", 3000, When("model", SUNO_SHORT_LIMIT_MODELS), "for v3.5 and v4"),
            MaxLength("style", 200, When("model", SUNO_SHORT_LIMIT_MODELS), "for v3.5 and v4"),
        ),
        price=BySubModel(),
        # From the current model page (an older page listed v4 at 5).
        price_note=(
            "Per task (two songs): v3.5 5, v4 8, v4.5 and v4.5+ 10, v5 and v5.5 12 credits."
        ),
        results_per_unit=2,
        typical_seconds=(30, 90),
        callback=True,
        inputs=frozenset({"text"}),
        description="Suno: full songs with vocals from a description or your own lyrics.",
    ),
    ModelSpec(
        slug="minimax-music",
        name="MiniMax Music",
        kind="music",
        route="audio/music",
        output="audio",
        model_value="minimax-music",
        params=(
            Param(
                "prompt",
                "longtext",
                "Lyrics and style",
                required=True,
                max_length=3000,
                help="MiniMax Music is lyrics-driven: write the lyrics, with a short style "
                "description (up to 3000 characters, the studio's limit).",
            ),
        ),
        price=Fixed(10),
        price_note=ESTIMATED_PRICE,
        typical_seconds=(30, 120),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"text"}),
        description="MiniMax Music: songs driven by your lyrics.",
    ),
)
