"""Sound synthesised with numpy: music (pad chords, bass, a plucked melody with an echo and a
soft beat, in a key and tempo the prompt's mood words choose) and speech-like audio for one
voice or a dialogue (formant vowels and noise consonants). make_audio returns WAV, or MP3
encoded by ffmpeg.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from generations.sandbox.media.common import _BITEXACT, _rng, _run_ffmpeg, _seed_int, _words

MUSIC_RATE = 44100
SPEECH_RATE = 22050

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4), (0, 3, 0, 4))
_MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4))
_SAD_WORDS = {"sad", "dark", "night", "rain", "melancholy", "moody", "mystery", "horror", "minor",
              "lonely", "storm", "cinematic", "epic", "noir", "winter"}  # fmt: skip
_HAPPY_WORDS = {"happy", "bright", "sunny", "joy", "joyful", "cheerful", "upbeat", "summer", "fun",
                "pop", "major", "spring", "playful"}  # fmt: skip
_FAST_WORDS = {"fast", "energetic", "dance", "upbeat", "action", "run", "edm", "techno", "rock"}
_CALM_WORDS = {"calm", "slow", "ambient", "relaxing", "chill", "lofi", "sleep", "meditation"}


def _add_tone(
    buf: np.ndarray,
    start: float,
    freq: float,
    dur: float,
    *,
    gain: float,
    pan: float = 0.0,
    harmonics: Sequence[tuple[int, float]] = ((1, 1.0),),
    attack: float = 0.01,
    release: float = 0.1,
    decay: float = 0.0,
    detune: float = 0.0,
) -> None:
    """Mix one note into a stereo float buffer (in place)."""
    i0 = round(start * MUSIC_RATE)
    n = min(int((dur + release) * MUSIC_RATE), len(buf) - i0)
    if n <= 0:
        return
    t = np.arange(n, dtype=np.float32) / MUSIC_RATE
    env = np.minimum(t / attack, 1.0)
    if decay:
        env *= np.exp(-decay * t)
    tail = t > dur
    env[tail] *= np.clip(1 - (t[tail] - dur) / release, 0, 1)

    def osc(f: float) -> np.ndarray:
        wave_ = np.zeros(n, dtype=np.float32)
        for k, amp in harmonics:
            if f * k < MUSIC_RATE / 2 - 1000:
                wave_ += amp * np.sin((2 * np.pi * f * k) * t)
        return wave_

    left = osc(freq * (1 - detune))
    right = left if not detune else osc(freq * (1 + detune))
    angle = (pan + 1) * np.pi / 4
    buf[i0 : i0 + n, 0] += left * env * (gain * math.cos(angle))
    buf[i0 : i0 + n, 1] += right * env * (gain * math.sin(angle))


def _add_drum(
    buf: np.ndarray, start: float, rng: np.random.Generator, *, kick: bool, gain: float
) -> None:
    i0 = round(start * MUSIC_RATE)
    n = min(int((0.25 if kick else 0.06) * MUSIC_RATE), len(buf) - i0)
    if n <= 0:
        return
    t = np.arange(n, dtype=np.float32) / MUSIC_RATE
    if kick:
        freq = 45 + 75 * np.exp(-t * 30)
        sig = np.sin(2 * np.pi * np.cumsum(freq) / MUSIC_RATE) * np.exp(-t * 14)
        buf[i0 : i0 + n] += (sig * gain)[:, None]
    else:
        noise = np.diff(rng.standard_normal(n + 1).astype(np.float32))
        sig = noise * np.exp(-t * 70) * gain
        buf[i0 : i0 + n, 0] += sig * 0.6
        buf[i0 : i0 + n, 1] += sig


def _music(text: str, seconds: float, seed: int | None) -> np.ndarray:
    """A short tune: pad chords, bass, a plucked melody with an echo, and a soft beat."""
    rng = _rng("music", text, seed)
    words = set(_words(text))
    minor = bool(words & _SAD_WORDS) or (not words & _HAPPY_WORDS and rng.random() < 0.4)
    scale = _MINOR if minor else _MAJOR
    progressions = _MINOR_PROGRESSIONS if minor else _MAJOR_PROGRESSIONS
    progression = progressions[int(rng.integers(0, len(progressions)))]
    if words & _FAST_WORDS:
        bpm = rng.uniform(118, 136)
    elif words & _CALM_WORDS:
        bpm = rng.uniform(64, 80)
    else:
        bpm = rng.uniform(82, 112)
    beat = 60.0 / bpm
    root = int(rng.integers(53, 61))  # F3..C4

    def freq(degree: int, octave: int = 0) -> float:
        o, i = divmod(degree, 7)
        return 440.0 * 2 ** ((root + 12 * (o + octave) + scale[i] - 69) / 12)

    total = int(seconds * MUSIC_RATE)
    mix = np.zeros((total, 2), dtype=np.float32)
    melody = np.zeros_like(mix)
    bar = 4 * beat
    current = 7 + int(rng.integers(0, 5))
    pad_voice = ((1, 1.0), (2, 0.22), (3, 0.07))
    for b in range(math.ceil(seconds / bar)):
        degree = progression[b % len(progression)]
        t0 = b * bar
        for k in (0, 2, 4):
            _add_tone(
                mix,
                t0,
                freq(degree + k),
                bar,
                gain=0.075,
                attack=0.3,
                release=0.5,
                harmonics=pad_voice,
                detune=0.0025,
                pan=(k - 2) * 0.25,
            )
        for step in (0, 2) if bpm > 100 else (0, 1, 2, 3):
            _add_tone(
                mix,
                t0 + step * beat,
                freq(degree, -1),
                beat * 0.9,
                gain=0.2,
                attack=0.008,
                release=0.08,
                decay=2.2,
                harmonics=((1, 1.0), (2, 0.45), (3, 0.15)),
            )
        for eighth in range(8):
            if eighth == 0:
                chord = [degree + k + 7 * o for k in (0, 2, 4) for o in (1, 2)]
                current = min(chord, key=lambda d: abs(d - current))
            elif rng.random() < (0.75 if eighth % 2 == 0 else 0.3):
                current = int(np.clip(current + rng.choice((-2, -1, -1, 1, 1, 2, 0)), 5, 16))
            else:
                continue
            _add_tone(
                melody,
                t0 + eighth * beat / 2,
                freq(current),
                beat * 0.8,
                gain=0.15,
                attack=0.005,
                release=0.1,
                decay=3.0,
                pan=-0.25,
                harmonics=((1, 1.0), (2, 0.35), (3, 0.12), (4, 0.05)),
            )
        for eighth in range(8):
            t = t0 + eighth * beat / 2
            _add_drum(mix, t, rng, kick=False, gain=0.035 if eighth % 2 else 0.02)
            if eighth in (0, 4) or (eighth == 6 and rng.random() < 0.4):
                _add_drum(mix, t, rng, kick=True, gain=0.3)
    delay = int(beat * 0.75 * MUSIC_RATE)
    mix += melody
    if delay < total:
        mix[delay:] += melody[:-delay, ::-1] * 0.3
    peak = float(np.abs(mix).max()) or 1.0
    mix *= 0.85 / peak
    fade_in, fade_out = int(0.01 * MUSIC_RATE), int(min(0.8, seconds * 0.15) * MUSIC_RATE)
    mix[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)[:, None]
    if fade_out:
        mix[-fade_out:] *= np.linspace(1, 0, fade_out, dtype=np.float32)[:, None] ** 2
    return mix


_VOWEL_CHARS = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüœ"
_VOWEL_CLASS = dict.fromkeys("aàáâãäåæ", "a") | dict.fromkeys("eèéêëœ", "e")
_VOWEL_CLASS |= dict.fromkeys("iìíîïy", "i") | dict.fromkeys("oòóôõöø", "o")
_VOWEL_CLASS |= dict.fromkeys("uùúûü", "u")
_FORMANTS = {
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (300, 2200, 2950),
    "o": (570, 840, 2410),
    "u": (320, 870, 2240),
    "m": (280, 1100, 2400),
}
_SYLLABLE_RE = re.compile(f"([^{_VOWEL_CHARS}]*)([{_VOWEL_CHARS}]+)")
_TOKEN_RE = re.compile(r"[^\W\d_]+|\d+|[.,!?;:]")
_PITCHES = (118.0, 205.0, 150.0, 235.0, 100.0, 175.0)


def _syllables(word: str) -> list[tuple[str, str, str]]:
    """(onset consonants, vowel class, coda consonants) for each syllable of a word."""
    word = word.lower()
    if word.isdigit():
        return [("n", "aeiou"[int(c) % 5], "") for c in word[:24]]
    parts = _SYLLABLE_RE.findall(word)
    if not parts:  # no Latin vowels (e.g. CJK): one syllable per character
        return [("", "aeiou"[ord(c) % 5], "") for c in word[:60]]
    coda = word[sum(len(o) + len(v) for o, v in parts) :]
    result = [(onset, _VOWEL_CLASS.get(vowel[0], "a"), "") for onset, vowel in parts]
    result[-1] = (result[-1][0], result[-1][1], coda)
    return result


def _voiced(
    n: int,
    f_start: float,
    f_end: float,
    formants: Sequence[float],
    gain: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A vowel-ish sound: harmonics of a gliding pitch, weighted by three formant peaks."""
    t = np.arange(n, dtype=np.float32) / SPEECH_RATE
    f0 = np.linspace(f_start, f_end, n, dtype=np.float32) * (
        1 + 0.012 * np.sin(2 * np.pi * 5.3 * t)
    )
    phase = 2 * np.pi * np.cumsum(f0) / SPEECH_RATE
    mean_f = float(f0.mean())
    k = np.arange(1, max(2, int(3800 / mean_f)) + 1, dtype=np.float32)
    hk = k * mean_f
    f1, f2, f3 = formants
    amp = (1 / k**0.8) * (
        np.exp(-(((hk - f1) / 140) ** 2))
        + 0.7 * np.exp(-(((hk - f2) / 170) ** 2))
        + 0.35 * np.exp(-(((hk - f3) / 230) ** 2))
        + 0.06
    )
    keep = amp > amp.max() * 0.02
    amp, k = amp[keep], k[keep]
    sig = (amp / amp.sum()) @ np.sin(np.outer(k, phase))
    sig += rng.standard_normal(n).astype(np.float32) * 0.015
    edge = min(n // 2, int(0.03 * SPEECH_RATE))
    env = np.ones(n, dtype=np.float32)
    if edge:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge, dtype=np.float32))
        env[:edge], env[-edge:] = ramp, ramp[::-1]
    return (sig * env * gain * 3.0).astype(np.float32)


