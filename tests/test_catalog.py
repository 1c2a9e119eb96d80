"""The model catalog: coverage, prices, validation and upstream lookups (pure Python)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from generations import catalog
from generations.catalog import (
    KINDS,
    MODELS,
    PARAM_KINDS,
    BySubModel,
    ModelSpec,
    Table,
    chat_credits,
    find_upstream,
    for_kind,
    get,
)

URL = "https://example.com/photo.jpg"

EXPECTED_ROUTES = {
    "flux-2": "images/generations",
    "grok-imagine": "images/generations",
    "kling-image-o1": "images/generations",
    "ideogram-v3": "images/generations",
    "imagen-4": "images/generations",
    "gpt-image-1.5-official": "images/generations",
    "seedream-4-5": "images/generations",
    "seedream": "images/generations",
    "kling-3": "videos/generations",
    "seedance": "videos/generations",
    "pixverse": "videos/generations",
    "suno": "audio/music",
    "minimax-music": "audio/music",
    "elevenlabs-v3": "audio/speech",
    "gemini": "chat/completions",
    "bg-remover": "images/tools/remove-bg",
    "face-swap": "images/tools/face-swap",
    "image-upscale": "images/tools/upscale",
    "video-bg-remover": "videos/tools/bg-remover",
}

# Documented example requests (manual and model pages), plus the studio's own examples
# for the models only the manual names, built from the manual's generic parameters.
EXAMPLES = {
    "flux-2": {
        "model": "flux-2",
        "prompt": "A serene Japanese garden with cherry blossoms",
        "aspect_ratio": "16:9",
        "type": "pro",
        "resolution": "1K",
    },
    "grok-imagine": {
        "model": "grok-imagine/text-to-image",
        "prompt": "An astronaut riding a horse on Mars, photorealistic",
    },
    "kling-image-o1": {
        "model": "kling-image-o1",
        "prompt": "A cyberpunk cityscape at night with neon signs, inspired by the reference",
        "images": ["https://example.com/reference.jpg"],
        "aspect_ratio": "16:9",
        "resolution": "1k",
    },
    "ideogram-v3": {
        "model": "ideogram-v3-turbo",
        "prompt": 'A vintage travel poster for Tokyo with "Visit Tokyo" in retro lettering',
        "aspect_ratio": "3:4",
        "style": "Design",
    },
    "imagen-4": {
        "model": "imagen4",
        "prompt": "A photorealistic bowl of ramen with steam rising, side lighting",
        "aspect_ratio": "1:1",
    },
    "gpt-image-1.5-official": {
        "model": "gpt-image-1-5",
        "prompt": 'A modern logo design for a coffee shop called "Bean & Brew"',
        "quality": "medium",
        "aspect_ratio": "1:1",
    },
    "seedream-4-5": {
        "model": "seedream/4.5-text-to-image",
        "prompt": "A serene mountain lake at sunrise with reflections, photorealistic",
        "aspect_ratio": "16:9",
        "quality": "high",
    },
    "seedream": {
        "model": "seedream",
        "prompt": "Make the sky a warm sunset",
        "type": "edit",
        "input_urls": [URL],
    },
    "kling-3": {
        "model": "kling-3",
        "prompt": "A golden retriever running through sunflowers at sunset",
        "mode": "std",
        "duration": 5,
        "aspect_ratio": "16:9",
        "sound": True,
    },
    "seedance": {
        "model": "seedance",
        "prompt": "A paper boat drifting down a rainy street",
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "generateAudio": True,
    },
    "pixverse": {
        "model": "pixverse",
        "prompt": "A cat astronaut waving from a space station window",
        "image": URL,
        "aspect_ratio": "9:16",
        "resolution": "1080p",
        "generate_audio_switch": False,
    },
    "suno": {
        "model": "chirp-v4-5",
        "prompt": "Verse 1: Walking down the street\nChorus: Summer dreams",
        "style": "pop, upbeat, electronic",
        "title": "Summer Dreams",
        "make_instrumental": False,
    },
    "minimax-music": {
        "model": "minimax-music",
        "prompt": "[verse] City lights are calling me home\nStyle: synth-pop, dreamy",
    },
    "elevenlabs-v3": {
        "model": "elevenlabs-v3",
        "dialogue": [
            {"text": "Hello, welcome to API in One.", "voice": "narrator"},
            {"text": "Thank you! Tell me more.", "voice": "user"},
        ],
        "stability": 0.5,
        "language_code": "auto",
    },
    "gemini": {
        "model": "gemini",
        "messages": [{"role": "user", "content": "Explain quantum computing in simple terms."}],
        "stream": False,
        "include_thoughts": True,
    },
    "bg-remover": {"image": URL},
    "face-swap": {
        "model": "face-swap",
        "image": "https://example.com/target-photo.jpg",
        "face_image": "https://example.com/source-face.jpg",
        "target_index": 0,
        "output_format": "png",
    },
    "image-upscale": {"model": "image-upscale", "image": "https://example.com/low-res.jpg"},
    "video-bg-remover": {"video": "https://example.com/talking-head.mp4"},
}


def errors(slug: str, params: dict) -> dict[str, str]:
    return get(slug).validate(params)


def example(slug: str, **changes) -> dict:
    params = dict(EXAMPLES[slug])
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


# ------------------------------------------------------------------------ coverage


@pytest.mark.parametrize(("slug", "route"), sorted(EXPECTED_ROUTES.items()))
def test_it_has_every_model_with_its_route(slug, route):
    spec = get(slug)
    assert spec.slug == slug
    assert spec.route == route
    assert not spec.route.startswith("/")


def test_it_covers_exactly_the_documented_models():
    assert set(MODELS) == set(EXPECTED_ROUTES)


def test_it_keys_models_by_their_slug():
    for slug, spec in MODELS.items():
        assert spec.slug == slug


def test_it_raises_key_error_for_an_unknown_slug():
    with pytest.raises(KeyError):
        get("no-such-model")


def test_it_orders_kinds_and_lists_models_by_kind():
    assert [kind for kind, _ in KINDS] == ["image", "video", "music", "speech", "chat", "tool"]
    assert [s.slug for s in for_kind("video")] == ["kling-3", "seedance", "pixverse"]
    assert [s.slug for s in for_kind("tool")] == [
        "bg-remover",
        "image-upscale",
        "face-swap",
        "video-bg-remover",
    ]
    assert for_kind("nonsense") == []
    listed = [s.slug for kind, _ in KINDS for s in for_kind(kind)]
    assert sorted(listed) == sorted(MODELS)


def test_it_groups_models_of_a_kind_together_in_display_order():
    kinds = [spec.kind for spec in MODELS.values()]
    order = [kind for kind, _ in KINDS]
    assert kinds == sorted(kinds, key=order.index)


def test_it_describes_every_model_consistently():
    outputs = {"image", "video", "audio", "text"}
    for spec in MODELS.values():
        assert spec.name
        assert spec.description
        assert spec.kind in dict(KINDS)
        assert spec.output in outputs
        assert spec.inputs
        assert spec.inputs <= {"text", "image", "video", "audio"}
        low, high = spec.typical_seconds
        assert 0 < low <= high
        assert spec.typical_duration == (low + high) / 2
        assert spec.async_task == (spec.kind != "chat")
        names = [p.name for p in spec.params]
        assert len(names) == len(set(names)), spec.slug
        assert "model" not in names
        hash(spec)  # specs are immutable and hashable


def test_it_keeps_every_param_self_consistent():
    for spec in MODELS.values():
        for param in spec.params:
            where = f"{spec.slug}.{param.name}"
            assert param.kind in PARAM_KINDS, where
            assert param.label, where
            if param.kind == "choice":
                assert param.choices, where
                assert param.default is None or param.default in param.choices, where
            else:
                assert not param.choices, where
            if param.required:
                assert param.default is None, where
            if param.default is not None:
                assert spec.validate({param.name: param.default}).get(param.name) is None, where


def test_it_gives_every_model_an_upstream_model_except_tools():
    for spec in MODELS.values():
        if spec.kind == "tool":
            assert spec.upstream_model({}) is None
        else:
            assert spec.upstream_model({}), spec.slug
        if spec.sub_models:
            assert spec.model_value is None
            assert spec.upstream_model({}) == (spec.default_model or spec.sub_models[0].value)


def test_it_chooses_the_sub_model_from_params_or_falls_back_to_the_default():
    imagen = get("imagen-4")
    assert imagen.upstream_model({}) == "imagen4"
    assert imagen.upstream_model({"model": "imagen4-ultra"}) == "imagen4-ultra"
    assert imagen.upstream_model({"model": "nonsense"}) == "imagen4"
    assert get("suno").upstream_model({}) == "chirp-v3-5"
    assert get("ideogram-v3").upstream_model(None) == "ideogram-v3-turbo"
    assert get("flux-2").upstream_model({"model": "anything"}) == "flux-2"


def test_it_sends_the_example_model_value_for_gpt_image():
    spec = get("gpt-image-1.5-official")
    assert spec.upstream_model({}) == "gpt-image-1-5"
    assert spec.accepts_model("gpt-image-1.5-official")


def test_it_marks_callbacks_and_sync_chat_as_documented():
    with_callback = {s.slug for s in MODELS.values() if s.callback}
    assert {"flux-2", "imagen-4", "kling-3", "suno", "elevenlabs-v3"} <= with_callback
    assert "gemini" not in with_callback
    assert "face-swap" not in with_callback
    assert get("gemini").async_task is False


def test_it_notes_estimated_prices_on_models_without_published_prices():
    for slug in ("seedance", "pixverse", "minimax-music", "seedream"):
        assert "estimate" in get(slug).price_note
    assert "estimate" in get("kling-image-o1").price_note  # the price of several images
    for spec in MODELS.values():
        assert spec.price_note, spec.slug


# ------------------------------------------------------------------------ prices


def test_it_prices_flux_by_type_and_resolution():
    flux = get("flux-2")
    assert flux.estimate({}) == 5
    assert flux.estimate({"type": "pro", "resolution": "2K"}) == 7
    assert flux.estimate({"type": "flex", "resolution": "1K"}) == 14
    assert flux.estimate({"type": "flex", "resolution": "2K"}) == 24


def test_it_prices_sub_model_tables():
    assert get("grok-imagine").estimate({}) == 5
    assert get("grok-imagine").estimate({"model": "grok-imagine/upscale"}) == 12
    ideogram = get("ideogram-v3")
    assert [ideogram.estimate({"model": s.value}) for s in ideogram.sub_models] == [8, 13, 20]


def test_it_prices_imagen_per_image():
    imagen = get("imagen-4")
    assert imagen.estimate({}) == 8
    assert imagen.estimate({"model": "imagen4-fast"}) == 4
    assert imagen.estimate({"model": "imagen4-ultra", "num_images": 3}) == 36
    assert imagen.estimate({"model": "imagen4-ultra", "num_images": "3"}) == 36
    assert imagen.expected_results({"num_images": 3}) == 3


def test_it_prices_gpt_image_seedream_and_kling_image():
    assert get("gpt-image-1.5-official").estimate({"quality": "medium"}) == 10
    assert get("gpt-image-1.5-official").estimate({"quality": "high"}) == 28
    assert get("seedream-4-5").estimate({"model": "seedream/4.5-edit", "quality": "high"}) == 12
    kling = get("kling-image-o1")
    assert kling.estimate({}) == 6
    assert kling.estimate({"type": "ai-multi-shot"}) == 16
    assert kling.estimate({"type": "image-to-image", "num_images": 9}) == 54
    assert kling.estimate({"type": "ai-multi-shot", "num_images": 2}) == 32


def test_it_prices_kling_3_per_second():
    kling = get("kling-3")
    assert kling.estimate({}) == 300
    assert kling.estimate(EXAMPLES["kling-3"]) == 300
    assert kling.estimate({"mode": "pro", "duration": 15, "sound": True}) == 1200
    assert kling.estimate({"mode": "std", "duration": 3, "sound": False}) == 120
    assert kling.estimate({"mode": "pro", "duration": 5, "sound": False}) == 300
    assert kling.estimate({"duration": "10", "sound": "false"}) == 400


def test_it_prices_kling_3_multi_shot_on_the_sum_of_shots():
    kling = get("kling-3")
    shots = [{"prompt": "Wide shot", "duration": 4}, {"prompt": "Close up", "duration": 6}]
    params = {"multi_shots": True, "multi_prompt": shots, "duration": 5}
    assert kling.estimate(params) == 60 * 10
    assert kling.estimate({**params, "multi_shots": False}) == 60 * 5


def test_it_prices_suno_by_model_version():
    suno = get("suno")
    prices = {s.value: suno.estimate({"model": s.value}) for s in suno.sub_models}
    assert prices == {
        "chirp-v3-5": 5,
        "chirp-v4-0": 8,
        "chirp-v4-5": 10,
        "chirp-v4-5-plus": 10,
        "chirp-v5": 12,
        "chirp-v5-5": 12,
    }
    assert suno.estimate({}) == 5
    assert suno.expected_results({}) == 2


def test_it_prices_elevenlabs_per_character_with_a_minimum():
    speech = get("elevenlabs-v3")
    assert speech.estimate({"dialogue": [{"text": "x" * 1000}]}) == 28
    assert speech.estimate({"dialogue": [{"text": "x" * 10}]}) == 1
    assert speech.estimate({"dialogue": [{"text": "x" * 600}, {"text": "y" * 400}]}) == 28
    assert speech.estimate({"dialogue": [{"text": "x" * 1001}]}) == 29
    assert speech.estimate({}) == 1


def test_it_prices_chat_hold_and_token_settlement():
    assert get("gemini").estimate(EXAMPLES["gemini"]) == 5
    assert chat_credits(12, 156) == 1
    assert chat_credits(0, 0) == 1
    assert chat_credits(1000, 0) == 1
    assert chat_credits(1000, 1) == 2
    assert chat_credits(4000, 2500) == 7


def test_it_prices_tools_flat():
    assert get("bg-remover").estimate({"image": URL}) == 1
    assert get("image-upscale").estimate({"image": URL}) == 1
    assert get("face-swap").estimate(EXAMPLES["face-swap"]) == 4
    assert get("video-bg-remover").estimate(EXAMPLES["video-bg-remover"]) == 10


def test_it_prices_the_estimated_video_and_music_models():
    assert get("seedance").estimate({}) == 60
    assert get("seedance").estimate({"duration": "10", "resolution": "1080p"}) == 240
    assert get("seedance").estimate({"generateAudio": True}) == 120
    assert get("pixverse").estimate({}) == 40
    assert get("pixverse").estimate({"resolution": "480p", "generate_audio_switch": True}) == 50
    assert get("minimax-music").estimate({}) == 10
    assert get("seedream").estimate({}) == 12


def test_it_prices_every_model_positively_for_its_example():
    for slug, params in EXAMPLES.items():
        assert get(slug).estimate(params) >= 1, slug


def test_it_covers_every_choice_combination_in_price_tables():
    for spec in MODELS.values():
        if isinstance(spec.price, Table):
            table = dict(spec.price.table)
            choices = [spec.param(name).choices for name in spec.price.keys]
            assert set(itertools.product(*choices)) == set(table), spec.slug
        if isinstance(spec.price, BySubModel):
            assert all(s.credits is not None for s in spec.sub_models), spec.slug


def test_it_estimates_with_defaults_when_values_are_invalid():
    assert get("flux-2").estimate({"type": "ultra"}) == 5
    assert get("imagen-4").estimate({"model": "imagen4-ultra", "num_images": 99}) == 48


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize("slug", sorted(EXAMPLES))
def test_it_accepts_each_documented_example(slug):
    assert errors(slug, EXAMPLES[slug]) == {}


def test_it_requires_an_image_prompt_of_3_to_5000_characters():
    assert errors("flux-2", example("flux-2", prompt=None)) == {"prompt": "Prompt is required."}
    assert errors("flux-2", example("flux-2", prompt="  ")) == {"prompt": "Prompt is required."}
    assert errors("imagen-4", example("imagen-4", prompt="ab")) == {
        "prompt": "Prompt must be at least 3 characters."
    }
    too_long = errors("ideogram-v3", example("ideogram-v3", prompt="x" * 5001))
    assert too_long["prompt"].startswith("Prompt must be at most 5000 characters")
    assert errors("flux-2", example("flux-2", prompt="x" * 5000)) == {}


def test_it_limits_video_prompts_to_2500_characters():
    for slug in ("kling-3", "seedance", "pixverse"):
        found = errors(slug, example(slug, prompt="x" * 2501))
        assert found["prompt"].startswith("Prompt must be at most 2500 characters"), slug
        assert errors(slug, example(slug, prompt="x" * 2500)) == {}, slug


def test_it_rejects_values_outside_each_models_choices():
    assert "aspect_ratio" in errors("flux-2", example("flux-2", aspect_ratio="4:3"))
    assert errors("imagen-4", example("imagen-4", aspect_ratio="4:3")) == {}
    assert errors("gpt-image-1.5-official", example("gpt-image-1.5-official", aspect_ratio="16:9"))
    assert errors("kling-3", example("kling-3", aspect_ratio="4:3")) == {
        "aspect_ratio": "Aspect ratio must be one of: 1:1, 9:16, 16:9."
    }
    assert errors("kling-image-o1", example("kling-image-o1", aspect_ratio="auto")) == {}
    assert "type" in errors("flux-2", example("flux-2", type="ultra"))
    assert "resolution" in errors("flux-2", example("flux-2", resolution="1k"))
    assert "resolution" in errors("kling-image-o1", example("kling-image-o1", resolution="1K"))
    assert "quality" in errors("gpt-image-1.5-official", {"prompt": "abc", "quality": "low"})
    assert "style" in errors("ideogram-v3", example("ideogram-v3", style="Anime"))
    assert "mode" in errors("kling-3", example("kling-3", mode="master"))
    assert "resolution" in errors("seedance", example("seedance", resolution="4k"))
    assert "duration" in errors("pixverse", example("pixverse", duration=10))
    assert "reasoning_effort" in errors("gemini", example("gemini", reasoning_effort="medium"))


def test_it_rejects_an_unknown_sub_model():
    assert errors("imagen-4", example("imagen-4", model="imagen5")) == {
        "model": "Model must be one of: imagen4-fast, imagen4, imagen4-ultra."
    }
    assert errors("imagen-4", example("imagen-4", model="imagen4-ultra")) == {}
    assert errors("imagen-4", example("imagen-4", model="imagen-4")) == {}
    assert errors("suno", example("suno", model="suno")) == {}


def test_it_limits_imagen_and_kling_image_counts():
    assert errors("imagen-4", example("imagen-4", num_images=5)) == {
        "num_images": "Number of images must be between 1 and 4."
    }
    assert errors("imagen-4", example("imagen-4", num_images=4)) == {}
    assert "num_images" in errors("kling-image-o1", example("kling-image-o1", num_images=10))
    assert "num_images" in errors("imagen-4", example("imagen-4", num_images="two"))
    assert "num_images" in errors("imagen-4", example("imagen-4", num_images=1.5))


def test_it_checks_image_links():
    assert errors("flux-2", example("flux-2", input_urls=[URL] * 9)) == {
        "input_urls": "Reference images can have at most 8 items."
    }
    assert errors("flux-2", example("flux-2", input_urls=[URL] * 8)) == {}
    assert "input_urls" in errors("flux-2", example("flux-2", input_urls=["ftp://x/y.png"]))
    assert errors("flux-2", example("flux-2", input_urls=f"{URL}\n{URL}")) == {}
    assert "images" in errors("kling-image-o1", example("kling-image-o1", images=[URL] * 11))


def test_it_validates_kling_3_duration_between_3_and_15():
    assert errors("kling-3", example("kling-3", duration=2)) == {
        "duration": "Duration (seconds) must be between 3 and 15."
    }
    assert "duration" in errors("kling-3", example("kling-3", duration=16))
    assert errors("kling-3", example("kling-3", duration=3)) == {}
    assert errors("kling-3", example("kling-3", duration="15")) == {}
    assert "sound" in errors("kling-3", example("kling-3", sound="maybe"))
    assert "image" in errors("kling-3", example("kling-3", image="not a link"))


def test_it_validates_kling_3_multi_shot():
    base = example("kling-3", prompt=None, multi_shots=True)
    assert errors("kling-3", base) == {"multi_prompt": "Multi-shot needs at least one shot."}
    good = [{"prompt": "Wide shot of a city", "duration": 5}, {"prompt": "Close", "duration": 5}]
    assert errors("kling-3", {**base, "multi_prompt": good}) == {}
    no_prompt = [{"prompt": "", "duration": 5}]
    assert errors("kling-3", {**base, "multi_prompt": no_prompt}) == {
        "multi_prompt": "Shot 1 needs a prompt."
    }
    no_duration = [{"prompt": "Wide", "duration": 4}, {"prompt": "Close"}]
    assert errors("kling-3", {**base, "multi_prompt": no_duration}) == {
        "multi_prompt": "Shot 2 needs a duration in whole seconds."
    }
    too_long = [{"prompt": "Wide", "duration": 10}, {"prompt": "Close", "duration": 6}]
    assert errors("kling-3", {**base, "multi_prompt": too_long}) == {
        "multi_prompt": "Shot durations must add up to between 3 and 15 seconds "
        "(they add up to 16)."
    }
    too_short = [{"prompt": "Wide", "duration": 2}]
    assert "multi_prompt" in errors("kling-3", {**base, "multi_prompt": too_short})
    assert "multi_prompt" in errors("kling-3", {**base, "multi_prompt": "not json"})


def test_it_requires_a_kling_3_prompt_unless_multi_shot():
    found = errors("kling-3", example("kling-3", prompt=None))
    assert set(found) == {"prompt"}
    assert found["prompt"].startswith("Prompt is required")


def test_it_applies_suno_length_limits_by_version():
    short = {"model": "chirp-v4-0", "style": "pop"}
    assert errors("suno", {**short, "prompt": "x" * 3000}) == {}
    assert errors("suno", {**short, "prompt": "x" * 3001})["prompt"].startswith(
        "Lyrics must be at most 3000 characters for v3.5 and v4"
    )
    assert "prompt" in errors("suno", {"prompt": "x" * 3001})  # default chirp-v3-5
    long = {"model": "chirp-v4-5", "style": "pop"}
    assert errors("suno", {**long, "prompt": "x" * 5000}) == {}
    assert "prompt" in errors("suno", {**long, "prompt": "x" * 5001})
    assert "style" in errors("suno", {"model": "chirp-v3-5", "prompt": "la", "style": "x" * 201})
    assert errors("suno", {"model": "chirp-v5", "prompt": "la", "style": "x" * 1000}) == {}
    assert "style" in errors("suno", {"model": "chirp-v5", "prompt": "la", "style": "x" * 1001})
    assert errors("suno", {"gpt_description_prompt": "x" * 401}) == {
        "gpt_description_prompt": "Song description must be at most 400 characters (it has 401)."
    }
    assert errors("suno", example("suno", title="x" * 81)) == {
        "title": "Title must be at most 80 characters (it has 81)."
    }


def test_it_checks_suno_modes():
    assert errors("suno", {"gpt_description_prompt": "A calm lo-fi song about rain"}) == {}
    assert errors("suno", {}) == {
        "gpt_description_prompt": (
            "Describe the song (inspiration mode) or enter lyrics (custom mode)."
        )
    }
    assert errors("suno", {"style": "jazz", "title": "Blue"}) == {
        "prompt": "Custom mode needs Lyrics."
    }
    both = errors("suno", {"gpt_description_prompt": "A song", "prompt": "La la la"})
    assert set(both) == {"gpt_description_prompt"}
    assert "not both" in both["gpt_description_prompt"]
    assert "style_weight" in errors("suno", example("suno", style_weight=1.5))
    assert "gender" in errors("suno", example("suno", gender="robot"))


def test_it_checks_elevenlabs_dialogue_and_stability():
    good = EXAMPLES["elevenlabs-v3"]
    assert errors("elevenlabs-v3", {**good, "dialogue": [{"text": "Hi there"}]}) == {}
    assert errors("elevenlabs-v3", {**good, "dialogue": []}) == {
        "dialogue": "Add at least one line of dialogue."
    }
    assert errors("elevenlabs-v3", {"stability": 0.5}) == {
        "dialogue": "Add at least one line of dialogue."
    }
    empty_line = [{"text": "Hi"}, {"text": "  ", "voice": "user"}]
    assert errors("elevenlabs-v3", {**good, "dialogue": empty_line}) == {
        "dialogue": "Line 2 needs some text."
    }
    assert "dialogue" in errors("elevenlabs-v3", {**good, "dialogue": ["just a string"]})
    assert errors("elevenlabs-v3", {**good, "stability": 1.2}) == {
        "stability": "Stability must be between 0 and 1."
    }
    assert errors("elevenlabs-v3", {**good, "stability": 0}) == {}
    assert "stability" in errors("elevenlabs-v3", {**good, "stability": "steady"})


def test_it_checks_face_swap_inputs_and_options():
    assert errors("face-swap", {}) == {
        "image": "Target image is required.",
        "face_image": "Face image is required.",
    }
    assert errors("face-swap", example("face-swap", target_index=11)) == {
        "target_index": "Face number must be between 0 and 10."
    }
    assert errors("face-swap", example("face-swap", target_index=10)) == {}
    assert errors("face-swap", example("face-swap", output_format="gif")) == {
        "output_format": "Output format must be one of: jpeg, png, webp."
    }
    assert errors("face-swap", example("face-swap", output_format="webp")) == {}
    assert get("face-swap").filled({})["output_format"] == "jpeg"


def test_it_requires_tool_inputs():
    assert errors("bg-remover", {}) == {"image": "Image is required."}
    assert errors("image-upscale", {"image": "photo.jpg"}) == {
        "image": "Image must be a link starting with http:// or https://."
    }
    assert errors("video-bg-remover", {}) == {"video": "Video is required."}
    with_background = {**EXAMPLES["video-bg-remover"], "background_image": URL}
    assert errors("video-bg-remover", with_background) == {}
    assert "background_image" in errors(
        "video-bg-remover", {**with_background, "background_image": "beach.png"}
    )


def test_it_checks_conditional_requirements_of_image_sub_models():
    assert errors("grok-imagine", {"model": "grok-imagine/text-to-image"}) == {
        "prompt": "Prompt is required for text-to-image."
    }
    assert errors("grok-imagine", {"model": "grok-imagine/upscale"}) == {
        "task_id": "Upscale needs the task ID of an earlier Grok Imagine image."
    }
    assert errors("grok-imagine", {"model": "grok-imagine/upscale", "task_id": "n31x_grok"}) == {}
    assert "image_urls" in errors(
        "seedream-4-5", example("seedream-4-5", model="seedream/4.5-edit")
    )
    assert "input_urls" in errors("seedream", example("seedream", input_urls=None))
    assert errors("seedream", example("seedream", type="text-to-image", input_urls=None)) == {}


def test_it_checks_chat_messages():
    assert errors("gemini", {}) == {"messages": "Conversation is required."}
    assert errors("gemini", {"messages": []}) == {"messages": "Conversation is required."}
    assert errors("gemini", {"messages": {"role": "user"}}) == {
        "messages": "Conversation must be a list of messages."
    }
    assert errors("gemini", {"messages": [{"role": "robot", "content": "hi"}]}) == {
        "messages": "Message 1 needs a role: one of user, assistant, system, developer."
    }
    assert errors("gemini", {"messages": [{"role": "user", "content": ""}]}) == {
        "messages": "Message 1 needs some content."
    }
    assert errors("gemini", {"messages": "{not json"}) == {
        "messages": "Conversation must be valid JSON."
    }
    as_text = '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]'
    assert errors("gemini", {"messages": as_text}) == {}


def test_it_ignores_fields_it_does_not_know():
    params = {**EXAMPLES["flux-2"], "callback_url": "https://studio.example/hook", "x": 1}
    assert errors("flux-2", params) == {}


def test_it_writes_short_sentences_for_every_message():
    samples = [
        errors("flux-2", {"prompt": "ab", "aspect_ratio": "5:4", "input_urls": ["x"]}),
        errors("kling-3", {"duration": 99, "mode": "x"}),
        errors("suno", {}),
        errors("face-swap", {"target_index": -1}),
        errors("elevenlabs-v3", {"dialogue": [{}]}),
    ]
    for found in samples:
        assert found
        for message in found.values():
            assert message[0].isupper(), message
            assert message.endswith("."), message


# ------------------------------------------------------------------------ values and lookups


def test_it_fills_defaults_and_builds_request_bodies():
    kling = get("kling-3")
    filled = kling.filled({"prompt": "A dog"})
    assert filled["model"] == "kling-3"
    assert filled["mode"] == "std"
    assert filled["duration"] == 5
    assert filled["aspect_ratio"] == "16:9"
    assert filled["sound"] is True
    assert filled["image"] is None
    body = kling.request_body({"prompt": "A dog", "duration": "7", "sound": "false"})
    assert body == {
        "model": "kling-3",
        "prompt": "A dog",
        "mode": "std",
        "duration": 7,
        "aspect_ratio": "16:9",
        "sound": False,
        "multi_shots": False,
    }
    assert get("bg-remover").request_body({"image": URL}) == {"image": URL}
    assert get("seedance").filled({})["generateAudio"] is False
    assert get("pixverse").filled({})["generate_audio_switch"] is False


def test_it_finds_the_spec_for_an_upstream_request():
    assert find_upstream("images/generations", "imagen4-ultra").slug == "imagen-4"
    assert find_upstream("/api/v1/images/generations", "flux-2").slug == "flux-2"
    assert find_upstream("images/generations", "gpt-image-1-5").slug == "gpt-image-1.5-official"
    assert find_upstream("videos/generations", "seedance").slug == "seedance"
    assert find_upstream("audio/music", "chirp-v5").slug == "suno"
    assert find_upstream("audio/music", "minimax-music").slug == "minimax-music"
    assert find_upstream("/api/v1/images/tools/remove-bg", None).slug == "bg-remover"
    assert find_upstream("images/tools/face-swap", "face-swap").slug == "face-swap"
    assert find_upstream("videos/tools/bg-remover", None).slug == "video-bg-remover"
    assert find_upstream("images/generations", "dall-e-3") is None
    assert find_upstream("images/generations", None) is None
    assert find_upstream("nowhere", "flux-2") is None


@pytest.mark.parametrize(
    "path", sorted(Path(catalog.__file__).parent.glob("*.py")), ids=lambda path: path.name
)
def test_it_is_pure_python_with_postponed_annotations(path):
    source = path.read_text()
    tree = ast.parse(source)
    body = tree.body
    first = body[1] if isinstance(body[0], ast.Expr) else body[0]
    assert isinstance(first, ast.ImportFrom)
    assert first.module == "__future__"
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {name.split(".")[0] for name in imported} & {
        "django", "httpx", "requests", "os", "pathlib"
    }  # fmt: skip
    # Inside the studio it reads only itself.
    assert {name for name in imported if name.startswith("generations")} <= {
        "generations.catalog", "generations.catalog.engine", "generations.catalog.common"
    }  # fmt: skip
    assert "open(" not in source  # every fact is data in the package, nothing is read


def test_each_kind_is_one_short_file_and_the_engine_describes_no_model():
    """What a model costs is found in its kind's file; the engine holds no model."""
    folder = Path(catalog.__file__).parent
    for spec in MODELS.values():
        name = {"image": "image", "tool": "tools"}.get(spec.kind, spec.kind)
        assert f'slug="{spec.slug}"' in (folder / f"{name}.py").read_text(), spec.slug
    assert "slug=" not in (folder / "engine.py").read_text().split("class ModelSpec", 1)[1]
    assert list(MODELS) == [s.slug for k, _ in KINDS for s in for_kind(k)]  # display order


def test_it_is_a_model_spec_for_every_entry():
    assert all(isinstance(spec, ModelSpec) for spec in MODELS.values())


SOURCE_TALK = ("page", "older", "manual", "assumes", "chat_credits", "the studio allows", "fit to")


def test_what_a_user_reads_says_what_they_need_not_where_it_came_from():
    """Price notes and help texts are read on the form: notes about sources are code comments."""
    for spec in MODELS.values():
        texts = [spec.price_note, spec.speed_note, spec.description]
        texts += [param.help for param in spec.params]
        for text in texts:
            assert not [word for word in SOURCE_TALK if word in text.lower()], (spec.slug, text)
