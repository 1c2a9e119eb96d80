"""The sandbox's media are real files: pictures, sounds and videos a browser can show and play."""

from __future__ import annotations

import io
import re
import subprocess
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from generations.sandbox import media

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def pixels(data: bytes, mode: str = "RGB") -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert(mode), dtype=np.float32)


def png(size: tuple[int, int], colour: tuple[int, ...], mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def probe(data: bytes, tmp_path: Path) -> str:
    """What `ffmpeg -i` says about a file (it exits non-zero without an output: that is fine)."""
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    proc = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, check=False
    )
    return proc.stderr.decode("utf-8", "replace")


def duration(info: str) -> float:
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def frames(data: bytes, tmp_path: Path, size: tuple[int, int]) -> np.ndarray:
    path = tmp_path / "frames.mp4"
    path.write_bytes(data)
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, size[1], size[0], 3).astype(np.float32)


def lavfi_video(tmp_path: Path, spec: str, seconds: float, *extra: str) -> bytes:
    """A test video from ffmpeg's own generators, e.g. a coloured frame with a box drawn on it."""
    out = tmp_path / "source.mp4"
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", spec, "-t", str(seconds), *extra,
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out.read_bytes()


# ---------------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (256, 256)),
        ("16:9", (256, 144)),
        ("9:16", (144, 256)),
        ("4:3", (256, 192)),
        ("3:4", (192, 256)),
        ("3:2", (256, 171)),
        ("2:3", (171, 256)),
        ("21:9", (256, 110)),
        ("auto", (256, 256)),
    ],
)
def test_it_sizes_images_by_their_aspect_ratio(ratio: str, size: tuple[int, int]) -> None:
    image = Image.open(
        io.BytesIO(media.make_image("a lighthouse", aspect_ratio=ratio, long_side=256))
    )
    assert image.size == size


def test_it_makes_768_px_images_by_default() -> None:
    assert Image.open(io.BytesIO(media.make_image("a lighthouse"))).size == (768, 768)


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_it_makes_the_same_image_for_the_same_seed_and_another_for_another(fmt: str) -> None:
    first = media.make_image("a quiet harbour", seed=7, fmt=fmt, long_side=320)
    again = media.make_image("a quiet harbour", seed=7, fmt=fmt, long_side=320)
    other = media.make_image("a quiet harbour", seed=8, fmt=fmt, long_side=320)
    assert first == again
    assert first != other
    assert np.abs(pixels(first) - pixels(other)).mean() > 4


def test_it_makes_a_different_image_for_each_variant() -> None:
    one = media.make_image("a quiet harbour", seed=7, variant=0, long_side=320)
    two = media.make_image("a quiet harbour", seed=7, variant=1, long_side=320)
    assert np.abs(pixels(one) - pixels(two)).mean() > 4


def test_it_paints_different_prompts_differently() -> None:
    cat = pixels(media.make_image("a cat asleep on a sofa", seed=1, long_side=320))
    car = pixels(media.make_image("a racing car in the rain", seed=1, long_side=320))
    assert np.abs(cat - car).mean() > 10


def test_it_takes_the_colours_from_the_prompt() -> None:
    def blueness(prompt: str) -> float:
        image = pixels(media.make_image(prompt, seed=3, long_side=256))
        return float((image[..., 2] - image[..., 0]).mean())

    assert blueness("deep blue ocean") > blueness("red fire") + 60
    forest = pixels(media.make_image("a green forest", seed=3, long_side=256)).mean(axis=(0, 1))
    assert forest[1] > forest[0]
    assert forest[1] > forest[2]