def _noise(n: int, rng: np.random.Generator, *, hiss: bool, gain: float) -> np.ndarray:
    order = 2 if hiss else 1
    sig = np.diff(rng.standard_normal(n + order).astype(np.float32), n=order)
    env = np.sin(np.linspace(0, np.pi, n, dtype=np.float32))
    return sig * env * gain


def _consonant(letters: str, f0: float, rng: np.random.Generator, *, coda: bool) -> np.ndarray:
    scale = 0.6 if coda else 1.0
    if any(c in "szcxj" for c in letters) or "sh" in letters:
        return _noise(int(0.075 * scale * SPEECH_RATE), rng, hiss=True, gain=0.06)
    if "th" in letters or any(c in "fvh" for c in letters):
        return _noise(int(0.06 * scale * SPEECH_RATE), rng, hiss=False, gain=0.08)
    if any(c in "ptkbdgq" for c in letters):
        burst = _noise(int(0.02 * SPEECH_RATE), rng, hiss=False, gain=0.12)
        return np.concatenate([np.zeros(int(0.025 * SPEECH_RATE), np.float32), burst])
    if any(c in "mnlrw" for c in letters):
        return _voiced(int(0.055 * scale * SPEECH_RATE), f0, f0, _FORMANTS["m"], 0.18, rng)
    return np.zeros(0, dtype=np.float32)


