"""Results taken away as files: a zip of chosen results (or of all that a gallery search shows),
streamed while it is written (never built in memory or on disk), each file named by its date,
model and prompt words, with a `manifest.json` of prompts, parameters, costs and lineage.

Files are stored, not compressed again (images, video and audio are compressed already), so a
zip streams at the speed of reading its files. Memory stays flat: jobs are read in batches, and
the manifest, last in the zip, is written by a second pass over the same jobs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db.models import Prefetch, Sum
from django.utils.text import slugify
from zipstream import ZIP_STORED, ZipStream

from generations.models import Generation, GenerationFile, file_refs
from studio.ledger import fmt

BATCH = 200  # jobs read at a time
CHUNK = 256 * 1024  # bytes read from storage at a time
MANIFEST = "manifest.json"


def filename_for(job: Generation, result: GenerationFile) -> str:
    """`2026-11-30_flux-2_a-red-fox-in-snow_1a2b3c4d.png` (`-2` … for a job's later files):
    sorted by date, readable, unique within a workspace."""
    words = slugify(job.prompt_excerpt)[:48].strip("-") or "result"
    extension = result.filename.rsplit(".", 1)[-1].lower() if "." in result.filename else "bin"
    number = f"-{result.position + 1}" if result.position else ""
    day, code = f"{job.created_at:%Y-%m-%d}", str(job.code)[:8]
    return f"{day}_{job.model_slug}_{words}_{code}{number}.{extension}"


def stream(jobs) -> Iterator[bytes]:
    """The zip of `jobs` (a GenerationQuerySet already scoped to what the person may see), as
    bytes to send while they come."""
    pks = list(jobs.order_by("-created_at", "-pk").values_list("pk", flat=True))
    archive = ZipStream(compress_type=ZIP_STORED)
    missing: set[int] = set()
    for batch in _batches(pks):
        for job in batch:
            for result in job.files.all():
                # The storage and name, not the row: the zip keeps what it is given till its end.
                data = _read(result.file.storage, str(result.file.name), result.pk, missing)
                archive.add(data, filename_for(job, result))
        yield from archive.all_files()  # each batch is written before the next is read
        del batch  # memory then holds only the zip's directory: ~170 bytes a file
    archive.add(_manifest(pks, missing), MANIFEST)
    yield from archive.finalize()


def _batches(pks: list[int]) -> Iterator[list[Generation]]:
    files = GenerationFile.objects.order_by("position")
    for start in range(0, len(pks), BATCH):
        chunk = pks[start : start + BATCH]
        jobs = (
            Generation.objects.filter(pk__in=chunk)
            .select_related("user")
            .prefetch_related(Prefetch("files", queryset=files))
            .annotate(ledger_total=Sum("ledger__amount"))
        )
        order = {pk: i for i, pk in enumerate(chunk)}
        yield sorted(jobs, key=lambda job: order[job.pk])


def _read(storage, name: str, pk: int, missing: set[int]) -> Iterator[bytes]:
    """A stored file's bytes; a file gone from storage becomes an empty entry, named in the
    manifest, rather than a zip cut off halfway."""
    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError:
        missing.add(pk)
        return
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _manifest(pks: list[int], missing: set[int]) -> Iterator[bytes]:
    yield b'{\n  "format": "api-in-one-studio/1",\n  "jobs": ['
    first = True
    for batch in _batches(pks):
        sources = _sources(batch)
        for job in batch:
            entry = json.dumps(_entry(job, sources, missing), ensure_ascii=False, indent=2)
            yield ("\n" if first else ",\n").encode() + _indented(entry).encode()
            first = False
    yield b"\n  ]\n}\n"


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _sources(batch: list[Generation]) -> dict[int, tuple[str, int]]:
    """The earlier results these jobs were made from: file id → (its job's code, position)."""
    ids = {pk for job in batch for pk in file_refs(job.params)}
    if not ids:
        return {}
    rows = GenerationFile.objects.filter(pk__in=ids).values_list(
        "pk", "generation__code", "position"
    )
    return {pk: (str(code), position) for pk, code, position in rows}


def _entry(job: Generation, sources: dict[int, tuple[str, int]], missing: set[int]) -> dict:
    made_from = []
    for pk in file_refs(job.params):
        code, position = sources.get(pk, ("", 0))
        made_from.append({"job": code, "file": position + 1} if code else {"job": None})
    files = [
        {
            "name": filename_for(job, result),
            "type": result.content_type,
            "bytes": result.size,
            **({"missing": True} if result.pk in missing else {}),
        }
        for result in job.files.all()
    ]
    return {
        "job": str(job.code),
        "model": job.model_slug,
        "model_name": job.model_name,
        "by": job.user.username if job.user else None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "state": job.state,
        "prompt": job.prompt or None,
        "parameters": job.params,
        "estimated_credits": job.estimate,
        "credits": fmt(job.cost + 0),  # + 0: no "-0" for a job that cost nothing
        "made_from": made_from,
        "files": files,
    }
