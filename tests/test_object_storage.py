"""Media in S3-compatible object storage (issue 16), against a real local S3 server (moto in
server mode, over HTTP): results and previews land in the bucket and reach browsers only through
the studio's access checks; the bucket is private; inputs reach the upstream as presigned links
of the store, so uploads work even when the studio itself cannot be reached; the retention sweep
deletes from the bucket."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import uuid

import boto3
import httpx
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from generations import tasks
from generations.models import Generation, State
from studio.settings import s3_storage

pytestmark = pytest.mark.django_db
IMAGEN = {"model": "imagen4-fast", "num_images": "1", "aspect_ratio": "1:1"}
KEYS = {"AWS_ACCESS_KEY_ID": "studio-test", "AWS_SECRET_ACCESS_KEY": "studio-test-secret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the local S3 server (moto) did not start")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(s3_server, settings, monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    name = f"studio-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **_keys())
    s3.create_bucket(Bucket=name)
    settings.STUDIO_S3_BUCKET = name
    settings.STUDIO_S3_ENDPOINT_URL = s3_server
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage(name, s3_server)}
    return s3, name


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": KEYS["AWS_SECRET_ACCESS_KEY"],
    }


def objects(s3, name: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])]


def test_results_live_in_the_bucket_and_reach_browsers_through_the_studio(
    alice_client, upstream, bucket, s3_server, django_capture_on_commit_callbacks
) -> None:
    s3, name = bucket
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/create/imagen-4/", {"token": "s3", "prompt": "a lighthouse", **IMAGEN})
    job = Generation.objects.get()
    assert job.state == State.SUCCEEDED, job.error_message
    result = job.files.get()
    stored = objects(s3, name)
    assert result.file.name in stored
    assert result.preview.name in stored  # its thumbnail too
    assert not any(key.startswith(("/", "var/")) for key in stored)

    body = s3.get_object(Bucket=name, Key=result.file.name)["Body"].read()
    served = alice_client.get(reverse("generation-file", args=[job.code, 0]))
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == body
    part = alice_client.get(reverse("generation-file", args=[job.code, 0]), HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206
    assert len(b"".join(part.streaming_content)) == 100
    # Pages point at the studio, never at the bucket; the bucket answers no one unsigned.
    gallery = alice_client.get("/gallery/").content.decode()
    assert s3_server not in gallery
    assert f"/g/{job.code}/files/0" in gallery
    assert httpx.get(f"{s3_server}/{name}/{result.file.name}").status_code == 403


def test_uploads_reach_the_upstream_as_presigned_links_of_the_store(
    alice_client, upstream, bucket, s3_server, settings, django_capture_on_commit_callbacks
) -> None:
    settings.STUDIO_PUBLIC_URL = ""  # a studio no one can reach: links to it would not do
    page = alice_client.get("/?model=bg-remover").content.decode()
    assert "STUDIO_PUBLIC_URL" not in page  # nothing says uploads cannot work
    image = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(image, "PNG")
    image.seek(0)
    image.name = "photo.png"
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/create/bg-remover/", {"token": "up", "image__upload": image})
    job = Generation.objects.get()
    sent = job.request_body["image"]
    assert sent.startswith(f"{s3_server}/{bucket[1]}/")
    assert "X-Amz-Signature=" in sent
    assert job.state == State.SUCCEEDED, job.error_message  # the sandbox fetched it from there
    assert httpx.get(sent).status_code == 200  # the presigned link opens; the bare one does not
    assert httpx.get(sent.split("?")[0]).status_code == 403


def test_the_retention_sweep_deletes_from_the_bucket(
    alice_client, upstream, bucket, settings, django_capture_on_commit_callbacks
) -> None:
    s3, name = bucket
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/create/imagen-4/", {"token": "gone", "prompt": "a fox", **IMAGEN})
    job = Generation.objects.get()
    result = job.files.get()
    assert default_storage.exists(result.file.name)
    long_ago = timezone.now() - timezone.timedelta(days=settings.STUDIO_DELETED_RETENTION_DAYS + 1)
    Generation.objects.filter(pk=job.pk).update(deleted_at=long_ago)
    tasks.sweep()
    assert result.file.name not in objects(s3, name)
    assert result.preview.name not in objects(s3, name)