def _speak(
    lines: list[tuple[str, str]],
    pitches: dict[str, float],
    rng: np.random.Generator,
    max_seconds: float,
) -> np.ndarray:
    """Mono speech-like audio for (voice, text) lines; stops adding syllables at max_seconds."""
    pieces: list[tuple[int, np.ndarray]] = []
    cursor = 0.15

    def add(part: np.ndarray, advance: float = 1.0) -> None:
        nonlocal cursor
        if len(part):
            pieces.append((int(cursor * SPEECH_RATE), part))
            cursor += advance * len(part) / SPEECH_RATE

    for number, (voice, text) in enumerate(lines):
        if number:
            cursor += 0.45
        f0 = pitches[voice]
        formant_scale = 1.0 + float(np.clip((f0 - 120) / 450, 0, 0.2))
        in_phrase = 0
        last: tuple[int, int, float, list[float]] | None = None  # piece index, n, pitch, formants
        for token in _TOKEN_RE.findall(text):
            if cursor > max_seconds - 0.3:
                break
            if token in ".!?;:,":
                if token == "?" and last is not None:  # a question ends on a rising pitch
                    index, n, pitch, formants = last
                    rising = _voiced(n, pitch, pitch * 1.3, formants, 0.5, rng)
                    pieces[index] = (pieces[index][0], rising)
                cursor += 0.18 if token in ",;:" else 0.32
                in_phrase, last = 0, None
                continue
            for position, (onset, vowel, coda) in enumerate(_syllables(token)):
                pitch = f0 * max(0.82, 1.1 - 0.018 * in_phrase) * rng.uniform(0.94, 1.06)
                add(_consonant(onset, pitch, rng, coda=False))
                n = int(rng.uniform(0.12, 0.2) * (1.15 if position == 0 else 1.0) * SPEECH_RATE)
                formants = [f * formant_scale for f in _FORMANTS[vowel]]
                glide = pitch * rng.uniform(0.93, 1.03)
                last = (len(pieces), n, pitch, formants)
                add(_voiced(n, pitch, glide, formants, 0.5, rng), advance=0.92)
                if coda:
                    add(_consonant(coda, glide, rng, coda=True))
                in_phrase += 1
            cursor += 0.05
    length = min(max_seconds, max(1.0, cursor + 0.2))
    out = np.zeros(int(length * SPEECH_RATE), dtype=np.float32)
    for start, piece in pieces:
        end = min(len(out), start + len(piece))
        if end > start:
            out[start:end] += piece[: end - start]
    peak = float(np.abs(out).max())
    if peak > 0:
        out *= 0.8 / peak
    return out


