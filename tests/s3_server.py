"""A real S3-compatible store for the tests: moto's server, in a process of its own.

``s3_endpoint`` starts ``moto_server`` once per test session on a free port (a process of its
own, so a test's memory figures are the app's, not the store's). ``s3_store`` gives a test a
bucket of its own and points ``STORAGES["default"]`` at it, built by the same
``annotator.settings.object_store`` that production uses; the ``STORAGE_*`` variables are
set too, so a worker process started by the test (tests/worker.py) uses the same bucket.
MEDIA_ROOT is an empty directory of the test's, which nothing should write to.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

CREDENTIALS = {"STORAGE_ACCESS_KEY_ID": "testing", "STORAGE_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """``moto_server`` on a free port until the block ends; yields its endpoint URL."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(endpoint, timeout=5)
                break
            except requests.RequestException:  # not listening yet, or slow on a busy machine
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


@dataclass
class Bucket:
    """The test's bucket, read directly with boto3 (not through the app's storage)."""

    client: Any
    name: str
    environ: dict[str, str]

    def keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", ()))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def unfinished_uploads(self) -> list[str]:
        answer = self.client.list_multipart_uploads(Bucket=self.name)
        return [upload["Key"] for upload in answer.get("Uploads", ())]


def use_store(settings, monkeypatch, environ: dict[str, str]) -> None:
    """Point this process's default storage (and its child processes') at ``environ``'s store."""
    from annotator.settings import object_store

    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    settings.STORAGES = {**settings.STORAGES, "default": object_store(environ)}


@pytest.fixture
def s3_store(s3_endpoint, settings, monkeypatch, tmp_path) -> Bucket:
    """A fresh bucket as the default storage, with an empty MEDIA_ROOT nobody may use."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=name)
    environ = {
        "STORAGE_BUCKET": name,
        "STORAGE_ENDPOINT_URL": s3_endpoint,
        "STORAGE_PREFIX": "media",
        "STORAGE_PART_BYTES": str(5 * 1024 * 1024),  # S3's smallest part: many parts sooner
        **CREDENTIALS,
    }
    settings.MEDIA_ROOT = tmp_path / "web-media"
    settings.MEDIA_ROOT.mkdir()
    use_store(settings, monkeypatch, environ)
    return Bucket(client, name, environ)


def files_in(directory: Path) -> list[str]:
    """Every file under ``directory`` (none is what the S3 tests expect of MEDIA_ROOT)."""
    return sorted(
        str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()
    )


os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role lookups in tests
