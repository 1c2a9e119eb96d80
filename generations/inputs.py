"""Inputs that are files: how a job's parameters point at them, and how the upstream gets them.

In a Generation's params an image or video input is a reference, not bytes:
  {"url": "https://…"}   a public link the person pasted (checked when it was pasted)
  {"upload": "<code>"}   a file the person uploaded into the studio
  {"file": <id>}         an earlier result from the workspace's gallery
When the job is sent, uploads and gallery files become URLs under STUDIO_PUBLIC_URL, signed and
valid for a day, served by `views.files.input_file` without a login (the upstream has none); or,
with media in object storage (STUDIO_S3_BUCKET), presigned links of the store, valid as long,
which work even when the studio itself cannot be reached from the internet.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from generations import catalog, upstream, urlsafety
from generations.models import Generation, GenerationFile, Upload

SIGNING_SALT = "generations.inputs"
URL_LIFETIME = 24 * 3600
FILE_KINDS = ("image_url", "video_url", "audio_url")


class InputError(Exception):
    """A referenced input is gone or cannot be handed to the upstream."""


def public_url_missing_message() -> str:
    return (
        "Uploaded files and gallery picks reach API in One as links to this studio, so the "
        "studio needs a public address: set STUDIO_PUBLIC_URL (or paste a public link instead)."
    )


def from_store() -> bool:
    """Whether inputs reach the upstream as presigned links of the object store."""
    return bool(settings.STUDIO_S3_BUCKET)


def _store_reachable(workspace) -> bool:
    endpoint = settings.STUDIO_S3_ENDPOINT_URL
    if not endpoint or upstream.uses_sandbox(workspace):  # AWS itself, or the emulator beside
        return True
    try:
        urlsafety.check_public_url(endpoint)
    except urlsafety.UnsafeURL:
        return False
    return True


def unreachable_message(workspace) -> str | None:
    """Why the workspace's upstream could not fetch a file from this studio, or None if it can:
    said on the form before anything is uploaded."""
    if from_store():
        if _store_reachable(workspace):
            return None
        return (
            f"API in One cannot fetch files from the studio's object storage: its endpoint "
            f"({settings.STUDIO_S3_ENDPOINT_URL}) is not a public address. Paste a public link "
            "instead, or use a bucket the internet can reach."
        )
    if not settings.STUDIO_PUBLIC_URL:
        return public_url_missing_message()
    if upstream.reaches_studio(workspace):
        return None
    return (
        f"API in One cannot fetch files from this studio: its address "
        f"({settings.STUDIO_PUBLIC_URL}) is not reachable from the internet. Paste a public link "
        "instead, or give the studio a public address (STUDIO_PUBLIC_URL), or set "
        "STUDIO_REACHABLE=yes if a tunnel lets the service in."
    )


def sign(kind: str, pk: int) -> str:
    return signing.dumps([kind, pk], salt=SIGNING_SALT, compress=True)


def unsign(token: str) -> tuple[str, int]:
    kind, pk = signing.loads(token, salt=SIGNING_SALT, max_age=URL_LIFETIME)
    return kind, int(pk)


def _public_url(kind: str, pk: int, filename: str, workspace, stored) -> str:
    problem = unreachable_message(workspace)
    if problem:
        raise InputError(problem)
    if from_store():  # a presigned GET of the private object
        return stored.storage.url(stored.name, expire=URL_LIFETIME)
    path = reverse("input-file", args=[sign(kind, pk), filename])
    return settings.STUDIO_PUBLIC_URL + path


def _membership(user, workspace):
    from studio.models import Membership

    return Membership.objects.filter(user=user, workspace=workspace).first()


def resolve(ref: Any, workspace, author=None) -> str:
    """The URL the upstream should fetch for one reference."""
    if isinstance(ref, str):
        return ref
    if not isinstance(ref, dict):
        raise InputError("An input is not in a form the studio understands.")
    if "url" in ref:
        return str(ref["url"])
    if "upload" in ref:
        upload = Upload.objects.filter(code=ref["upload"], workspace=workspace).first()
        if upload is None:
            raise InputError("An uploaded input file is no longer there.")
        name = upload.file.name.rsplit("/", 1)[-1]
        return _public_url("u", upload.pk, name, workspace, upload.file)
    if "file" in ref:
        # Only results the job's author may see: never someone else's private job.
        visible = Generation.objects.visible_to(author, _membership(author, workspace))
        result = GenerationFile.objects.filter(pk=ref["file"], generation__in=visible).first()
        if result is None:
            raise InputError("A gallery file used as input is no longer there.")
        return _public_url("f", result.pk, result.filename, workspace, result.file)
    raise InputError("An input is not in a form the studio understands.")


def request_body(generation: Generation) -> dict:
    """What to send upstream for a generation: the catalog's body, inputs turned into URLs, and
    a callback URL when the model takes one and the upstream can reach the studio."""
    spec = catalog.get(generation.model_slug)
    params = dict(generation.params)
    for param in spec.params:
        value = params.get(param.name)
        if value in (None, "", []):
            continue
        if param.kind in FILE_KINDS:
            params[param.name] = resolve(value, generation.workspace, generation.user)
        elif param.kind == "image_urls":
            params[param.name] = [
                resolve(item, generation.workspace, generation.user) for item in value
            ]
    body = spec.request_body(params)
    if upstream.offers_callback(spec, generation.workspace):
        path = reverse("callback", args=[generation.code, generation.callback_token])
        body["callback_url"] = settings.STUDIO_PUBLIC_URL + path
    return body