def _speech_lines(kind: str, text: str, voices: Sequence[str] | None) -> list[tuple[str, str]]:
    names = [str(v) for v in voices or [] if str(v).strip()]
    if kind == "speech":
        return [(names[0] if names else "narrator", " ".join(text.split()))]
    raw = [line.strip() for line in text.splitlines() if line.strip()]
    parsed = [re.match(r"^([^:]{1,32}):\s*(.*)$", line) for line in raw]
    speakers: list[str] = []
    lines: list[tuple[str, str]] = []
    for i, (line, match) in enumerate(zip(raw, parsed, strict=True)):
        if match:
            speaker = match.group(1).strip()
            if speaker not in speakers:
                speakers.append(speaker)
            voice = names[speakers.index(speaker) % len(names)] if names else speaker
            lines.append((voice, match.group(2)))
        else:
            lines.append((names[i % len(names)] if names else f"speaker {i % 2 + 1}", line))
    return lines


def _babble(seconds: float, rng: np.random.Generator) -> str:
    syllables = ("ba", "lo", "mi", "ta", "ne", "ro", "su", "ka", "de", "vi", "po", "la")
    words = [
        "".join(syllables[int(i)] for i in rng.integers(0, len(syllables), int(rng.integers(1, 4))))
        for _ in range(int(seconds * 3) + 2)
    ]
    return " ".join(w + ("." if rng.random() < 0.12 else "") for w in words)


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def _mp3_bytes(wav: bytes, bitrate: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="sandbox-mp3-") as tmp:
        src, dst = Path(tmp, "in.wav"), Path(tmp, "out.mp3")
        src.write_bytes(wav)
        _run_ffmpeg(["-i", str(src), "-c:a", "libmp3lame", "-b:a", bitrate, *_BITEXACT, str(dst)])
        return dst.read_bytes()


def make_audio(
    kind: str,
    *,
    text: str = "",
    seconds: float = 8.0,
    seed: int | None = None,
    fmt: str = "wav",
    voices: list[str] | None = None,
) -> bytes:
    """Music (a seeded tune of `seconds`) or speech/dialogue (voice-like, as long as the text)."""
    kind = (kind or "").strip().lower()
    fmt = (fmt or "wav").strip().lower()
    if fmt not in ("wav", "mp3"):
        raise ValueError(f"unsupported audio format {fmt!r}: use 'wav' or 'mp3'")
    text = text or ""
    if kind == "music":
        seconds = float(min(300.0, max(0.5, seconds)))
        samples, rate, bitrate = _music(text, seconds, seed), MUSIC_RATE, "128k"
    elif kind in ("speech", "dialogue"):
        rng = _rng("speech", kind, text, seed, tuple(voices or ()))
        limit = 60.0
        if not text.strip():
            limit = float(min(60.0, max(1.0, seconds)))
            text = _babble(limit, rng)
            if kind == "dialogue":
                text = "\n".join(_babble(limit / 3, rng) for _ in range(3))
        lines = _speech_lines(kind, text, voices)
        pitches: dict[str, float] = {}
        for voice, _ in lines:
            if voice not in pitches:
                jitter = 1 + (_seed_int("voice", voice) % 17 - 8) / 200
                slot = len(pitches) if kind == "dialogue" else _seed_int("slot", voice)
                pitches[voice] = _PITCHES[slot % len(_PITCHES)] * jitter
        samples, rate, bitrate = _speak(lines, pitches, rng, limit), SPEECH_RATE, "64k"
    else:
        raise ValueError(f"unknown audio kind {kind!r}: use 'music', 'speech' or 'dialogue'")
    wav = _wav_bytes(samples, rate)
    return wav if fmt == "wav" else _mp3_bytes(wav, bitrate)