def test_it_writes_the_prompt_on_a_dark_band_at_the_bottom() -> None:
    image = pixels(media.make_image("snow", seed=2, long_side=320))
    band, sky = image[-12:].mean(), image[: image.shape[0] // 3].mean()
    assert band < sky - 60
    # The white letters stand out of the band.
    assert image[-60:].max() > 240


def test_it_keeps_a_long_prompt_in_its_picture() -> None:
    prompt = "an extraordinarily " * 80 + "Supercalifragilisticexpialidocious" * 5
    assert media.sniff(media.make_image(prompt, long_side=200)) == "image/png"


@pytest.mark.parametrize(
    ("fmt", "mime", "pil"),
    [("png", "image/png", "PNG"), ("webp", "image/webp", "WEBP"), ("jpeg", "image/jpeg", "JPEG")],
)
def test_it_writes_the_image_format_asked_for(fmt: str, mime: str, pil: str) -> None:
    data = media.make_image("a red kite", fmt=fmt, long_side=128)
    assert media.sniff(data) == mime
    assert Image.open(io.BytesIO(data)).format == pil


def test_it_refuses_unknown_image_formats_and_aspect_ratios() -> None:
    with pytest.raises(ValueError, match="format"):
        media.make_image("x", fmt="bmp")
    with pytest.raises(ValueError, match="aspect_ratio"):
        media.make_image("x", aspect_ratio="wide")


# ---------------------------------------------------------------------------------- audio


def read_wav(data: bytes) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(io.BytesIO(data)) as wav:
        params = wav.getparams()
        samples = np.frombuffer(wav.readframes(params.nframes), "<i2").astype(np.float32) / 32768
    return params, samples


def test_it_makes_music_of_the_length_asked_for() -> None:
    data = media.make_audio("music", text="a happy tune", seconds=4.0, seed=1)
    params, samples = read_wav(data)
    assert media.sniff(data) == "audio/wav"
    assert params.sampwidth == 2
    assert params.nchannels in (1, 2)
    assert params.framerate in (22050, 44100)
    assert params.nframes / params.framerate == pytest.approx(4.0, abs=0.05)
    assert np.sqrt((samples**2).mean()) > 0.05  # not silence
    assert np.abs(samples).max() < 1.0  # not clipped


def test_it_makes_the_same_music_for_the_same_seed() -> None:
    first = media.make_audio("music", seconds=2.0, seed=5)
    assert first == media.make_audio("music", seconds=2.0, seed=5)
    assert first != media.make_audio("music", seconds=2.0, seed=6)


def test_it_encodes_mp3(tmp_path: Path) -> None:
    data = media.make_audio("music", seconds=2.0, seed=1, fmt="mp3")
    assert media.sniff(data) == "audio/mpeg"
    info = probe(data, tmp_path)
    assert "Audio: mp3" in info
    assert duration(info) == pytest.approx(2.0, abs=0.15)


def test_it_speaks_for_as_long_as_the_text() -> None:
    def seconds(text: str) -> float:
        params, samples = read_wav(media.make_audio("speech", text=text, seed=1))
        assert np.abs(samples).max() > 0.3
        return params.nframes / params.framerate

    short = seconds("Hello there.")
    longer = seconds("Hello there. " * 8)
    assert 1.0 <= short < longer
    assert longer == pytest.approx(8 * short, rel=0.5)
    assert seconds("Hi") >= 1.0
    assert seconds("A rather long sentence to read out loud. " * 80) <= 60.0


def test_it_speaks_a_dialogue_with_a_voice_per_speaker() -> None:
    text = "Alice: Good morning, Bob!\nBob: Morning. Coffee?\nAlice: Yes please."
    data = media.make_audio("dialogue", text=text, seed=2, fmt="wav")
    params, _ = read_wav(data)
    assert 2.0 < params.nframes / params.framerate < 15.0
    assert data == media.make_audio("dialogue", text=text, seed=2)
    assert data != media.make_audio("dialogue", text=text, seed=2, voices=["Rachel", "Adam"])


def test_it_refuses_unknown_audio_kinds_and_formats() -> None:
    with pytest.raises(ValueError, match="kind"):
        media.make_audio("noise")
    with pytest.raises(ValueError, match="format"):
        media.make_audio("music", fmt="flac")


# ---------------------------------------------------------------------------------- video


def test_it_makes_an_h264_video_with_an_aac_track(tmp_path: Path) -> None:
    data = media.make_video("a windy beach", seconds=2.0, long_side=320, fps=10, seed=1)
    assert media.sniff(data) == "video/mp4"
    info = probe(data, tmp_path)
    assert "Video: h264" in info
    assert "yuv420p" in info
    assert "320x180" in info
    assert "Audio: aac" in info
    assert duration(info) == pytest.approx(2.0, abs=0.15)
    # +faststart: the index comes before the media, so a browser can start playing at once.
    assert data.index(b"moov") < data.index(b"mdat")


def test_it_makes_a_silent_video_without_sound(tmp_path: Path) -> None:
    data = media.make_video("a windy beach", seconds=1.5, sound=False, long_side=200, seed=1)
    info = probe(data, tmp_path)
    assert "Video: h264" in info
    assert "Audio:" not in info
    assert duration(info) == pytest.approx(1.5, abs=0.15)
    assert re.search(r"200x112\b", info)  # 16:9 rounded to even sides


def test_it_makes_videos_that_move(tmp_path: Path) -> None:
    data = media.make_video("hills", seconds=1.0, fps=8, sound=False, long_side=160, seed=4)
    video = frames(data, tmp_path, (160, 90))
    assert len(video) == 8
    assert np.abs(video[0] - video[-1]).mean() > 3


def test_it_makes_a_poster_of_the_first_frame(tmp_path: Path) -> None:
    data = media.make_video("hills", seconds=1.0, sound=False, aspect_ratio="9:16", long_side=256)
    poster = media.make_poster(data)
    assert media.sniff(poster) == "image/png"
    assert Image.open(io.BytesIO(poster)).size == (144, 256)
    first = frames(data, tmp_path, (144, 256))[0]
    assert np.abs(pixels(poster) - first).mean() < 2


# ---------------------------------------------------------------------------------- tools


def subject_on_white() -> bytes:
    image = Image.new("RGB", (200, 160), (250, 250, 250))
    image.paste((200, 30, 30), (60, 40, 140, 120))
    image.paste((250, 250, 250), (90, 70, 110, 90))  # a hole inside the subject stays
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_it_removes_the_background() -> None:
    result = media.remove_background(subject_on_white())
    assert media.sniff(result) == "image/png"
    alpha = pixels(result, "RGBA")[..., 3]
    assert alpha.shape == (160, 200)
    for y, x in ((0, 0), (0, 199), (159, 0), (159, 199), (80, 20), (10, 100)):
        assert alpha[y, x] == 0
    assert alpha[50, 70] == 255
    assert alpha[80, 100] == 255  # enclosed, so part of the subject


def test_it_upscales() -> None:
    result = media.upscale(png((120, 80), (10, 120, 200)))
    assert media.sniff(result) == "image/png"
    assert Image.open(io.BytesIO(result)).size == (240, 160)
    assert Image.open(io.BytesIO(media.upscale(png((40, 30), (0, 0, 0)), 3))).size == (120, 90)


def test_it_caps_upscaling_at_4096_px() -> None:
    result = media.upscale(png((3000, 20), (10, 120, 200)), factor=2)
    assert Image.open(io.BytesIO(result)).size == (4096, 27)


def test_it_swaps_a_face_into_the_spot_asked_for() -> None:
    target = png((400, 300), (120, 120, 120))
    face = png((200, 200), (230, 40, 40))
    first = pixels(media.face_swap(target, face, fmt="png"))
    second = pixels(media.face_swap(target, face, target_index=1, fmt="png"))
    grey = np.array([120, 120, 120], np.float32)
    assert np.abs(first[108, 200] - grey).sum() > 80  # centre, upper third
    assert np.abs(first[10, 10] - grey).sum() < 3
    assert np.abs(first[290, 390] - grey).sum() < 3
    changed = np.abs(first - grey).sum(axis=-1) > 30
    assert 0.02 < changed.mean() < 0.3  # a face-sized patch, not the whole picture
    assert np.abs(second[120, 120] - grey).sum() > 80
    assert np.abs(second[108, 200] - first[108, 200]).sum() > 80
    assert media.sniff(media.face_swap(target, face)) == "image/jpeg"


def test_it_replaces_a_video_background(tmp_path: Path) -> None:
    source = lavfi_video(
        tmp_path,
        "color=c=0x2040e0:s=160x120:r=10",
        1.0,
        "-vf",
        "drawbox=x=50:y=30:w=60:h=60:color=red:t=fill",
    )
    green = png((64, 64), (0, 200, 0))
    result = media.remove_video_background(source, green)
    info = probe(result, tmp_path)
    assert "Video: h264" in info
    assert "160x120" in info
    video = frames(result, tmp_path, (160, 120))
    assert len(video) == 10
    assert np.abs(video[5, 5, 5] - (0, 200, 0)).max() < 25
    assert np.abs(video[5, 60, 80] - (255, 0, 0)).max() < 40
    checker = frames(media.remove_video_background(source), tmp_path, (160, 120))[0]
    assert np.abs(checker[:20, :20] - (32, 64, 224)).mean(axis=-1).min() > 80  # no blue left


def test_it_bounds_video_background_removal_to_10_s_and_640_px(tmp_path: Path) -> None:
    source = lavfi_video(tmp_path, "color=c=white:s=1280x720:r=4", 12.0, "-an")
    info = probe(media.remove_video_background(source), tmp_path)
    assert "640x360" in info
    assert duration(info) <= 10.1


def not_an_image() -> bytes:
    return b"this is plain text, not a picture" * 4


@pytest.mark.parametrize(
    "call",
    [
        lambda: media.remove_background(not_an_image()),
        lambda: media.upscale(not_an_image()),
        lambda: media.upscale(b""),
        lambda: media.face_swap(not_an_image(), png((10, 10), (0, 0, 0))),
        lambda: media.face_swap(png((10, 10), (0, 0, 0)), not_an_image()),
        lambda: media.make_poster(not_an_image()),
        lambda: media.remove_video_background(not_an_image()),
        lambda: media.remove_video_background(b"\x00\x00\x00\x18ftypmp42" + bytes(200)),
    ],
)
def test_it_refuses_bytes_that_are_not_media(call) -> None:
    with pytest.raises(ValueError, match=r"not a|empty"):
        call()


# ---------------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(8), "image/png"),
        (b"\xff\xd8\xff\xe0" + bytes(8), "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a" + bytes(8), "image/gif"),
        (b"\x00\x00\x00\x20ftypisom" + bytes(8), "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(8), "video/quicktime"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"ID3\x04\x00" + bytes(8), "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(8), "audio/mpeg"),
        (b"OggS\x00\x02" + bytes(8), "audio/ogg"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"%PDF-1.7" + bytes(8), None),
        (b"plain text", None),
        (b"", None),
    ],
)
def test_it_sniffs_media_types(head: bytes, mime: str | None) -> None:
    assert media.sniff(head) == mime


def test_it_sniffs_what_it_makes() -> None:
    assert media.sniff(media.make_audio("speech", text="hi", fmt="wav")) == "audio/wav"
    assert media.sniff(media.make_audio("speech", text="hi", fmt="mp3")) == "audio/mpeg"
