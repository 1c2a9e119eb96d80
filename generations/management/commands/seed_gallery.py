"""`manage.py seed_gallery --count 100000 --workspace NAME --owner USERNAME`: a workspace with a
year of a team's results, to measure the gallery and the Create page at scale (make bench).

Creates the workspace and its owner if missing, ~20 members, jobs over the last year across the
image, video and audio models with prompts made of everyday words (a few rare ones, to search
for), booked in the ledger as the studio would (a hold and a settle or release each). Result
files are a handful of small placeholders shared by every job (a picture, a video and a sound
made once), not one file per job: the point is the database, and 100,000 files would only fill
the disk."""

from __future__ import annotations

import io
import random
import subprocess
import uuid
import wave
from datetime import timedelta
from decimal import Decimal
from typing import Any

import imageio_ffmpeg
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from PIL import Image

from generations import catalog
from generations.models import Generation, GenerationFile, State, prompt_of
from studio import ledger
from studio.models import Membership, Role, Workspace

MEMBERS = 20
BATCH = 2000
SUBJECTS = (
    "a red fox", "a lighthouse", "an old tram", "a heron", "a bowl of ramen", "a mountain lake",
    "a city street", "a violin", "a desert road", "a cat on a windowsill", "a sailboat",
    "a bakery window", "a robot", "a forest path", "a pair of sneakers", "a coffee cup",
    "a vintage car", "a wolf", "a skyline", "a bicycle", "a greenhouse", "a jellyfish",
    "a paper lantern", "a horse", "a wedding cake", "a library", "a snowy cabin", "a surfer",
    "a perfume bottle", "a chess board", "a hot air balloon", "a koi pond", "a rooftop garden",
)  # fmt: skip
SETTINGS = (
    "at dawn", "at night", "in the rain", "in autumn", "under neon lights", "in the snow",
    "on a beach", "in a studio", "in fog", "at golden hour", "in a market", "by the sea",
    "in spring", "in the mountains", "on a rooftop", "in a museum", "underwater",
)  # fmt: skip
STYLES = (
    "photorealistic", "watercolor", "oil painting", "35mm film", "isometric", "pixel art",
    "product shot", "cinematic", "minimalist", "studio lighting", "wide angle", "macro",
    "ink sketch", "3D render", "soft pastel colors", "high contrast", "editorial",
)  # fmt: skip
RARE = ("quetzal", "zeppelin", "axolotl", "marzipan", "obelisk", "narwhal", "origami")
KIND_SHARE = {"image": 0.7, "video": 0.15, "music": 0.1, "speech": 0.05}
SPEECH = ("Welcome back to the show", "Our new collection is here", "Thanks for watching")


class Command(BaseCommand):
    help = "Fill a workspace with a year of results (to measure the gallery at scale)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=100_000)
        parser.add_argument("--workspace", required=True, help="its name (created if missing)")
        parser.add_argument("--owner", required=True, help="a username (created if missing)")
        parser.add_argument("--seed", type=int, default=1, help="the same seed, the same data")

    def handle(self, *args, count: int, workspace: str, owner: str, seed: int, **options):
        if count < 0:
            raise CommandError("--count must be 0 or more")
        rng = random.Random(seed)
        space, people = _workspace(workspace, owner)
        files = _placeholders()
        models = {kind: [s for s in catalog.for_kind(kind) if s.async_task] for kind in KIND_SHARE}
        now = timezone.now()
        times = sorted(now - timedelta(seconds=rng.uniform(60, 365 * 86400)) for _ in range(count))
        made = 0
        for start in range(0, count, BATCH):
            chunk = times[start : start + BATCH]
            with transaction.atomic():
                jobs = Generation.objects.bulk_create(
                    [_job(rng, space, people, models, when) for when in chunk]
                )
                GenerationFile.objects.bulk_create(
                    [_file(job, files) for job in jobs if job.state == State.SUCCEEDED]
                )
                ledger.record_past_jobs(space, jobs)
            made += len(jobs)
            if options["verbosity"] > 1:
                self.stdout.write(f"  {made:,} of {count:,}")
        if options["verbosity"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{made:,} jobs in “{space.name}” (owner {owner}, {len(people)} members)."
                )
            )


