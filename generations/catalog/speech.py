"""Speech models: text to speech and dialogue.

What each costs and accepts, as API in One documents it."""

from __future__ import annotations

from generations.catalog.engine import (
    ModelSpec,
    Param,
    PerCharacters,
)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        slug="elevenlabs-v3",
        name="ElevenLabs V3",
        kind="speech",
        route="audio/speech",
        output="audio",
        model_value="elevenlabs-v3",
        params=(
            Param(
                "dialogue",
                "dialogue",
                "Dialogue",
                required=True,
                help="One or more lines, each with text and an optional voice.",
                suggestions=("narrator", "user"),
            ),
            Param(
                "stability",
                "float",
                "Stability",
                default=0.5,
                min_value=0,
                max_value=1,
                help="0 to 1: lower varies more, higher is more consistent.",
            ),
            Param(
                "language_code",
                "text",
                "Language",
                default="auto",
                max_length=16,
                help="A language code such as en, zh or ja, or auto to detect it.",
                advanced=True,
            ),
        ),
        price=PerCharacters(field="dialogue", text_key="text", per_thousand=28, minimum=1),
        price_note="28 credits per 1000 characters of dialogue, rounded up; 1 credit minimum.",
        typical_seconds=(3, 10),
        callback=True,
        inputs=frozenset({"text"}),
        description="ElevenLabs V3: expressive multi-voice dialogue in 30+ languages.",
    ),
)