def _workspace(name: str, owner: str):
    User = get_user_model()
    with transaction.atomic():
        boss = User.objects.filter(username=owner).first()
        if boss is None:
            boss = User.objects.create_user(owner)  # no password: set one to log in as them
            Workspace.create_personal(boss)
        space = Workspace.objects.filter(name=name, personal=False, deleted_at=None).first()
        if space is None:
            space = Workspace.objects.create(name=name)
        Membership.objects.get_or_create(workspace=space, user=boss, defaults={"role": Role.OWNER})
        people = [boss]
        for i in range(1, MEMBERS):
            member, _ = User.objects.get_or_create(username=f"{owner}-member-{i:02d}")
            role = Role.ADMIN if i <= 2 else Role.MEMBER
            Membership.objects.get_or_create(workspace=space, user=member, defaults={"role": role})
            people.append(member)
    return space, people


def _placeholders() -> dict[str, str]:
    """The shared files (stored once): a picture per palette, a one-second video and sound."""
    names = {}
    for i, colour in enumerate(("#c0392b", "#2980b9", "#27ae60", "#8e44ad", "#f39c12", "#16a085")):
        buffer = io.BytesIO()
        Image.new("RGB", (256, 256), colour).save(buffer, "PNG")
        names[f"image{i}"] = _store(f"seed/picture-{i}.png", buffer.getvalue())
    sound = io.BytesIO()
    with wave.open(sound, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000)
    names["audio"] = _store("seed/sound.wav", sound.getvalue())
    names["video"] = _store("seed/video.mp4", _video())
    return names


def _video() -> bytes:
    """One second of one colour, 128 px, made by the ffmpeg that imageio-ffmpeg ships."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "lavfi", "-i", "color=c=#2980b9:s=128x128:d=1", "-pix_fmt", "yuv420p",
        "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, check=True, timeout=60).stdout


def _store(name: str, data: bytes) -> str:
    if not default_storage.exists(name):
        return default_storage.save(name, ContentFile(data))
    return name


def _prompt(rng: random.Random) -> str:
    words = [rng.choice(SUBJECTS), rng.choice(SETTINGS)]
    if rng.random() < 0.7:
        words.append(rng.choice(STYLES))
    if rng.random() < 0.001:  # ~14 jobs per rare word in 100,000
        words.insert(1, f"with a {rng.choice(RARE)}")
    return ", ".join(words) if rng.random() < 0.5 else " ".join(words)


def _job(rng, space, people, models, when) -> Generation:
    kind = rng.choices(list(KIND_SHARE), weights=list(KIND_SHARE.values()))[0]
    spec = rng.choice(models[kind])
    params: dict[str, Any]
    if kind == "speech":  # a dialogue: its lines are its words
        params = {"dialogue": [{"text": rng.choice(SPEECH), "voice": "narrator"}]}
    else:
        params = {"prompt": _prompt(rng)}
    prompt = prompt_of(params)
    estimate = spec.estimate(params) or 1
    failed = rng.random() < 0.05
    ran = rng.uniform(5, 240 if kind == "video" else 60)
    return Generation(
        code=uuid.UUID(int=rng.getrandbits(128), version=4),
        workspace=space,
        user=rng.choice(people),
        model_slug=spec.slug,
        kind=kind,
        params=params,
        prompt=prompt,
        estimate=estimate,
        state=State.FAILED if failed else State.SUCCEEDED,
        has_files=not failed,  # its file is bulk-made below (bulk_create skips save())
        token=uuid.uuid4().hex,
        private=rng.random() < 0.05,
        starred=rng.random() < 0.01,
        status_word="fail" if failed else "success",
        consumed_credits=None if failed else Decimal(estimate),
        error_kind="upstream" if failed else "",
        error_message="The service could not make this one." if failed else "",
        created_at=when,
        submitted_at=when,
        accepted_at=when,
        upstream_done_at=when + timedelta(seconds=ran),
        finished_at=when + timedelta(seconds=ran + 1),
    )


def _file(job: Generation, files: dict[str, str]) -> GenerationFile:
    output = catalog.get(job.model_slug).output
    if output == "image":
        name = files[f"image{job.pk % 6}"]
        return GenerationFile(
            generation=job, kind="image", file=name, content_type="image/png", size=1000,
            width=256, height=256,
        )  # fmt: skip
    if output == "video":
        return GenerationFile(
            generation=job, kind="video", file=files["video"], content_type="video/mp4",
            size=2000, width=128, height=128, preview=files[f"image{job.pk % 6}"],
        )  # fmt: skip
    return GenerationFile(
        generation=job, kind="audio", file=files["audio"], content_type="audio/wav", size=16044
    )
